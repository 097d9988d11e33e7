import { and, eq, isNull } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import type { AuthKernel } from '../kernel.js';
import { issueLink } from './link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { generateId } from '../tokens/secrets.js';
import { findUserByEmail } from './users.js';

/*
 * Invitations. Inviting an address that has no account creates one without a password, unconfirmed,
 * and mails a link (`lk_…`, purpose `invite`) to set the password; a new invitation to the same
 * address replaces the previous link, so only the newest works. Accepting it (accept-invite.ts) sets
 * the password and confirms the address, which the link proves.
 *
 * An address that already has an account (a password, or a confirmed address) is mailed a notice
 * with no link instead: nothing about that account changes, and the inviter's answer is the same, so
 * an invitation tells nobody which addresses have accounts.
 */

export async function sendInvitation(kernel: AuthKernel, invitation: { email: string; meta?: Record<string, unknown> }): Promise<void> {
  const { email } = invitation;
  if (!(await kernel.throttles.mayMail(email))) return;
  const ttlSeconds = kernel.options.invitations.linkTtlSeconds;
  const outcome = await kernel.db.transaction(async (tx) => {
    const now = new Date(kernel.clock.now());
    // A concurrent invitation of the same address inserts nothing here and finds the other's row.
    await tx
      .insert(userTable)
      .values({ userId: generateId(kernel.random), email, meta: invitation.meta ?? {}, passwordHash: null, insertedAt: now, updatedAt: now })
      .onConflictDoNothing({ target: userTable.email });
    const user = await findUserByEmail(tx, email);
    if (!user) throw new Error('sendInvitation: the invited user is missing');
    if (user.passwordHash !== null || user.confirmed) return { existing: true as const, email: user.email };
    const link = await issueLink(tx, kernel, { purpose: 'invite', userId: user.userId, email: user.email, ttlSeconds });
    return { existing: false as const, email: user.email, token: link.token };
  });
  if (outcome.existing) {
    kernel.mailer.send('inviteExistingAccount', outcome.email, { email: outcome.email });
    return;
  }
  const { appUrl, paths } = kernel.options.mail;
  kernel.mailer.send('invite', outcome.email, {
    email: outcome.email,
    link: buildLink(appUrl, paths.acceptInvite, outcome.token),
    expiresInDays: Math.round(ttlSeconds / 86_400),
  });
}

/**
 * Takes back an invitation not yet accepted: the account it made (no password, address unproven)
 * goes, and its link with it. An address with a real account, or none, is left as it is, so the
 * answer says nothing about either.
 */
export async function revokeInvitation(kernel: AuthKernel, email: string): Promise<void> {
  await kernel.db.delete(userTable).where(and(eq(userTable.email, email), isNull(userTable.passwordHash), eq(userTable.confirmed, false)));
}
