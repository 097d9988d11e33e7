import { and, eq, isNull } from 'drizzle-orm';
import { linkTokenTable, userTable } from '../../db/schema.js';
import { acceptInviteInput, signedInSchema } from '../../shared/schemas.js';
import { parseToken } from '../../shared/token-format.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { redeemLinkToken } from '../link-tokens.js';
import { isLongEnough } from '../passwords.js';
import { authProcedure } from '../trpc.js';
import { toPublicUser, uniqueViolation } from '../users.js';
import { sessionOrigin } from './session-origin.js';

/**
 * `auth.acceptInvite`: spends the invitation link, sets the password (and the username, if given),
 * confirms the address the link was mailed to, and signs the new user in. The link works once, the
 * newest only, until it expires; a refused call (weak password, taken username) leaves it usable.
 */
export function acceptInviteProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(acceptInviteInput)
    .output(signedInSchema)
    .mutation(async ({ input, ctx }) => {
      if (!isLongEnough(input.password, kernel.options.password.minLength)) throw authError('WEAK_PASSWORD');
      // A token that names no invitation costs no hashing.
      const selector = parseToken('link', input.token)?.selector;
      const [pending] = selector
        ? await kernel.db
            .select({ selector: linkTokenTable.selector })
            .from(linkTokenTable)
            .where(and(eq(linkTokenTable.selector, selector), eq(linkTokenTable.purpose, 'invite')))
        : [];
      if (!pending) throw authError('LINK_INVALID');
      const passwordHash = await kernel.hashing.during(ctx.authRequest, (turn) => turn.hash(input.password));

      let accepted;
      try {
        accepted = await kernel.db.transaction(async (tx) => {
          const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: 'invite', token: input.token });
          if (!redemption.ok) throw authError(redemption.code);
          const { link } = redemption;
          // Only an account still waiting for its invitation, at the address the link was sent to.
          const [user] = await tx
            .update(userTable)
            .set({
              passwordHash,
              confirmed: true,
              ...(input.username !== undefined && { username: input.username }),
              updatedAt: new Date(kernel.clock.now()),
            })
            .where(and(eq(userTable.userId, link.userId), eq(userTable.email, link.email), isNull(userTable.passwordHash)))
            .returning();
          if (!user) throw authError('LINK_INVALID');
          return user;
        });
      } catch (error) {
        if (uniqueViolation(error) === 'username') throw authError('USERNAME_TAKEN');
        throw error;
      }
      await kernel.hashing.succeeded(ctx.authRequest);
      const { tokens } = await kernel.sessions.start(accepted.userId, sessionOrigin(ctx));
      return { user: toPublicUser(accepted), tokens };
    });
}
