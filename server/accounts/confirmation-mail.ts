import type { Queryable } from '../../db/connect.js';
import type { AuthKernel } from '../kernel.js';
import { issueLink, issueLinkByAddress } from './link-tokens.js';
import { buildLink } from '../mail/mailer.js';

/** The confirmation mail's data, for a link token. */
function confirmationMail(kernel: AuthKernel, email: string, token: string) {
  const { options } = kernel;
  return {
    email,
    link: buildLink(options.mail.appUrl, options.mail.paths.confirmEmail, token),
    expiresInHours: Math.round(options.signup.confirmationLinkTtlSeconds / 3600),
  };
}

/**
 * Issues a confirmation link for the user's current address; any earlier one stops working. Run
 * inside the transaction that creates or updates the user; `send` mails it once that committed.
 */
export async function prepareConfirmationMail(
  kernel: AuthKernel,
  db: Queryable,
  user: { userId: string; email: string },
): Promise<{ send(): void }> {
  const ttlSeconds = kernel.options.signup.confirmationLinkTtlSeconds;
  const link = await issueLink(db, kernel, { purpose: 'confirm-email', userId: user.userId, email: user.email, ttlSeconds });
  return { send: () => kernel.mailer.send('confirmEmail', user.email, confirmationMail(kernel, user.email, link.token)) };
}

/**
 * Issues a confirmation link for the unconfirmed account that has `address`, with the same
 * statements whether or not one has (link-tokens.ts). `send`, once the transaction committed, mails
 * it, or where no unconfirmed account has the address renders the mail and sends nothing, so that
 * both cost the same.
 */
export async function prepareConfirmationMailByAddress(kernel: AuthKernel, db: Queryable, address: string): Promise<{ send(): void }> {
  const ttlSeconds = kernel.options.signup.confirmationLinkTtlSeconds;
  const { account, token } = await issueLinkByAddress(db, kernel, { purpose: 'confirm-email', address, ttlSeconds, among: 'unconfirmed' });
  const mail = confirmationMail(kernel, address, token);
  return { send: () => (account ? kernel.mailer.send('confirmEmail', address, mail) : kernel.mailer.rehearse('confirmEmail', mail)) };
}
