import { TOKEN_PREFIXES, formatToken, parseToken } from '../../shared/token-format.js';
import type { TokenKind } from '../../shared/token-format.js';
import type { AccessAuthorization, AccessCheck, AccessTokens } from './access-tokens.js';
import type { ApiTokens } from './api-tokens.js';
import { RefusedTokens } from '../cache/refused-tokens.js';
import type { TokenCache } from '../cache/token-cache.js';
import type { Clock } from '../deps.js';
import { hashToken } from './secrets.js';
import type { TokenFailures } from './token-failures.js';

/*
 * The one check of a bearer token, access token (`at_`) or API token (`pat_`) alike: both are keyed
 * in the same token cache by the SHA-256 of the whole token, and a hit is answered here, the same
 * way for both, with no await and no query. The kinds differ only on a miss, in which database
 * table holds the token (access-tokens.ts, api-tokens.ts), and in what a hit of an API token also
 * does: turn its interned scope set back into its array, and note its use for `lastUsedAt`.
 *
 * The hit path is the kit's hot path: one SHA-256 of the token (the cheapest call there is: to a
 * string, no Buffer), one probe of the shared table, and the answer; nothing else is allocated or
 * parsed. A miss is answered next by the negative cache, and only then, if the client may still make
 * lookups (token-failures.ts), by the database.
 */

/** A check's answer: the token's, or a refusal to look it up for a client over its allowance. */
export type TokenCheckResult = AccessCheck | { ok: false; code: 'RATE_LIMITED'; retryAfterSeconds: number };

/**
 * Checks a bearer token of either kind for the client at `clientIp` (null: no per-client limit): a
 * plain value from memory, a promise from the database.
 */
export type TokenCheck = (token: string, clientIp: string | null) => TokenCheckResult | Promise<TokenCheckResult>;

type Refusal = Extract<AccessCheck, { ok: false }>;
const REFUSALS: Record<Refusal['code'], Refusal> = {
  TOKEN_INVALID: { ok: false, code: 'TOKEN_INVALID' },
  TOKEN_EXPIRED: { ok: false, code: 'TOKEN_EXPIRED' },
  TOKEN_REVOKED: { ok: false, code: 'TOKEN_REVOKED' },
};

const lengthOf = (kind: TokenKind) => formatToken(kind, { selector: 'A'.repeat(16), verifier: 'A'.repeat(43) }).length;
const ACCESS_TOKEN_LENGTH = lengthOf('access');
const API_TOKEN_LENGTH = lengthOf('apiToken');

/** The kind of bearer token this is by its length and prefix, or null: then it is not hashed at all. */
function bearerKindOf(token: string): 'access' | 'apiToken' | null {
  if (token.length === ACCESS_TOKEN_LENGTH && token.startsWith(TOKEN_PREFIXES.access)) return 'access';
  if (token.length === API_TOKEN_LENGTH && token.startsWith(TOKEN_PREFIXES.apiToken)) return 'apiToken';
  return null;
}

/** Whether `token` fails the checks that cost nothing (prefix, length, checksum): every check refuses it, TOKEN_INVALID. */
export function isMalformedBearerToken(token: string): boolean {
  const kind = bearerKindOf(token);
  return kind === null || parseToken(kind, token) === null;
}

/** The check behind `protectedProcedure` and `verifyAccessToken`. */
export function createTokenCheck(deps: { cache: TokenCache; accessTokens: AccessTokens; apiTokens: ApiTokens; failures: TokenFailures; clock: Clock }): TokenCheck {
  const { cache, accessTokens, apiTokens, failures, clock } = deps;
  const refused = new RefusedTokens<Refusal['code']>();

  return function checkToken(token, clientIp) {
    const kind = bearerKindOf(token);
    if (kind === null) return REFUSALS.TOKEN_INVALID;
    const tokenHash = hashToken(token);
    const cached = cache.get(tokenHash);
    const nowMs = clock.now();
    // An entry is trusted until its token expires or the cache's trust in it runs out, whichever is
    // first (token-cache.ts); past that the database says which it was, and the negative cache
    // remembers an expired one, so an expired token costs one lookup per node.
    if (cached !== undefined && cached.expiresAtMs > nowMs) {
      let scopes: readonly string[] | null = null;
      if (kind === 'apiToken') {
        scopes = apiTokens.scopesOf(cached.scopeSet);
        apiTokens.noteUse(tokenHash, cached.sessionId, nowMs);
      }
      const authorization: AccessAuthorization = { userId: cached.userId, sessionId: cached.sessionId, expiresAt: cached.expiresAt, scopes };
      return { ok: true, authorization };
    }
    // Parsed only on a miss, which keeps the checksum off the hot path.
    const parts = parseToken(kind, token);
    if (parts === null) return REFUSALS.TOKEN_INVALID;
    const known = refused.recall(tokenHash, nowMs);
    if (known) return REFUSALS[known];
    const admission = failures.admit(clientIp);
    if (!admission.allowed) return { ok: false, code: 'RATE_LIMITED', retryAfterSeconds: admission.retryAfterSeconds };
    const lookup = { tokenHash, parts };
    return (kind === 'apiToken' ? apiTokens.lookUp(lookup) : accessTokens.lookUp(lookup)).then(
      async (check) => {
        if (!check.ok) refused.remember(tokenHash, check.code, clock.now());
        // Only a token that names nothing is a guess; an expired or revoked one was real.
        await failures.settle(clientIp, !check.ok && check.code === 'TOKEN_INVALID');
        return check;
      },
      async (error: unknown) => {
        await failures.settle(clientIp, false);
        throw error;
      },
    );
  };
}
