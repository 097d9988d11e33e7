import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { mailLinkByAddress } from '../accounts/link-by-address.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.forgotPassword`: mails a reset link to the account at this address. The answer is the same
 * for any address, and nothing about the account changes until the link is used; a new request
 * makes the earlier link useless.
 */
export function forgotPasswordProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (!(await kernel.throttles.admitMailTo(ctx.authRequest, input.email))) return { ok: true as const };
      // After the answer, and the same work whether the address has an account or not.
      kernel.background.run('forgotPassword', () => mailLinkByAddress(kernel, 'resetPassword', { email: input.email, ttlSeconds: kernel.options.passwordReset.linkTtlSeconds }), ctx.authRequest);
      return { ok: true as const };
    });
}
