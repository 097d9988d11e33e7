import { eq } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../db/connect.js';
import { accessTokenTable, sessionTable } from '../db/schema.js';
import { formatToken, parseToken } from '../shared/token-format.js';
import type { TokenCache, CachedAccessToken } from './cache/token-cache.js';
import type { Clock, RandomSource } from './deps.js';
import { generateTokenParts, hashVerifier } from './secrets.js';

/*
 * Access tokens: `at_…`, five minutes by default, one database row each, tied to a session. A check
 * parses the token (garbage stops here), then reads the token cache; only a miss reads the database,
 * and its answer fills the cache. Revoking a session removes its entries from the cache before the
 * revoking call returns, so the cache never says yes where the database says no.
 */

/** What a valid access token grants. */
export interface AccessAuthorization {
  userId: string;
  sessionId: string;
  expiresAt: Date;
  /** Null for a session's token, which may do whatever its user may. */
  scopes: readonly string[] | null;
}

export type AccessCheck =
  | { ok: true; authorization: AccessAuthorization }
  | { ok: false; code: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' };

/** A freshly issued access token: the string for the client and the entry for the cache. */
export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
  entry: CachedAccessToken;
}

const INVALID: AccessCheck = { ok: false, code: 'TOKEN_INVALID' };
const EXPIRED: AccessCheck = { ok: false, code: 'TOKEN_EXPIRED' };
const REVOKED: AccessCheck = { ok: false, code: 'TOKEN_REVOKED' };

function grant(entry: CachedAccessToken): AccessCheck {
  return {
    ok: true,
    authorization: { userId: entry.userId, sessionId: entry.sessionId, expiresAt: new Date(entry.expiresAtMs), scopes: null },
  };
}

export interface AccessTokens {
  /** Writes a new access token for a session; the caller caches `entry` once its transaction commits. */
  issue(db: Queryable, owner: { sessionId: string; userId: string; sessionExpiresAt: Date | null }): Promise<IssuedAccessToken>;
  /** Answers from memory when it can (a plain value) and from the database otherwise (a promise). */
  check(token: string): AccessCheck | Promise<AccessCheck>;
}

export function createAccessTokens(deps: {
  db: AuthDatabase;
  cache: TokenCache;
  clock: Clock;
  random: RandomSource;
  ttlSeconds: number;
}): AccessTokens {
  const { db, cache, clock, random, ttlSeconds } = deps;

  async function checkInDatabase(selector: string, verifierHash: string): Promise<AccessCheck> {
    const revocationsBefore = cache.revocations;
    const [row] = await db
      .select({
        verifierHash: accessTokenTable.verifierHash,
        userId: accessTokenTable.userId,
        sessionId: accessTokenTable.sessionId,
        expiresAt: accessTokenTable.expiresAt,
        sessionRevokedAt: sessionTable.revokedAt,
      })
      .from(accessTokenTable)
      .innerJoin(sessionTable, eq(sessionTable.id, accessTokenTable.sessionId))
      .where(eq(accessTokenTable.selector, selector));
    if (!row || row.verifierHash !== verifierHash) return INVALID;
    if (row.sessionRevokedAt) return REVOKED;
    const entry: CachedAccessToken = {
      selector,
      verifierHash,
      userId: row.userId,
      sessionId: row.sessionId,
      expiresAtMs: row.expiresAt.getTime(),
    };
    if (entry.expiresAtMs <= clock.now()) return EXPIRED;
    if (cache.revocations === revocationsBefore) cache.set(entry);
    return grant(entry);
  }

  return {
    async issue(target, owner) {
      const parts = generateTokenParts(random);
      const ttlEnd = clock.now() + ttlSeconds * 1000;
      // An access token never outlives the session that issued it.
      const expiresAtMs = owner.sessionExpiresAt ? Math.min(ttlEnd, owner.sessionExpiresAt.getTime()) : ttlEnd;
      const entry: CachedAccessToken = {
        selector: parts.selector,
        verifierHash: hashVerifier(parts.verifier),
        userId: owner.userId,
        sessionId: owner.sessionId,
        expiresAtMs,
      };
      await target.insert(accessTokenTable).values({
        selector: entry.selector,
        verifierHash: entry.verifierHash,
        sessionId: entry.sessionId,
        userId: entry.userId,
        expiresAt: new Date(expiresAtMs),
      });
      return { token: formatToken('access', parts), expiresAt: new Date(expiresAtMs), entry };
    },

    check(token) {
      const parts = parseToken('access', token);
      if (!parts) return INVALID;
      // Comparing SHA-256 digests with === leaks nothing useful: a caller cannot steer the digest
      // of its guess towards the stored one.
      const verifierHash = hashVerifier(parts.verifier);
      const cached = cache.get(parts.selector);
      if (!cached) return checkInDatabase(parts.selector, verifierHash);
      if (cached.verifierHash !== verifierHash) return INVALID;
      if (cached.expiresAtMs <= clock.now()) return EXPIRED;
      return grant(cached);
    },
  };
}
