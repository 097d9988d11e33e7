import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { acceptInviteInput, signedInSchema } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { findLinkOwner, spendLink } from '../accounts/link-tokens.js';
import { hashNewPassword } from '../passwords/new-password.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure } from '../trpc.js';
import { uniqueViolation } from '../accounts/users.js';

/**
 * `auth.acceptInvite`: spends the invitation link, sets the password (and the username, if given),
 * confirms the address the link was mailed to, and signs the new user in. The link works once, the
 * newest only, until it expires; a refused call (weak password, taken username) leaves it usable.
 */
export function acceptInviteProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(acceptInviteInput)
    .use(kernel.linkTokenGuard)
    .output(signedInSchema)
    .mutation(async ({ input, ctx }) => {
      admitSignIn(kernel, ctx);
      // A token that names no invitation costs no hashing.
      const invitation = await findLinkOwner(kernel.db, input.token, ['invite']);
      if (!invitation) throw authError('LINK_INVALID');
      const passwordHash = await hashNewPassword(kernel, ctx.authRequest, { password: input.password, knownWords: [invitation.email, input.username] });

      let accepted;
      try {
        accepted = await kernel.db.transaction(async (tx) => {
          const spent = await spendLink(tx, kernel.clock, { purpose: 'invite', token: input.token });
          if (!spent.ok) throw authError(spent.code);
          // Only an account still waiting for its invitation.
          if (spent.user.passwordHash !== null) throw authError('LINK_INVALID');
          const [user] = await tx
            .update(userTable)
            .set({
              passwordHash,
              confirmed: true,
              ...(input.username !== undefined && { username: input.username }),
              updatedAt: new Date(kernel.clock.now()),
            })
            .where(eq(userTable.userId, spent.user.userId))
            .returning();
          if (!user) throw authError('LINK_INVALID');
          return user;
        });
      } catch (error) {
        if (uniqueViolation(error) === 'username') throw authError('USERNAME_TAKEN');
        throw error;
      }
      await kernel.hashing.succeeded(ctx.authRequest);
      return signIn(kernel, ctx, { user: accepted, method: 'invite' });
    });
}
