import { eq } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../../db/connect.js';
import { accessTokenTable, sessionTable, userTable } from '../../db/schema.js';
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

/**
 * An access token drawn before the statement that writes it, so that a statement holding a session's
 * lock waits for no random draw or hash: the string for the client, the row's selector and verifier
 * hash, and the end of its lifetime if its session lasts that long.
 */
export interface AccessTokenDraft {
  token: string;
  selector: string;
  verifierHash: string;
  tokenHash: string;
  lifetimeEndsAt: Date;
  /** The cache's revocation count before anything of the token was written (see `TokenCache.fill`). */
  revocationsBefore: number;
}

/** Who an access token is for. */
export interface AccessTokenOwner {
  sessionId: string;
  userId: string;
}

export interface AccessTokens {
  /**
   * Writes a new access token for a session (`drafted`, or one drawn now); the caller fills the cache
   * once its transaction commits.
   */
  issue(db: Queryable, owner: AccessTokenOwner & { sessionExpiresAt: Date | null }, drafted?: AccessTokenDraft): Promise<IssuedAccessToken>;
  /** Draws a token a statement of the caller's is to write (`selector`, `verifierHash`, the expiry it computes). */
  draft(): AccessTokenDraft;
  /** A drafted token once its row is written, expiring at `expiresAt`: what the client and the cache get. */
  issued(draft: AccessTokenDraft, owner: AccessTokenOwner, expiresAt: Date): IssuedAccessToken;
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
        userDisabledAt: userTable.disabledAt,
      })
      .from(accessTokenTable)
      .innerJoin(sessionTable, eq(sessionTable.id, accessTokenTable.sessionId))
      .innerJoin(userTable, eq(userTable.userId, sessionTable.userId))
      .where(eq(accessTokenTable.selector, parts.selector));
    // Comparing SHA-256 digests with !== leaks nothing useful: a caller cannot steer the digest of
    // its guess towards the stored one.
    if (!row || row.verifierHash !== hashVerifier(parts.verifier)) return INVALID;
    // A disabled user's sessions were ended with the disable; one that raced it ends here.
    if (row.sessionRevokedAt || row.userDisabledAt) return REVOKED;
    const entry: CachedAccessToken = { tokenHash, userId: row.userId, sessionId: row.sessionId, expiresAtMs: row.expiresAt.getTime(), scopeSet: SESSION_SCOPES };
    if (entry.expiresAtMs <= clock.now()) return EXPIRED;
    cache.fill(entry, revocationsBefore);
    return grant(entry);
  }

  function draft(): AccessTokenDraft {
    const revocationsBefore = cache.revocations;
    const parts = generateTokenParts(random);
    const token = formatToken('access', parts);
    return {
      token,
      selector: parts.selector,
      verifierHash: hashVerifier(parts.verifier),
      tokenHash: hashToken(token),
      lifetimeEndsAt: new Date(clock.now() + ttlSeconds * 1000),
      revocationsBefore,
    };
  }

  function issued(drafted: AccessTokenDraft, owner: AccessTokenOwner, expiresAt: Date): IssuedAccessToken {
    const entry: CachedAccessToken = { tokenHash: drafted.tokenHash, userId: owner.userId, sessionId: owner.sessionId, expiresAtMs: expiresAt.getTime(), scopeSet: SESSION_SCOPES };
    return { token: drafted.token, expiresAt, entry, revocationsBefore: drafted.revocationsBefore };
  }

  return {
    async issue(target, owner, drafted = draft()) {
      // An access token never outlives the session that issued it.
      const expiresAt = owner.sessionExpiresAt && owner.sessionExpiresAt < drafted.lifetimeEndsAt ? owner.sessionExpiresAt : drafted.lifetimeEndsAt;
      await target.insert(accessTokenTable).values({
        selector: drafted.selector,
        verifierHash: drafted.verifierHash,
        sessionId: owner.sessionId,
        userId: owner.userId,
        expiresAt,
      });
      return issued(drafted, owner, expiresAt);
    },

    draft,
    issued,

    lookUp,
  };
}
