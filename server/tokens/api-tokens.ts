import { and, count, desc, eq, gt, inArray, isNotNull, isNull, lte, or } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../../db/connect.js';
import { apiTokenTable, userTable } from '../../db/schema.js';
import { formatToken } from '../../shared/token-format.js';
import type { ApiTokenInfo } from '../../shared/types.js';
import type { AccessCheck, TokenLookup } from './access-tokens.js';
import { announceRevocation } from './announce-revocation.js';
import type { BackgroundTasks } from '../background.js';
import type { Revocation } from '../cache/revocation-notice.js';
import type { ScopeSets } from '../cache/scope-sets.js';
import type { CachedAccessToken, TokenCache } from '../cache/token-cache.js';
import type { Clock, RandomSource } from '../deps.js';
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
 * after answering, in the background. It remembers when it last recorded each of the tokens used
 * lately, up to MAX_TRACKED_USES of them, forgetting the oldest first; a forgotten one costs one more
 * write, never a missed use.
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
  /** A cached API token was used: its `lastUsedAt` is written if it was not this minute. */
  noteUse(id: string, nowMs: number): void;
}

const LAST_USED_RESOLUTION_MS = 60_000;
/** Bounds the memory of when each token was last recorded (about 100 bytes each); forgetting only costs an extra write. */
const MAX_TRACKED_USES = 100_000;
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
  defaultExpiresInDays: number;
  maxPerUser: number;
}): ApiTokens {
  const { db, cache, scopeSets, clock, random, background } = deps;
  const lastRecordedUse = new Map<string, number>();

  function scopesOf(scopeSet: number): readonly string[] {
    // An API token's entry always carries a set; were it ever 0, the token would get no scope rather than all.
    return scopeSets.scopesOf(scopeSet) ?? [];
  }

  function grant(entry: CachedAccessToken): AccessCheck {
    return { ok: true, authorization: { userId: entry.userId, sessionId: entry.sessionId, expiresAt: new Date(entry.expiresAtMs), scopes: scopesOf(entry.scopeSet) } };
  }

  function recordUse(id: string, now: number): void {
    const last = lastRecordedUse.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    // Deleted first, so that the Map's order is the order of recording and its first entry the oldest.
    lastRecordedUse.delete(id);
    if (lastRecordedUse.size >= MAX_TRACKED_USES) {
      const oldest = lastRecordedUse.keys().next();
      if (!oldest.done) lastRecordedUse.delete(oldest.value);
    }
    lastRecordedUse.set(id, now);
    background.run('record API token use', () => db.update(apiTokenTable).set({ lastUsedAt: new Date(now) }).where(eq(apiTokenTable.id, id)));
  }

  async function lookUp({ tokenHash, parts }: TokenLookup): Promise<AccessCheck> {
    const revocationsBefore = cache.revocations;
    const [row] = await db.select().from(apiTokenTable).where(eq(apiTokenTable.selector, parts.selector));
    // SHA-256 digests compared with !==: a caller cannot steer its guess's digest towards the stored one.
    if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return INVALID;
    if (row.revokedAt) return REVOKED;
    const now = clock.now();
    if (row.expiresAt.getTime() <= now) return EXPIRED;
    const scopeSet = scopeSets.intern(row.scopes);
    const entry: CachedAccessToken = { tokenHash, userId: row.userId, sessionId: row.id, expiresAtMs: row.expiresAt.getTime(), scopeSet: scopeSet ?? 0 };
    recordUse(row.id, now);
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
      return made ? { id, token: formatToken('apiToken', parts) } : null;
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
      if (revocation) await cache.forget(revocation);
    },

    lookUp,
    scopesOf,
    noteUse: recordUse,
  };
}
