import type { AuthKernel } from '../kernel.js';
import { buildLink } from '../mail/mailer.js';
import { issueLinkByAddress } from './link-tokens.js';
import { localeOf } from './users.js';

/** The mailed links that go to whatever account an address has: a password reset, a sign-in link. */
const LINKS_BY_ADDRESS = {
  resetPassword: { purpose: 'reset-password', path: 'resetPassword' },
  magicLink: { purpose: 'magic-link', path: 'magicLink' },
} as const;

/**
 * Issues a link of `kind` for the account at `email` and mails it; for an address with no account
 * it renders the same mail and sends nothing, so both cost the same work (the answer went out before).
 */
export async function mailLinkByAddress(kernel: AuthKernel, kind: keyof typeof LINKS_BY_ADDRESS, link: { email: string; ttlSeconds: number }): Promise<void> {
  const { purpose, path } = LINKS_BY_ADDRESS[kind];
  const { email, ttlSeconds } = link;
  const { account, token } = await kernel.db.transaction((tx) => issueLinkByAddress(tx, kernel, { purpose, address: email, ttlSeconds }));
  const { appUrl, paths } = kernel.options.mail;
  const mail = { email, link: buildLink(appUrl, paths[path], token), expiresInMinutes: Math.round(ttlSeconds / 60), locale: account ? localeOf(account) : undefined };
  if (account) kernel.mailer.send(kind, email, mail);
  else kernel.mailer.rehearse(kind, mail);
}
