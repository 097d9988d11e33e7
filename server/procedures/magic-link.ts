import { emailOnlyInput, magicLinkVerifyInput, okOutput, signedInSchema } from '../../shared/schemas.js';
import { proveAddress } from '../accounts/address-proof.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { mailLinkByAddress } from '../accounts/link-by-address.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure, authT } from '../trpc.js';

/**
 * `auth.magicLink.request` and `auth.magicLink.verify`: sign-in by a link mailed to an account's
 * address. The request answers the same, in the same time, for any address; only an existing
 * account gets a mail (no account is made here: that is `register`). The link works once, for ten
 * minutes at most, and only the newest one does. Opening it spends nothing: the page behind it posts
 * the token to `verify`, so a mail scanner that follows links signs nobody in. Using it proves the
 * address, with what that means for a password set before (address-proof.ts).
 */
export function magicLinkRouter(kernel: AuthKernel) {
  return authT.router({
    request: authProcedure
      .input(emailOnlyInput)
      .output(okOutput)
      .mutation(async ({ input, ctx }) => {
        if (!kernel.options.magicLink.enabled) throw authError('MAGIC_LINK_DISABLED');
        if (!(await kernel.throttles.admitMailTo(ctx.authRequest, input.email))) return { ok: true as const };
        // After the answer, and the same work whether the address has an account or not.
        kernel.background.run('magicLink', () => mailLinkByAddress(kernel, 'magicLink', { email: input.email, ttlSeconds: kernel.options.magicLink.linkTtlSeconds }), ctx.authRequest);
        return { ok: true as const };
      }),

    verify: authProcedure
      .input(magicLinkVerifyInput)
      .use(kernel.linkTokenGuard)
      .output(signedInSchema)
      .mutation(async ({ input, ctx }) => {
        if (!kernel.options.magicLink.enabled) throw authError('MAGIC_LINK_DISABLED');
        admitSignIn(kernel, ctx);
        const user = await proveAddress(kernel, { purpose: 'magic-link', token: input.token, shownPasswordHash: null });
        return signIn(kernel, ctx, { user, method: 'magic-link' });
      }),
  });
}
