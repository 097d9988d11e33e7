import type { Queryable } from '../db/connect.js';
import type { AuthKernel } from './kernel.js';
import { issueLink } from './link-tokens.js';
import { buildLink } from './mail/mailer.js';

/**
 * Issues a confirmation link for the user's current address; any earlier one stops working. Run
 * inside the transaction that creates or updates the user; `send` mails it once that committed.
 */
export async function prepareConfirmationMail(
  kernel: AuthKernel,
  db: Queryable,
  user: { userId: string; email: string },
): Promise<{ send(): void }> {
  const { options } = kernel;
  const ttlSeconds = options.signup.confirmationLinkTtlSeconds;
  const link = await issueLink(db, kernel, { purpose: 'confirm-email', userId: user.userId, email: user.email, ttlSeconds });
  return {
    send: () =>
      kernel.mailer.send('confirmEmail', user.email, {
        email: user.email,
        link: buildLink(options.mail.appUrl, options.mail.paths.confirmEmail, link.token),
        expiresInHours: Math.round(ttlSeconds / 3600),
      }),
  };
}
