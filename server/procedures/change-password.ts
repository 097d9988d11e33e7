import { and, eq, isNull } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { changePasswordInput, okOutput } from '../../shared/schemas.js';
import { checkAccountPassword } from '../accounts/account-password.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { pageLink } from '../mail/mailer.js';
import { voidLinks } from '../accounts/link-tokens.js';
import { hashNewPassword } from '../passwords/new-password.js';
import { requireRecentAuth } from '../sessions/recent-auth.js';
import { sessionAuthProcedure } from '../trpc.js';
import { findUserById, localeOf } from '../accounts/users.js';

/**
 * `auth.changePassword`: needs the current password (checked and counted as a sign-in is) and a
 * session's token (never an API token); ends every other session (whoever else may have had the old
 * password is signed out), every pending link (a reset, a magic link, an email change an intruder
 * started), and the user's API tokens unless configured otherwise, and tells the owner by mail. An
 * account that has no password (its address was proven against one it did not show) sets one
 * without `currentPassword`, from a session that signed in recently.
 */
export function changePasswordProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(changePasswordInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      const user = await findUserById(kernel.db, ctx.user.id);
      if (!user) throw authError('INVALID_CREDENTIALS');
      if (input.currentPassword !== undefined) {
        if (!(await checkAccountPassword(kernel, ctx, { user, password: input.currentPassword }))) throw authError('INVALID_CREDENTIALS');
      } else {
        if (user.passwordHash !== null) throw authError('INVALID_CREDENTIALS');
        await requireRecentAuth(kernel, ctx, undefined);
      }

      const verifiedHash = user.passwordHash;
      const passwordHash = await hashNewPassword(kernel, ctx.authRequest, { password: input.newPassword, knownWords: [user.email, user.username] });
      // One transaction: the new password and the end of every other session land together, and a
      // sign-in racing with it either commits first (and its session is ended here) or fails.
      await kernel.sessions.revokeAllOf(user.userId, {
        except: ctx.session.id,
        reason: 'password-changed',
        alongWith: async (tx) => {
          const [changed] = await tx
            .update(userTable)
            .set({ passwordHash, updatedAt: new Date(kernel.clock.now()) })
            .where(and(eq(userTable.userId, user.userId), verifiedHash === null ? isNull(userTable.passwordHash) : eq(userTable.passwordHash, verifiedHash)))
            .returning({ userId: userTable.userId });
          if (!changed) throw authError('INVALID_CREDENTIALS');
          await voidLinks(tx, user.userId);
          // Whoever else had the old password keeps no known device either (devices.ts).
          await kernel.devices.forget(tx, user.userId, ctx.authRequest);
        },
      });
      const { email } = user;
      if (email !== null && (await kernel.throttles.mayMail(email))) kernel.mailer.send('passwordChanged', email, { email, sessionsEnded: 'others', resetLink: pageLink(kernel.options.mail.appUrl, kernel.options.mail.paths.resetPassword), locale: localeOf(user) });
      return { ok: true as const };
    });
}
