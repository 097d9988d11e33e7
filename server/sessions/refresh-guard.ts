import { parseToken } from '../../shared/token-format.js';
import { RefusedTokens } from '../cache/refused-tokens.js';
import type { Clock } from '../deps.js';
import { hashToken } from '../tokens/secrets.js';
import type { TokenFailures } from '../tokens/token-failures.js';
import type { RefreshOutcome, Sessions } from './sessions.js';

/*
 * What a refresh token costs before it reaches the session's row, so that made-up `rt_` tokens cost
 * the database no more than made-up bearer and link tokens do, and write nothing:
 *   - a malformed token is refused before anything is counted or read;
 *   - a token refused lately is refused again from the negative cache (cache/refused-tokens.ts):
 *     one that named nothing, or whose session has ended, expired or been revoked, stays refused;
 *   - every other lookup is counted in memory against the client's allowance of failed token
 *     lookups (token-failures.ts, shared with bearer and link tokens), which reaches the shared
 *     counter in batches; past it RATE_LIMITED, with no query;
 *   - then the rotation runs (sessions.ts): a token that names no session costs one statement and
 *     writes nothing; a real one rotates; a replaced one outside the grace window is reuse, and the
 *     session ends as before. Only a token that named nothing stays counted.
 * A session whose window of refreshes is full answers RATE_LIMITED from the rotation: its token is
 * good, so it is neither remembered as refused nor counted as a failed lookup.
 */

type RefreshRefusal = 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED';

export interface RefreshGuard {
  /**
   * Rotates `refreshToken` for the client at `ip` (null: per-client limits off); RATE_LIMITED when
   * the client is over its allowance of failed lookups or the session's window of refreshes is full.
   */
  refresh(refreshToken: string, ip: string | null): Promise<RefreshOutcome>;
}

export function createRefreshGuard(deps: { sessions: Sessions; failures: TokenFailures; clock: Clock }): RefreshGuard {
  const { sessions, failures, clock } = deps;
  const refused = new RefusedTokens<RefreshRefusal>();

  return {
    async refresh(refreshToken, ip) {
      if (!parseToken('refresh', refreshToken)) return { ok: false, code: 'TOKEN_INVALID' };
      const tokenHash = hashToken(refreshToken);
      const known = refused.recall(tokenHash, clock.now());
      if (known) return { ok: false, code: known };
      const admission = failures.admit(ip);
      if (!admission.allowed) return { ok: false, code: 'RATE_LIMITED', retryAfterSeconds: admission.retryAfterSeconds };
      const outcome = await sessions.refresh(refreshToken);
      if (!outcome.ok && outcome.code !== 'RATE_LIMITED') {
        // A reused token's session has just been revoked: from now on that token is a revoked one.
        refused.remember(tokenHash, outcome.code === 'REFRESH_TOKEN_REUSED' ? 'TOKEN_REVOKED' : outcome.code, clock.now());
      }
      await failures.settle(ip, !outcome.ok && outcome.code === 'TOKEN_INVALID');
      return outcome;
    },
  };
}
