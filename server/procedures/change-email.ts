import { changeEmailInput, okOutput } from '../../shared/schemas.js';
import { checkAccountPassword } from '../accounts/account-password.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { issueLink, voidLinks } from '../accounts/link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { sessionAuthProcedure } from '../trpc.js';
import { findUserByEmail, findUserById, localeOf } from '../accounts/users.js';

/**
 * `auth.changeEmail`: needs the password and a session's token (never an API token). Nothing
 * changes yet: the new address is mailed a link, and the change happens when that link is spent
 * through `auth.confirmEmail`; the old address is told at once. Asking for the address the account
 * already has cancels a pending change. An address that belongs to another account gets no mail and
 * the answer is the same, so the procedure does not tell which addresses have accounts.
 */
export function changeEmailProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(changeEmailInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      const user = await findUserById(kernel.db, ctx.user.id);
      if (!user || !(await checkAccountPassword(kernel, ctx, { user, password: input.password }))) throw authError('INVALID_CREDENTIALS');
      if (input.newEmail === user.email) {
        await voidLinks(kernel.db, user.userId, ['change-email']);
        return { ok: true as const };
      }
      await kernel.throttles.beginMail(ctx.authRequest);

      const ttlSeconds = kernel.options.emailChange.linkTtlSeconds;
      const token = await kernel.db.transaction(async (tx) => {
        if (await findUserByEmail(tx, input.newEmail)) return null;
        return (await issueLink(tx, kernel, { purpose: 'change-email', userId: user.userId, email: input.newEmail, ttlSeconds })).token;
      });
      if (token && (await kernel.throttles.mayMail(input.newEmail))) {
        const { appUrl, paths } = kernel.options.mail;
        kernel.mailer.send('emailChange', input.newEmail, {
          email: input.newEmail,
          link: buildLink(appUrl, paths.confirmEmail, token),
          expiresInHours: Math.round(ttlSeconds / 3600),
          locale: localeOf(user),
        });
      }
      const oldEmail = user.email;
      if (oldEmail !== null && (await kernel.throttles.mayMail(oldEmail))) {
        kernel.mailer.send('emailChangeNotice', oldEmail, { email: oldEmail, newEmail: input.newEmail, locale: localeOf(user) });
      }
      return { ok: true as const };
    });
}
