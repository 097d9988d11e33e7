import { and, count, desc, eq, gt, inArray, isNotNull, isNull, lte, or } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../../db/connect.js';
import { apiTokenTable, userTable } from '../../db/schema.js';
import { formatToken } from '../../shared/token-format.js';
import type { ApiTokenInfo } from '../../shared/types.js';
import type { AccessCheck, TokenLookup } from './access-tokens.js';
import { announceRevocation } from './announce-revocation.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { BackgroundTasks } from '../background.js';
import type { Revocation } from '../cache/revocation-notice.js';
import type { ScopeSets } from '../cache/scope-sets.js';
import type { CachedAccessToken, TokenCache } from '../cache/token-cache.js';
import type { Clock, RandomSource } from '../deps.js';
import { RecentUses } from './recent-uses.js';
import { generateId, generateTokenParts, hashVerifier } from './secrets.js';

/*
 * Personal API tokens: `pat_…`, made by a signed-in user for scripts and integrations, each with a
 * name, its scopes and an expiry (a year by default). The token is shown once; the database keeps
 * its selector and the SHA-256 of its verifier.
 *
 * A check is an access token's (token-check.ts, one check for both): the SHA-256 of the whole token
 * is the cache key, and a hit answers from shared memory with no await and no query; the entry's
 * session id is the API token's own id and its scopes travel as an interned number
 * (cache/scope-sets.ts). Only a miss comes here, to read the token's row. Revoking one, or
 * the password change that ends them all, announces their ids on the revocation channel like ended
 * sessions, so every node drops them from its cache at once.
 *
 * `lastUsedAt` is kept without a write per call: a node records a token's use at most once a minute,
 * after answering, in the background. When it last recorded each token is kept in a fixed array
 * (recent-uses.ts), so that a hit pays one read there.
 *
 * A user holds at most `maxPerUser` live tokens; past that, `create` makes none until one is revoked
 * or expires. The rows of ended tokens are kept for as many more (a presented one answers
 * TOKEN_REVOKED rather than TOKEN_INVALID); older ones go when the user makes a token, so no user's
 * rows grow without bound.
 */

export interface ApiTokens {
  /** A new token; null when the user already holds `maxPerUser` live ones. */
  create(userId: string, request: { name: string; scopes: readonly string[]; expiresInDays?: number }): Promise<{ id: string; token: string } | null>;
  /** The user's live tokens, newest first; never a token or a hash. */
  list(userId: string): Promise<ApiTokenInfo[]>;
  /** Another user's id, or an unknown one, changes nothing. */
  revoke(userId: string, id: string): Promise<void>;
  /** Looks a token the cache does not know up in the database, and fills the cache with what it finds. */
  lookUp(lookup: TokenLookup): Promise<AccessCheck>;
  /** The scopes of a cached API token's interned set. */
  scopesOf(scopeSet: number): readonly string[];
  /** A cached API token (by its hash, and its id) was used: its `lastUsedAt` is written if it was not this last minute. */
  noteUse(tokenHash: string, id: string, nowMs: number): void;
}

const LAST_USED_RESOLUTION_SECONDS = 60;
const INVALID: AccessCheck = { ok: false, code: 'TOKEN_INVALID' };
const EXPIRED: AccessCheck = { ok: false, code: 'TOKEN_EXPIRED' };
const REVOKED: AccessCheck = { ok: false, code: 'TOKEN_REVOKED' };

/**
 * Marks API tokens of a user revoked (one, or all of them) and announces it, inside the caller's
 * transaction. Returns what this node's cache must forget once that transaction has committed.
 */
export async function revokeApiTokens(
  tx: Queryable,
  scope: { userId: string; id?: string },
  change: { at: Date; reason: string },
): Promise<Revocation | null> {
  const conditions = [eq(apiTokenTable.userId, scope.userId), isNull(apiTokenTable.revokedAt)];
  if (scope.id !== undefined) conditions.push(eq(apiTokenTable.id, scope.id));
  const revoked = await tx
    .update(apiTokenTable)
    .set({ revokedAt: change.at, revokeReason: change.reason })
    .where(and(...conditions))
    .returning({ id: apiTokenTable.id });
  if (revoked.length === 0) return null;
  const revocation: Revocation = { sessionIds: revoked.map(({ id }) => id) };
  await announceRevocation(tx, revocation);
  return revocation;
}

export function createApiTokens(deps: {
  db: AuthDatabase;
  cache: TokenCache;
  scopeSets: ScopeSets;
  clock: Clock;
  random: RandomSource;
  background: BackgroundTasks;
  /** Where creations and revocations are reported; none, nowhere. */
  audit?: AuditTrail;
  defaultExpiresInDays: number;
  maxPerUser: number;
}): ApiTokens {
  const { db, cache, scopeSets, clock, random, background, audit } = deps;
  const recentUses = new RecentUses(LAST_USED_RESOLUTION_SECONDS);

  function scopesOf(scopeSet: number): readonly string[] {
    // An API token's entry always carries a set; were it ever 0, the token would get no scope rather than all.
    return scopeSets.scopesOf(scopeSet) ?? [];
  }

  function grant(entry: CachedAccessToken): AccessCheck {
    return { ok: true, authorization: { userId: entry.userId, sessionId: entry.sessionId, expiresAt: new Date(entry.expiresAtMs), scopes: scopesOf(entry.scopeSet) } };
  }

  function recordUse(tokenHash: string, id: string, now: number): void {
    if (!recentUses.due(tokenHash, now)) return;
    background.run('record API token use', () => db.update(apiTokenTable).set({ lastUsedAt: new Date(now) }).where(eq(apiTokenTable.id, id)));
  }

  async function lookUp({ tokenHash, parts }: TokenLookup): Promise<AccessCheck> {
    const revocationsBefore = cache.revocations;
    const [found] = await db
      .select({ token: apiTokenTable, userDisabledAt: userTable.disabledAt })
      .from(apiTokenTable)
      .innerJoin(userTable, eq(userTable.userId, apiTokenTable.userId))
      .where(eq(apiTokenTable.selector, parts.selector));
    const row = found?.token;
    // SHA-256 digests compared with !==: a caller cannot steer its guess's digest towards the stored one.
    if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return INVALID;
    // A token made while its user was being disabled is refused all the same.
    if (row.revokedAt || found.userDisabledAt) return REVOKED;
    const now = clock.now();
    if (row.expiresAt.getTime() <= now) return EXPIRED;
    const scopeSet = scopeSets.intern(row.scopes);
    const entry: CachedAccessToken = { tokenHash, userId: row.userId, sessionId: row.id, expiresAtMs: row.expiresAt.getTime(), scopeSet: scopeSet ?? 0 };
    recordUse(tokenHash, row.id, now);
    // With the registry full the token is not cached, and answers from the database every time.
    if (scopeSet === null) return { ok: true, authorization: { userId: row.userId, sessionId: row.id, expiresAt: row.expiresAt, scopes: Object.freeze([...row.scopes]) } };
    cache.fill(entry, revocationsBefore);
    return grant(entry);
  }

  return {
    async create(userId, request) {
      const now = clock.now();
      const id = generateId(random);
      const parts = generateTokenParts(random);
      const expiresInDays = request.expiresInDays ?? deps.defaultExpiresInDays;
      const made = await db.transaction(async (tx) => {
        // The user's row is locked so that concurrent creations are counted one after the other.
        await tx.select({ userId: userTable.userId }).from(userTable).where(eq(userTable.userId, userId)).for('update');
        const ofUser = eq(apiTokenTable.userId, userId);
        const [live] = await tx
          .select({ tokens: count() })
          .from(apiTokenTable)
          .where(and(ofUser, isNull(apiTokenTable.revokedAt), gt(apiTokenTable.expiresAt, new Date(now))));
        if ((live?.tokens ?? 0) >= deps.maxPerUser) return false;
        const ended = tx
          .select({ id: apiTokenTable.id })
          .from(apiTokenTable)
          .where(and(ofUser, or(isNotNull(apiTokenTable.revokedAt), lte(apiTokenTable.expiresAt, new Date(now)))))
          .orderBy(desc(apiTokenTable.createdAt))
          .offset(deps.maxPerUser);
        await tx.delete(apiTokenTable).where(inArray(apiTokenTable.id, ended));
        await tx.insert(apiTokenTable).values({
          id,
          userId,
          name: request.name,
          selector: parts.selector,
          verifierHash: hashVerifier(parts.verifier),
          scopes: [...new Set(request.scopes)].sort(),
          createdAt: new Date(now),
          expiresAt: new Date(now + expiresInDays * 86_400_000),
        });
        return true;
      });
      if (!made) return null;
      audit?.emit({ type: 'api-token-created', userId, sessionId: null, apiTokenId: id, scopes: [...new Set(request.scopes)].sort() });
      return { id, token: formatToken('apiToken', parts) };
    },

    async list(userId) {
      const rows = await db
        .select()
        .from(apiTokenTable)
        .where(and(eq(apiTokenTable.userId, userId), isNull(apiTokenTable.revokedAt), gt(apiTokenTable.expiresAt, new Date(clock.now()))))
        .orderBy(desc(apiTokenTable.createdAt));
      return rows.map((row) => ({
        id: row.id,
        name: row.name,
        scopes: row.scopes,
        createdAt: row.createdAt,
        lastUsedAt: row.lastUsedAt,
        expiresAt: row.expiresAt,
      }));
    },

    async revoke(userId, id) {
      const revocation = await db.transaction((tx) => revokeApiTokens(tx, { userId, id }, { at: new Date(clock.now()), reason: 'revoked-by-user' }));
      if (!revocation) return;
      await cache.forget(revocation);
      audit?.emit({ type: 'api-token-revoked', userId, sessionId: null, apiTokenId: id });
    },

    lookUp,
    scopesOf,
    noteUse: recordUse,
  };
}
