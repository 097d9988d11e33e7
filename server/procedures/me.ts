import { publicUserSchema } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { protectedAuthProcedure } from '../trpc.js';
import { findUserById, toPublicUser } from '../accounts/users.js';

/** `auth.me`: the signed-in user. */
export function meProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel)
    .output(publicUserSchema)
    .query(async ({ ctx }) => {
      const user = await findUserById(kernel.db, ctx.user.id);
      // The account was deleted while this access token was still live.
      if (!user) throw authError('TOKEN_REVOKED');
      return toPublicUser(user);
    });
}
