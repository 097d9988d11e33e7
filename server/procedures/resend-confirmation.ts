import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import { prepareConfirmationMailByAddress } from '../accounts/confirmation-mail.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.resendConfirmation`: mails a fresh link to an unconfirmed account. The answer is the same for
 * any address, known, unknown or already confirmed.
 */
export function resendConfirmationProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (kernel.options.signup.emailConfirmation === 'off') return { ok: true as const };
      if (!(await kernel.throttles.admitMailTo(ctx.authRequest, input.email))) return { ok: true as const };
      // After the answer, and the same work whether an unconfirmed account has the address or not.
      kernel.background.run(
        'resendConfirmation',
        async () => (await kernel.db.transaction((tx) => prepareConfirmationMailByAddress(kernel, tx, input.email))).send(),
        ctx.authRequest,
      );
      return { ok: true as const };
    });
}
