import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/connect.js';
import { userTable } from '../db/schema.js';
import type { AuthKernel } from './kernel.js';
import { createLinkToken } from './link-tokens.js';
import { buildLink } from './mail/mailer.js';

/**
 * Issues a confirmation link for the user's current address and marks it as the only one that may
 * confirm (`users.confirm_id`): any earlier link stops working. Run inside the transaction that
 * creates or updates the user; `send` mails it once that transaction committed.
 */
export async function prepareConfirmationMail(
  kernel: AuthKernel,
  db: Queryable,
  user: { userId: string; email: string },
): Promise<{ send(): void }> {
  const { options } = kernel;
  const ttlSeconds = options.signup.confirmationLinkTtlSeconds;
  const link = await createLinkToken(db, kernel, { purpose: 'confirm-email', userId: user.userId, email: user.email, ttlSeconds });
  await db.update(userTable).set({ confirmId: link.selector }).where(eq(userTable.userId, user.userId));
  return {
    send: () =>
      kernel.mailer.send('confirmEmail', user.email, {
        email: user.email,
        link: buildLink(options.mail.appUrl, options.mail.paths.confirmEmail, link.token),
        expiresInHours: Math.round(ttlSeconds / 3600),
      }),
  };
}
