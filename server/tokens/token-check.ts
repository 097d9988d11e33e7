import { TOKEN_PREFIXES } from '../../shared/token-format.js';
import type { AccessCheck, AccessTokens } from './access-tokens.js';
import type { ApiTokens } from './api-tokens.js';
import { RefusedTokens } from '../cache/refused-tokens.js';
import type { Clock } from '../deps.js';
import type { TokenFailures } from './token-failures.js';

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

/**
 * The one check behind `protectedProcedure` and `verifyAccessToken`: an API token (`pat_`) goes to
 * its own table, anything else is treated as an access token. Both answer from the same cache; a
 * miss is answered next by the negative cache, and only then, if the client may still make lookups
 * (token-failures.ts), by the database.
 */
export function createTokenCheck(deps: { accessTokens: AccessTokens; apiTokens: ApiTokens; failures: TokenFailures; clock: Clock }): TokenCheck {
  const { accessTokens, apiTokens, failures, clock } = deps;
  const refused = new RefusedTokens<Refusal['code']>();

  return function checkToken(token, clientIp) {
    const tokens = token.startsWith(TOKEN_PREFIXES.apiToken) ? apiTokens : accessTokens;
    const recalled = tokens.recall(token);
    if ('ok' in recalled) return recalled;
    const known = refused.recall(recalled.tokenHash, clock.now());
    if (known) return REFUSALS[known];
    const admission = failures.admit(clientIp);
    if (!admission.allowed) return { ok: false, code: 'RATE_LIMITED', retryAfterSeconds: admission.retryAfterSeconds };
    return tokens.lookUp(recalled).then(
      async (check) => {
        if (!check.ok) refused.remember(recalled.tokenHash, check.code, clock.now());
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
