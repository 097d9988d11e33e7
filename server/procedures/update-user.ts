import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { publicUserSchema, updateUserInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { requireScopes } from '../tokens/scopes.js';
import { protectedAuthProcedure } from '../trpc.js';
import { toPublicUser, uniqueViolation } from '../accounts/users.js';
import { refuseAnonymous } from '../anonymous/anonymous-users.js';

/**
 * `auth.updateUser`: changes the username and/or replaces `meta`; returns the user as it now is. An
 * API token needs the `user:write` scope. An anonymous account keeps `meta` only: a username is a
 * name all accounts share, and accounts any client can make by the dozen must not claim them
 * (`ANONYMOUS_NOT_ALLOWED`), nor gain an identifier to sign in with before they are upgraded.
 */
export function updateUserProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel)
    .use(requireScopes('user:write'))
    .input(updateUserInput)
    .output(publicUserSchema)
    .mutation(async ({ input, ctx }) => {
      if (input.username !== undefined) await refuseAnonymous(kernel.db, ctx.user.id);
      let user;
      try {
        [user] = await kernel.db
          .update(userTable)
          .set({ ...input, updatedAt: new Date(kernel.clock.now()) })
          .where(eq(userTable.userId, ctx.user.id))
          .returning();
      } catch (error) {
        if (uniqueViolation(error) === 'username') throw authError('USERNAME_TAKEN');
        throw error;
      }
      if (!user) throw authError('TOKEN_REVOKED');
      return toPublicUser(user);
    });
}
