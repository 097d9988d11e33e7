import { and, eq } from 'drizzle-orm';
import { linkTokenTable, userTable } from '../../db/schema.js';
import { okOutput, resetPasswordInput } from '../../shared/schemas.js';
import { parseToken } from '../../shared/token-format.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { redeemLinkToken } from '../link-tokens.js';
import { isLongEnough } from '../passwords.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.resetPassword`: spends the mailed link and sets the new password. Every session of the user
 * ends, an intruder's included, and no tokens are handed out: the user signs in afresh. Using the
 * link also proves the address, so an unconfirmed one counts as confirmed.
 */
export function resetPasswordProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(resetPasswordInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (!isLongEnough(input.password, kernel.options.password.minLength)) throw authError('WEAK_PASSWORD');
      const selector = parseToken('link', input.token)?.selector;
      const [owner] = selector
        ? await kernel.db
            .select({ userId: linkTokenTable.userId })
            .from(linkTokenTable)
            .where(and(eq(linkTokenTable.selector, selector), eq(linkTokenTable.purpose, 'reset-password')))
        : [];
      if (!owner) throw authError('LINK_INVALID');
      const passwordHash = await kernel.hashing.during(ctx.authRequest, (turn) => turn.hash(input.password));

      let email = '';
      // One transaction: the link is spent, the password set and every session ended, or none of it.
      await kernel.sessions.revokeAllOf(owner.userId, {
        reason: 'password-reset',
        alongWith: async (tx) => {
          const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: 'reset-password', token: input.token });
          if (!redemption.ok) throw authError(redemption.code);
          const { link } = redemption;
          // Only the newest link, for the address the account has now.
          const [user] = await tx
            .update(userTable)
            .set({ passwordHash, passwordResetKey: null, passwordResetExpire: null, confirmed: true, updatedAt: new Date(kernel.clock.now()) })
            .where(and(eq(userTable.userId, link.userId), eq(userTable.passwordResetKey, link.selector), eq(userTable.email, link.email)))
            .returning({ email: userTable.email });
          if (!user) throw authError('LINK_INVALID');
          email = user.email;
        },
      });
      await Promise.all([kernel.throttles.accountRecovered(owner.userId), kernel.hashing.succeeded(ctx.authRequest)]);
      kernel.mailer.send('passwordChanged', email, { email });
      return { ok: true as const };
    });
}
