import { and, eq, inArray, lte, or } from 'drizzle-orm';
import type { Queryable } from '../db/connect.js';
import { linkTokenTable, userTable } from '../db/schema.js';
import type { LinkPurpose, UserRow } from '../db/schema.js';
import { formatToken, parseToken } from '../shared/token-format.js';
import type { Clock, RandomSource } from './deps.js';
import { generateTokenParts, hashVerifier } from './secrets.js';

/*
 * Mailed links (`lk_…`), the one mechanism behind every link the kit sends. A link is bound to one
 * purpose, one account and one address; it works once and expires; only its verifier's hash is
 * stored. Four verbs, and nothing else writes the table:
 *   - issue: a new link of a purpose supersedes every older one of that purpose for the account, so
 *     only the newest works;
 *   - find: whose a link is, without spending it (to choose a path, or to refuse before hashing);
 *   - spend: inside the transaction that acts on it, so the link is gone exactly when the action
 *     happened; it also finds the owner, locked, and refuses a link whose address is no longer the
 *     account's (an email change, or a link for the new address, which is its own case);
 *   - void: a credential change ends every pending link of the account.
 * The AccessPass columns of the users table (`confirm_id`, `password_reset_key`,
 * `password_reset_expire`) mirror the newest confirmation and reset link; they are written here
 * alongside and decide nothing.
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

export type SpentLink = { ok: true; link: LinkRecord; user: UserRow } | { ok: false; code: 'LINK_INVALID' | 'LINK_EXPIRED' };

/**
 * The links a credential change or "sign out everywhere" voids: each would let its holder into the
 * account or take its address. (A confirmation link only proves the address; an invitation's
 * account has no credential yet.)
 */
export const ACCOUNT_LINKS: readonly LinkPurpose[] = ['reset-password', 'magic-link', 'change-email'];

/** The AccessPass columns that mirror a purpose's newest link, set or cleared. */
function mirrorColumns(purpose: LinkPurpose, newest: { selector: string; expiresAt: Date } | null): Partial<UserRow> {
  if (purpose === 'confirm-email') return { confirmId: newest?.selector ?? null };
  if (purpose === 'reset-password') return { passwordResetKey: newest?.selector ?? null, passwordResetExpire: newest?.expiresAt ?? null };
  return {};
}

/** Issues a link of `purpose` for the account; every earlier link of that purpose stops working. */
export async function issueLink(
  db: Queryable,
  deps: { clock: Clock; random: RandomSource },
  link: { purpose: LinkPurpose; userId: string; email: string; ttlSeconds: number },
): Promise<MailedLink> {
  const parts = generateTokenParts(deps.random);
  const now = deps.clock.now();
  const expiresAt = new Date(now + link.ttlSeconds * 1000);
  // The superseded links of this purpose, and any expired link of the user while we are here.
  await db
    .delete(linkTokenTable)
    .where(and(eq(linkTokenTable.userId, link.userId), or(eq(linkTokenTable.purpose, link.purpose), lte(linkTokenTable.expiresAt, new Date(now)))));
  await db.insert(linkTokenTable).values({
    selector: parts.selector,
    purpose: link.purpose,
    userId: link.userId,
    email: link.email,
    verifierHash: hashVerifier(parts.verifier),
    expiresAt,
    createdAt: new Date(now),
  });
  const mirrored = mirrorColumns(link.purpose, { selector: parts.selector, expiresAt });
  if (Object.keys(mirrored).length > 0) await db.update(userTable).set(mirrored).where(eq(userTable.userId, link.userId));
  return { selector: parts.selector, token: formatToken('link', parts) };
}

/** Whose link `token` is and for what, when it names a pending link of one of `purposes`; nothing is spent or checked beyond that. */
export async function findLinkOwner(
  db: Queryable,
  token: string,
  purposes: readonly LinkPurpose[],
): Promise<{ userId: string; purpose: LinkPurpose; email: string } | null> {
  const selector = parseToken('link', token)?.selector;
  if (!selector) return null;
  const [link] = await db
    .select({ userId: linkTokenTable.userId, purpose: linkTokenTable.purpose, email: linkTokenTable.email })
    .from(linkTokenTable)
    .where(and(eq(linkTokenTable.selector, selector), inArray(linkTokenTable.purpose, [...purposes])));
  return link ?? null;
}

/**
 * Spends a link of `purpose`: run it inside the transaction that acts on it. Returns the link and
 * its owner's row, locked for the rest of the transaction. A link for an address the account no
 * longer has is refused, except an email change's, whose address is the one to come.
 */
export async function spendLink(db: Queryable, clock: Clock, presented: { purpose: LinkPurpose; token: string }): Promise<SpentLink> {
  const parts = parseToken('link', presented.token);
  if (!parts) return { ok: false, code: 'LINK_INVALID' };
  const [row] = await db
    .select()
    .from(linkTokenTable)
    .where(and(eq(linkTokenTable.selector, parts.selector), eq(linkTokenTable.purpose, presented.purpose)))
    .for('update');
  if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return { ok: false, code: 'LINK_INVALID' };
  if (row.expiresAt.getTime() <= clock.now()) return { ok: false, code: 'LINK_EXPIRED' };
  await db.delete(linkTokenTable).where(eq(linkTokenTable.selector, row.selector));
  const [user] = await db.select().from(userTable).where(eq(userTable.userId, row.userId)).for('update');
  if (!user || (row.purpose !== 'change-email' && user.email !== row.email)) return { ok: false, code: 'LINK_INVALID' };
  const mirrored = mirrorColumns(row.purpose, null);
  if (Object.keys(mirrored).length > 0) await db.update(userTable).set(mirrored).where(eq(userTable.userId, row.userId));
  return { ok: true, link: { selector: row.selector, purpose: row.purpose, userId: row.userId, email: row.email }, user: { ...user, ...mirrored } };
}

/** Voids the account's pending links of `purposes` (by default `ACCOUNT_LINKS`). */
export async function voidLinks(db: Queryable, userId: string, purposes: readonly LinkPurpose[] = ACCOUNT_LINKS): Promise<void> {
  await db.delete(linkTokenTable).where(and(eq(linkTokenTable.userId, userId), inArray(linkTokenTable.purpose, [...purposes])));
  const mirrored = Object.assign({}, ...purposes.map((purpose) => mirrorColumns(purpose, null))) as Partial<UserRow>;
  if (Object.keys(mirrored).length > 0) await db.update(userTable).set(mirrored).where(eq(userTable.userId, userId));
}
