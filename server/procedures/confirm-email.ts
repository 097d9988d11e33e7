import { and, eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { confirmEmailInput, signedInSchema } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { redeemLinkToken } from '../link-tokens.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, toPublicUser } from '../users.js';
import { sessionOrigin } from './session-origin.js';

/**
 * `auth.confirmEmail`: spends the mailed token and signs the user in. Only the newest link sent to
 * the user's current address confirms it; the token is gone once used. The link of an email change
 * (mailed to the new address) lands here too, and makes that address the account's.
 */
export function confirmEmailProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(confirmEmailInput)
    .output(signedInSchema)
    .mutation(async ({ input, ctx }) => {
      kernel.refreshCookie.admit(ctx.authRequest);
      const confirmed = await kernel.db.transaction(async (tx) => {
        const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: ['confirm-email', 'change-email'], token: input.token });
        if (!redemption.ok) throw authError(redemption.code);
        const { link } = redemption;
        const now = new Date(kernel.clock.now());
        if (link.purpose === 'change-email') {
          // The new address proved itself: it becomes the account's. Taken meanwhile by another
          // account, the link is worth nothing.
          if (await findUserByEmail(tx, link.email)) throw authError('LINK_INVALID');
          const [user] = await tx
            .update(userTable)
            .set({ email: link.email, confirmed: true, confirmId: null, updatedAt: now })
            .where(eq(userTable.userId, link.userId))
            .returning();
          if (!user) throw authError('LINK_INVALID');
          return user;
        }
        // The link must be the user's newest, for the address the user has now.
        const [user] = await tx
          .update(userTable)
          .set({ confirmed: true, confirmId: null, updatedAt: now })
          .where(and(eq(userTable.userId, link.userId), eq(userTable.confirmId, link.selector), eq(userTable.email, link.email)))
          .returning();
        if (!user) throw authError('LINK_INVALID');
        return user;
      });
      const { tokens } = await kernel.sessions.start(confirmed.userId, sessionOrigin(ctx));
      return { user: toPublicUser(confirmed), tokens: kernel.refreshCookie.deliver(ctx.authRequest, tokens) };
    });
}
