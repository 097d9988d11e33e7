import { TOKEN_PREFIXES } from '../shared/token-format.js';
import type { AccessCheck, AccessTokens } from './access-tokens.js';
import type { ApiTokens } from './api-tokens.js';

/** Checks a bearer token of either kind: a plain value from the cache, a promise from the database. */
export type TokenCheck = (token: string) => AccessCheck | Promise<AccessCheck>;

/**
 * The one check behind `protectedProcedure` and `verifyAccessToken`: an API token (`pat_`) goes to
 * its own table, anything else is treated as an access token. Both answer from the same cache.
 */
export function createTokenCheck(accessTokens: AccessTokens, apiTokens: ApiTokens): TokenCheck {
  return function checkToken(token) {
    return token.startsWith(TOKEN_PREFIXES.apiToken) ? apiTokens.check(token) : accessTokens.check(token);
  };
}
