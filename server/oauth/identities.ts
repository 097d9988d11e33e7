import { and, asc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { oauthIdentityTable, userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import { lockActiveUser } from '../accounts/account-status.js';
import { voidLinks } from '../accounts/link-tokens.js';
import { findUserByEmail, findUserById, localeOf } from '../accounts/users.js';
import { endAnonymity } from '../anonymous/anonymous-users.js';
import type { Revocation } from '../cache/revocation-notice.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { generateId } from '../tokens/secrets.js';
import type { ProviderProfile } from './profiles.js';

/*
 * Identities are (issuer, subject): two providers that both say `sub=123` are two identities, and an
 * address changed at the provider moves nothing. Which account an identity signs in to:
 *
 *  1. the account that holds it;
 *  2. else, with `oauth.linkByEmail` on and an address the provider vouches for, the account with
 *     that address: joined at once when its address is confirmed; when it is not, whoever signed up
 *     with it never proved it, so it is proven now, as a mailed link proves it (address-proof.ts):
 *     its password stops working and every session, API token, device and link it had ends;
 *  3. else, when no account has the address, a new account, its address confirmed (sign-up allowed,
 *     and an address the provider vouches for: anyone can claim one it does not);
 *  4. an address some account has that the rules above do not let the identity join is refused
 *     (`OAUTH_EMAIL_IN_USE`): its owner signs in and links the provider (`oauth.link`).
 */

/** An identity the provider just proved, under the name the options give the provider. */
export interface ProvenIdentity extends ProviderProfile {
  provider: string;
  issuer: string;
}

/** The identities an account holds, oldest first. */
export async function listIdentities(db: Queryable, userId: string) {
  return db
    .select({
      provider: oauthIdentityTable.provider,
      issuer: oauthIdentityTable.issuer,
      subject: oauthIdentityTable.subject,
      email: oauthIdentityTable.email,
      linkedAt: oauthIdentityTable.linkedAt,
    })
    .from(oauthIdentityTable)
    .where(eq(oauthIdentityTable.userId, userId))
    .orderBy(asc(oauthIdentityTable.linkedAt));
}

async function holderOf(tx: Queryable, identity: ProvenIdentity): Promise<string | null> {
  const [row] = await tx
    .select({ userId: oauthIdentityTable.userId })
    .from(oauthIdentityTable)
    .where(and(eq(oauthIdentityTable.issuer, identity.issuer), eq(oauthIdentityTable.subject, identity.subject)))
    .for('update');
  return row?.userId ?? null;
}

async function link(tx: Queryable, identity: ProvenIdentity, to: { userId: string; at: Date }): Promise<void> {
  const { userId, at: now } = to;
  await tx
    .insert(oauthIdentityTable)
    .values({ issuer: identity.issuer, subject: identity.subject, userId, provider: identity.provider, email: identity.email, linkedAt: now, lastSignedInAt: now })
    .onConflictDoUpdate({ target: [oauthIdentityTable.issuer, oauthIdentityTable.subject], set: { email: identity.email, lastSignedInAt: now } });
}

/**
 * The account an identity is about to join or sign in to, its row locked against a disable. A
 * disabled account is answered as a sign-in to it is, before anything is written: an identity linked
 * to it now would be a way in again the moment it is enabled.
 */
async function requireActiveUser(tx: Queryable, userId: string): Promise<UserRow> {
  const user = (await lockActiveUser(tx, userId)) ? await findUserById(tx, userId) : undefined;
  if (!user) throw authError('INVALID_CREDENTIALS');
  return user;
}

/** Records a new identity on the account in the audit trail, and tells the owner: it is a new way in. */
async function announceLinked(kernel: AuthKernel, user: UserRow, provider: string): Promise<void> {
  kernel.audit.emit({ type: 'oauth-linked', userId: user.userId, sessionId: null, provider });
  // An anonymous account has no address to tell.
  const { email } = user;
  if (email !== null && (await kernel.throttles.mayMail(email))) kernel.mailer.send('identityLinked', email, { email, provider, locale: localeOf(user) });
}

/**
 * Rule 1 for a returning user of an account that is not disabled, in two statements and no
 * transaction: the update notes the sign-in; null when no such account holds the identity (the
 * transaction below then decides, and answers a disabled account before writing anything). Nothing
 * new is linked here, and the sign-in itself checks the account again in its own transaction.
 */
async function heldActiveAccount(db: Queryable, identity: ProvenIdentity, now: Date): Promise<UserRow | null> {
  const active = db.select({ userId: userTable.userId }).from(userTable).where(isNull(userTable.disabledAt));
  const [held] = await db
    .update(oauthIdentityTable)
    .set({ email: identity.email, lastSignedInAt: now })
    .where(and(eq(oauthIdentityTable.issuer, identity.issuer), eq(oauthIdentityTable.subject, identity.subject), inArray(oauthIdentityTable.userId, active)))
    .returning({ userId: oauthIdentityTable.userId });
  return held ? findUserById(db, held.userId) : null;
}

/** Proves the unconfirmed address of `user` for the identity's owner (rule 2): see address-proof.ts. */
async function proveUnconfirmed(kernel: AuthKernel, tx: Queryable, user: UserRow): Promise<{ user: UserRow; revocations: Revocation[] }> {
  const now = new Date(kernel.clock.now());
  const [proven] = await tx.update(userTable).set({ confirmed: true, passwordHash: null, updatedAt: now }).where(eq(userTable.userId, user.userId)).returning();
  if (!proven) throw authError('OAUTH_FAILED');
  await voidLinks(tx, user.userId);
  await kernel.devices.forget(tx, user.userId, null);
  const revocations = await kernel.sessions.revokeAllWithin(tx, user.userId, { reason: 'address-proven' });
  return { user: proven, revocations };
}

/** The account the identity signs in to, by the rules above, made or joined in one transaction. */
export async function accountForIdentity(kernel: AuthKernel, identity: ProvenIdentity): Promise<UserRow> {
  const { allowSignUp, linkByEmail } = kernel.options.oauth;
  const held = await heldActiveAccount(kernel.db, identity, new Date(kernel.clock.now()));
  if (held) return held;
  let revocations: Revocation[] = [];
  // What became of the account, for the audit trail once the transaction has committed.
  let outcome = 'held' as 'held' | 'joined' | 'created';
  const account = await kernel.db.transaction(async (tx) => {
    const now = new Date(kernel.clock.now());
    // Held by a disabled account, or meanwhile: another callback of the identity made or joined its account first.
    const holder = await holderOf(tx, identity);
    if (holder !== null) {
      const account = await requireActiveUser(tx, holder);
      await link(tx, identity, { userId: holder, at: now });
      return account;
    }
    const local = identity.email === null ? null : await findUserByEmail(tx, identity.email);
    if (local) {
      if (!linkByEmail || !identity.emailVerified) throw authError('OAUTH_EMAIL_IN_USE');
      let joined = await requireActiveUser(tx, local.userId);
      if (!joined.confirmed) ({ user: joined, revocations } = await proveUnconfirmed(kernel, tx, joined));
      await link(tx, identity, { userId: joined.userId, at: now });
      outcome = 'joined';
      return joined;
    }
    if (!allowSignUp) throw authError('SIGNUP_DISABLED');
    if (identity.email === null || !identity.emailVerified) throw authError('OAUTH_EMAIL_UNVERIFIED');
    const [created] = await tx
      .insert(userTable)
      .values({ userId: generateId(kernel.random), email: identity.email, confirmed: true, passwordHash: null, insertedAt: now, updatedAt: now })
      .returning();
    if (!created) throw new Error('accountForIdentity: insert returned no row');
    await link(tx, identity, { userId: created.userId, at: now });
    outcome = 'created';
    return created;
  });
  await kernel.sessions.forget(revocations);
  if (outcome === 'created') {
    kernel.audit.emit({ type: 'signed-up', userId: account.userId, sessionId: null });
    // The account is the identity's own: no new way into something that was there before.
    kernel.audit.emit({ type: 'oauth-linked', userId: account.userId, sessionId: null, provider: identity.provider });
  }
  if (outcome === 'joined') await announceLinked(kernel, account, identity.provider);
  return account;
}

/** Links the identity to `userId` (`oauth.link`), which upgrades an anonymous account; refused when another account holds it. */
export async function linkIdentity(kernel: AuthKernel, identity: ProvenIdentity, userId: string): Promise<UserRow> {
  let newlyLinked = false as boolean;
  const user = await kernel.db.transaction(async (tx) => {
    const holder = await holderOf(tx, identity);
    if (holder !== null && holder !== userId) throw authError('OAUTH_IDENTITY_IN_USE');
    const account = await requireActiveUser(tx, userId);
    await link(tx, identity, { userId, at: new Date(kernel.clock.now()) });
    // An anonymous account now has a way in of its own: it is upgraded, keeping its id and meta.
    await endAnonymity(tx, userId);
    newlyLinked = holder === null;
    return { ...account, isAnonymous: false };
  });
  if (newlyLinked) await announceLinked(kernel, user, identity.provider);
  return user;
}

/**
 * Unlinks the account's identities at `provider`, unless that would leave it no way to sign in:
 * no password it can use (one needs an address or a username to be typed with) and no identity at
 * another provider (`LAST_SIGN_IN_METHOD`). The user row is locked,
 * so two unlinks at once cannot each leave the other's identity as the last one and remove both.
 */
export async function unlinkProvider(kernel: AuthKernel, userId: string, provider: string): Promise<void> {
  const unlinked = await kernel.db.transaction(async (tx) => {
    const [user] = await tx
      .select({ passwordHash: userTable.passwordHash, email: userTable.email, username: userTable.username })
      .from(userTable)
      .where(eq(userTable.userId, userId))
      .for('update');
    if (!user) throw authError('TOKEN_REVOKED');
    const [others] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(oauthIdentityTable)
      .where(and(eq(oauthIdentityTable.userId, userId), ne(oauthIdentityTable.provider, provider)));
    const passwordUsable = user.passwordHash !== null && (user.email !== null || user.username !== null);
    if (!passwordUsable && (others?.count ?? 0) === 0) throw authError('LAST_SIGN_IN_METHOD');
    const removed = await tx
      .delete(oauthIdentityTable)
      .where(and(eq(oauthIdentityTable.userId, userId), eq(oauthIdentityTable.provider, provider)))
      .returning({ subject: oauthIdentityTable.subject });
    return removed.length > 0;
  });
  if (unlinked) kernel.audit.emit({ type: 'oauth-unlinked', userId, sessionId: null, provider });
}
