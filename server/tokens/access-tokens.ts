import { eq } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../../db/connect.js';
import { accessTokenTable, sessionTable } from '../../db/schema.js';
import { formatToken } from '../../shared/token-format.js';
import type { TokenParts } from '../../shared/token-format.js';
import { SESSION_SCOPES } from '../cache/scope-sets.js';
import type { CachedAccessToken, TokenCache } from '../cache/token-cache.js';
import type { Clock, RandomSource } from '../deps.js';
import { generateTokenParts, hashToken, hashVerifier } from './secrets.js';

/*
 * Access tokens: `at_…`, five minutes by default, one database row each, tied to a session.
 *
 * The check (token-check.ts, shared with API tokens) hashes the whole token and reads the token
 * cache, keyed by that hash: a hit is the answer, with no await and no query. Only on a miss, once
 * the check has let it through, is the token looked up here in the database, whose answer fills the
 * cache. Revoking a session removes its entries from the cache before the revoking call returns
 * (sessions.ts).
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

/** A well-formed token the cache does not know: what its database lookup needs. */
export interface TokenLookup {
  tokenHash: string;
  parts: TokenParts;
}

/** A freshly issued access token: the string for the client, and what to cache once it is committed. */
export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
  entry: CachedAccessToken;
  revocationsBefore: number;
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
  /** Writes a new access token for a session; the caller fills the cache once its transaction commits. */
  issue(db: Queryable, owner: { sessionId: string; userId: string; sessionExpiresAt: Date | null }): Promise<IssuedAccessToken>;
  /** Looks a token the cache does not know up in the database, and fills the cache with what it finds. */
  lookUp(lookup: TokenLookup): Promise<AccessCheck>;
}

export function createAccessTokens(deps: {
  db: AuthDatabase;
  cache: TokenCache;
  clock: Clock;
  random: RandomSource;
  ttlSeconds: number;
}): AccessTokens {
  const { db, cache, clock, random, ttlSeconds } = deps;

  async function lookUp({ tokenHash, parts }: TokenLookup): Promise<AccessCheck> {
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
      .where(eq(accessTokenTable.selector, parts.selector));
    // Comparing SHA-256 digests with !== leaks nothing useful: a caller cannot steer the digest of
    // its guess towards the stored one.
    if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return INVALID;
    if (row.sessionRevokedAt) return REVOKED;
    const entry: CachedAccessToken = { tokenHash, userId: row.userId, sessionId: row.sessionId, expiresAtMs: row.expiresAt.getTime(), scopeSet: SESSION_SCOPES };
    if (entry.expiresAtMs <= clock.now()) return EXPIRED;
    cache.fill(entry, revocationsBefore);
    return grant(entry);
  }

  return {
    async issue(target, owner) {
      const revocationsBefore = cache.revocations;
      const parts = generateTokenParts(random);
      const token = formatToken('access', parts);
      const ttlEnd = clock.now() + ttlSeconds * 1000;
      // An access token never outlives the session that issued it.
      const expiresAtMs = owner.sessionExpiresAt ? Math.min(ttlEnd, owner.sessionExpiresAt.getTime()) : ttlEnd;
      await target.insert(accessTokenTable).values({
        selector: parts.selector,
        verifierHash: hashVerifier(parts.verifier),
        sessionId: owner.sessionId,
        userId: owner.userId,
        expiresAt: new Date(expiresAtMs),
      });
      const entry: CachedAccessToken = { tokenHash: hashToken(token), userId: owner.userId, sessionId: owner.sessionId, expiresAtMs, scopeSet: SESSION_SCOPES };
      return { token, expiresAt: new Date(expiresAtMs), entry, revocationsBefore };
    },

    lookUp,
  };
}
