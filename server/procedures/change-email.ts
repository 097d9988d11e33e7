import { changeEmailInput, okOutput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { createLinkToken, supersedeLinkTokens } from '../link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { sessionAuthProcedure } from '../trpc.js';
import { findUserByEmail, findUserById, localeOf } from '../users.js';

/**
 * `auth.changeEmail`: needs the password and a session's token (never an API token). Nothing
 * changes yet: the new address is mailed a link,
 * and the change happens when that link is spent through `auth.confirmEmail`; the old address is
 * told at once. An address that belongs to another account gets no mail and the answer is the
 * same, so the procedure does not tell which addresses have accounts.
 */
export function changeEmailProcedure(kernel: AuthKernel) {
  return sessionAuthProcedure(kernel)
    .input(changeEmailInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      const user = await kernel.hashing.during(ctx.authRequest, async (turn) => {
        const found = await findUserById(kernel.db, ctx.user.id);
        // Guessing the password here counts against the account, as at sign-in.
        const { locked } = await kernel.throttles.countAccountAttempt(ctx.user.id);
        const check = await turn.verify(locked ? null : (found?.passwordHash ?? null), input.password);
        if (locked || !found || !check.valid) throw authError('INVALID_CREDENTIALS');
        await Promise.all([kernel.throttles.signInSucceeded(ctx.authRequest, ctx.user.id), kernel.hashing.succeeded(ctx.authRequest)]);
        return found;
      });
      if (input.newEmail === user.email) return { ok: true as const };

      const ttlSeconds = kernel.options.emailChange.linkTtlSeconds;
      const token = await kernel.db.transaction(async (tx) => {
        if (await findUserByEmail(tx, input.newEmail)) return null;
        await supersedeLinkTokens(tx, { userId: user.userId, purpose: 'change-email' });
        return (await createLinkToken(tx, kernel, { purpose: 'change-email', userId: user.userId, email: input.newEmail, ttlSeconds })).token;
      });
      if (token) {
        const { appUrl, paths } = kernel.options.mail;
        kernel.mailer.send('emailChange', input.newEmail, {
          email: input.newEmail,
          link: buildLink(appUrl, paths.confirmEmail, token),
          expiresInHours: Math.round(ttlSeconds / 3600),
          locale: localeOf(user),
        });
      }
      kernel.mailer.send('emailChangeNotice', user.email, { email: user.email, newEmail: input.newEmail, locale: localeOf(user) });
      return { ok: true as const };
    });
}
