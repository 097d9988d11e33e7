import { logoutInput, okOutput } from '../../shared/schemas.js';
import type { AuthErrorCode } from '../../shared/errors.js';
import type { Authenticated } from '../middleware/bearer.js';
import { AuthError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { voidLinks } from '../accounts/link-tokens.js';
import { isRecentlyAuthenticated, requireRecentAuth } from '../sessions/recent-auth.js';
import { insufficientScope } from '../tokens/scopes.js';
import { authProcedure } from '../trpc.js';

/** What a token whose session has already ended is refused with: signing out of it again is done. */
const ALREADY_ENDED: ReadonlySet<AuthErrorCode> = new Set(['TOKEN_REVOKED', 'TOKEN_EXPIRED', 'TOKEN_INVALID']);

/**
 * `auth.logout`: ends this session (`current`, the default), every other one (`others`), or
 * everything (`all`): every session, every API token and every pending link of the account (and,
 * with a recent authentication, every known device), the remedy of an owner who fears someone else got in. Their tokens stop working before the call
 * returns. Ending the others while staying signed in needs a recent authentication (a thief holding
 * one token must not be able to sign the owner out and stay). Called with an API token, `current`
 * revokes that token, and the other scopes are refused: a script cannot sign its user out. It is
 * idempotent: a token whose session already ended (a second logout, a lost answer retried) gets the
 * same `{ ok: true }`, and the cookie is cleared again; only a call with no token at all is a 401.
 */
export function logoutProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(logoutInput)
    .output(okOutput)
    .mutation(async ({ input, ctx: request }) => {
      let caller: Authenticated;
      try {
        caller = await kernel.authenticate(request.authRequest);
      } catch (error) {
        if (!(error instanceof AuthError) || !ALREADY_ENDED.has(error.authCode)) throw error;
        kernel.refreshCookie.clear(request.authRequest);
        return { ok: true as const };
      }
      const ctx = { ...request, ...caller };
      const scope = input?.scope ?? 'current';
      const userId = ctx.user.id;
      if (ctx.session.scopes !== null) {
        if (scope !== 'current') throw insufficientScope(ctx.authRequest, []);
        await kernel.apiTokens.revoke(userId, ctx.session.id);
        return { ok: true as const };
      }
      if (scope === 'current') await kernel.sessions.revoke(userId, ctx.session.id, 'logout');
      else if (scope === 'others') {
        await requireRecentAuth(kernel, ctx, input?.password);
        await kernel.sessions.revokeAllOf(userId, { except: ctx.session.id, reason: 'logout' });
      } else {
        // Forgetting the known devices leaves the owner a stranger to the lockout, which strangers'
        // failures can close (lockout.ts): a thief holding one old token must not be able to arrange
        // that, so only a recent authentication forgets them, the caller's browser too. A device is
        // known only by a sign-in that proved the password, and the remedies of a known password
        // (changePassword, resetPassword) forget the devices anyway.
        const forgetDevices = await isRecentlyAuthenticated(kernel, ctx, input?.password);
        await kernel.sessions.revokeAllOf(userId, {
          reason: 'logout-everywhere',
          alongWith: async (tx) => {
            await voidLinks(tx, userId);
            if (forgetDevices) await kernel.devices.forget(tx, userId, null);
          },
        });
      }
      if (scope !== 'others') kernel.refreshCookie.clear(ctx.authRequest);
      return { ok: true as const };
    });
}
