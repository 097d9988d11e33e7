import { and, eq, inArray, lte, or, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { linkTokenTable, oauthFlowTable, userTable } from '../../db/schema.js';
import { timestampParam } from '../../db/timestamp-param.js';
import type { LinkPurpose, UserRow } from '../../db/schema.js';
import { formatToken, parseToken } from '../../shared/token-format.js';
import type { Clock, RandomSource } from '../deps.js';
import { generateTokenParts, hashVerifier } from '../tokens/secrets.js';

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

/** The first key of the advisory locks that make one account's issuances wait for each other. */
const ISSUE_LOCK_SPACE = 0x6c6b;


/**
 * The statements that write a link, the same for every caller: the account's superseded links go
 * (and its expired ones while we are here), the link is inserted from the account's row, and the
 * AccessPass columns follow. `account` picks the users row; when it picks none, each statement
 * finds nothing and nothing is written, at the cost of writing. `lockKey` names the account (its
 * id, or the address no account has).
 */
async function writeLink(
  db: Queryable,
  deps: { clock: Clock; random: RandomSource },
  link: { purpose: LinkPurpose; account: SQL | undefined; lockKey: string; email: string; ttlSeconds: number },
): Promise<{ stored: boolean; link: MailedLink }> {
  const parts = generateTokenParts(deps.random);
  const now = deps.clock.now();
  const expiresAt = new Date(now + link.ttlSeconds * 1000);
  // Two issuances for one account at once would each miss the other's uncommitted link when
  // deleting the superseded ones, and both links would work: the later one waits here instead.
  // (A lock on the users row would do, but a spent link locks its row before the user's.)
  await db.execute(sql`SELECT pg_advisory_xact_lock(${ISSUE_LOCK_SPACE}, hashtext(${link.lockKey}))`);
  const owner = db.select({ userId: userTable.userId }).from(userTable).where(link.account);
  await db
    .delete(linkTokenTable)
    .where(and(inArray(linkTokenTable.userId, owner), or(eq(linkTokenTable.purpose, link.purpose), lte(linkTokenTable.expiresAt, new Date(now)))));
  const inserted = await db
    .insert(linkTokenTable)
    .select(
      db
        .select({
          selector: sql<string>`${parts.selector}`.as('selector'),
          purpose: sql<LinkPurpose>`${link.purpose}`.as('purpose'),
          userId: userTable.userId,
          email: sql<string>`${link.email}`.as('email'),
          verifierHash: sql<string>`${hashVerifier(parts.verifier)}`.as('verifier_hash'),
          expiresAt: timestampParam(expiresAt).as('expires_at'),
          createdAt: timestampParam(new Date(now)).as('created_at'),
        })
        .from(userTable)
        .where(link.account),
    )
    .returning({ selector: linkTokenTable.selector });
  const mirrored = mirrorColumns(link.purpose, { selector: parts.selector, expiresAt });
  if (Object.keys(mirrored).length > 0) await db.update(userTable).set(mirrored).where(link.account);
  return { stored: inserted.length > 0, link: { selector: parts.selector, token: formatToken('link', parts) } };
}

/** Issues a link of `purpose` for the account; every earlier link of that purpose stops working. */
export async function issueLink(
  db: Queryable,
  deps: { clock: Clock; random: RandomSource },
  link: { purpose: LinkPurpose; userId: string; email: string; ttlSeconds: number },
): Promise<MailedLink> {
  const account = eq(userTable.userId, link.userId);
  const written = await writeLink(db, deps, { purpose: link.purpose, account, lockKey: link.userId, email: link.email, ttlSeconds: link.ttlSeconds });
  if (!written.stored) throw new Error(`issueLink: no account ${link.userId}`);
  return written.link;
}

/** What a link issued for an address tells about the account that has it. */
export type AddressAccount = Pick<UserRow, 'userId' | 'email' | 'meta'>;

/**
 * Issues a link of `purpose` for the account that has `address` (of accounts not yet confirmed,
 * given `among: 'unconfirmed'`), if one has, with the same statements whether or not one has: on
 * PGlite they run on the request thread after the answer, and a request sent right then would
 * otherwise take longer for an address with an account. Returns that account, or null, and the
 * link's token, which is stored only when there is an account (the caller renders its mail either
 * way, and sends it only then).
 */
export async function issueLinkByAddress(
  db: Queryable,
  deps: { clock: Clock; random: RandomSource },
  link: { purpose: LinkPurpose; address: string; ttlSeconds: number; among?: 'accounts' | 'unconfirmed' },
): Promise<{ account: AddressAccount | null; token: string }> {
  const hasAddress = eq(userTable.email, link.address);
  const account = link.among === 'unconfirmed' ? and(hasAddress, eq(userTable.confirmed, false)) : hasAddress;
  const [found] = await db.select({ userId: userTable.userId, email: userTable.email, meta: userTable.meta }).from(userTable).where(account);
  const lockKey = found?.userId ?? link.address;
  const written = await writeLink(db, deps, { purpose: link.purpose, account, lockKey, email: link.address, ttlSeconds: link.ttlSeconds });
  // Both or neither: an address that changed hands between the statements gets no mail.
  return { account: written.stored && found ? found : null, token: written.link.token };
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

/**
 * Voids the account's pending links of `purposes` (by default `ACCOUNT_LINKS`). An `oauth.link` flow
 * under way is a pending way in as a reset link is: whatever voids the reset links (a new password,
 * signing out everywhere, a proven address, a disable) voids it too, so a thief who started one with
 * a stolen token cannot finish it after the owner's remedy.
 */
export async function voidLinks(db: Queryable, userId: string, purposes: readonly LinkPurpose[] = ACCOUNT_LINKS): Promise<void> {
  await db.delete(linkTokenTable).where(and(eq(linkTokenTable.userId, userId), inArray(linkTokenTable.purpose, [...purposes])));
  if (purposes.includes('reset-password')) await db.delete(oauthFlowTable).where(eq(oauthFlowTable.linkUserId, userId));
  const mirrored = Object.assign({}, ...purposes.map((purpose) => mirrorColumns(purpose, null))) as Partial<UserRow>;
  if (Object.keys(mirrored).length > 0) await db.update(userTable).set(mirrored).where(eq(userTable.userId, userId));
}
