import { and, eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { changePasswordInput, okOutput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { isLongEnough } from '../passwords.js';
import { sessionAuthProcedure } from '../trpc.js';
import { findUserById, localeOf } from '../users.js';

/**
 * `auth.changePassword`: needs the current password and a session's token (never an API token);
 * ends every other session (whoever else may have had the old password is signed out), and the
 * user's API tokens unless configured otherwise, and tells the owner by mail.
 */
export function changePasswordProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(changePasswordInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (!isLongEnough(input.newPassword, kernel.options.password.minLength)) throw authError('WEAK_PASSWORD');
      const { user, passwordHash } = await kernel.hashing.during(ctx.authRequest, async (turn) => {
        const found = await findUserById(kernel.db, ctx.user.id);
        const check = await turn.verify(found?.passwordHash ?? null, input.currentPassword);
        if (!found || !check.valid) throw authError('INVALID_CREDENTIALS');
        await kernel.hashing.succeeded(ctx.authRequest);
        return { user: found, passwordHash: await turn.hash(input.newPassword) };
      });

      const verifiedHash = user.passwordHash as string;
      // One transaction: the new password and the end of every other session land together, and a
      // sign-in racing with it either commits first (and its session is ended here) or fails.
      await kernel.sessions.revokeAllOf(user.userId, {
        except: ctx.session.id,
        reason: 'password-changed',
        alongWith: async (tx) => {
          const [changed] = await tx
            .update(userTable)
            .set({ passwordHash, updatedAt: new Date(kernel.clock.now()) })
            .where(and(eq(userTable.userId, user.userId), eq(userTable.passwordHash, verifiedHash)))
            .returning({ userId: userTable.userId });
          if (!changed) throw authError('INVALID_CREDENTIALS');
        },
      });
      kernel.mailer.send('passwordChanged', user.email, { email: user.email, locale: localeOf(user) });
      return { ok: true as const };
    });
}
