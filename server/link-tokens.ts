import { and, eq, inArray, lte } from 'drizzle-orm';
import type { Queryable } from '../db/connect.js';
import { linkTokenTable } from '../db/schema.js';
import type { LinkPurpose } from '../db/schema.js';
import { formatToken, parseToken } from '../shared/token-format.js';
import type { Clock, RandomSource } from './deps.js';
import { generateTokenParts, hashVerifier } from './secrets.js';

/*
 * Tokens mailed in links (`lk_…`). Each is bound to one purpose and one address, works once, and
 * expires. Only the verifier's hash is stored.
 */

export interface MailedLink {
  selector: string;
  token: string;
}

export interface LinkRecord {
  selector: string;
  purpose: LinkPurpose;
  userId: string;
  email: string;
}

export type LinkRedemption = { ok: true; link: LinkRecord } | { ok: false; code: 'LINK_INVALID' | 'LINK_EXPIRED' };

export async function createLinkToken(
  db: Queryable,
  deps: { clock: Clock; random: RandomSource },
  link: { purpose: LinkPurpose; userId: string; email: string; ttlSeconds: number },
): Promise<MailedLink> {
  const parts = generateTokenParts(deps.random);
  const now = deps.clock.now();
  // Expired links of this user are of no use to anyone: clear them while we are here.
  await db.delete(linkTokenTable).where(and(eq(linkTokenTable.userId, link.userId), lte(linkTokenTable.expiresAt, new Date(now))));
  await db.insert(linkTokenTable).values({
    selector: parts.selector,
    purpose: link.purpose,
    userId: link.userId,
    email: link.email,
    verifierHash: hashVerifier(parts.verifier),
    expiresAt: new Date(now + link.ttlSeconds * 1000),
    createdAt: new Date(now),
  });
  return { selector: parts.selector, token: formatToken('link', parts) };
}

/**
 * Spends a link token: run it inside the transaction that acts on it, so the token is gone exactly
 * when the action happened. A second redemption finds nothing.
 */
export async function redeemLinkToken(
  db: Queryable,
  clock: Clock,
  presented: { purpose: LinkPurpose | readonly LinkPurpose[]; token: string },
): Promise<LinkRedemption> {
  const { token } = presented;
  const purposes = typeof presented.purpose === 'string' ? [presented.purpose] : presented.purpose;
  const parts = parseToken('link', token);
  if (!parts) return { ok: false, code: 'LINK_INVALID' };
  const [row] = await db
    .select()
    .from(linkTokenTable)
    .where(and(eq(linkTokenTable.selector, parts.selector), inArray(linkTokenTable.purpose, [...purposes])))
    .for('update');
  if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return { ok: false, code: 'LINK_INVALID' };
  if (row.expiresAt.getTime() <= clock.now()) return { ok: false, code: 'LINK_EXPIRED' };
  await db.delete(linkTokenTable).where(eq(linkTokenTable.selector, row.selector));
  return { ok: true, link: { selector: row.selector, purpose: row.purpose, userId: row.userId, email: row.email } };
}

/** Voids the user's links of `purpose`, so that the one about to be mailed is the only one that works. */
export async function supersedeLinkTokens(db: Queryable, owner: { userId: string; purpose: LinkPurpose }): Promise<void> {
  await db.delete(linkTokenTable).where(and(eq(linkTokenTable.userId, owner.userId), eq(linkTokenTable.purpose, owner.purpose)));
}
