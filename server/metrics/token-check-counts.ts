import type { TokenCheck, TokenCheckResult } from '../tokens/token-check.js';

/*
 * Token checks counted by outcome, around the check itself: an answer from memory (a cache hit, the
 * negative cache, a malformed token, a client refused from its tally) is counted where it is
 * returned, an answer from the database when it arrives. A hit costs a type test and one integer
 * increment, nothing that allocates or awaits.
 */

/** How token checks ended: granted, refused by code, or failed (the database could not answer). */
export interface TokenCheckOutcomes {
  ok: number;
  TOKEN_INVALID: number;
  TOKEN_EXPIRED: number;
  TOKEN_REVOKED: number;
  RATE_LIMITED: number;
}

/** Token checks so far, by where they were answered. */
export interface TokenCheckCounts {
  /** Answered without a query. */
  memory: TokenCheckOutcomes;
  /** Answered by a database lookup. */
  database: TokenCheckOutcomes;
  /** Lookups that failed (the database down or too slow): the request answered 503. */
  failed: number;
}

const noOutcomes = (): TokenCheckOutcomes => ({ ok: 0, TOKEN_INVALID: 0, TOKEN_EXPIRED: 0, TOKEN_REVOKED: 0, RATE_LIMITED: 0 });

function count(outcomes: TokenCheckOutcomes, result: TokenCheckResult): void {
  if (result.ok) outcomes.ok++;
  else outcomes[result.code]++;
}

/** `check`, counting every answer it gives into `counts`. */
export function countTokenChecks(check: TokenCheck): { check: TokenCheck; counts: TokenCheckCounts } {
  const counts: TokenCheckCounts = { memory: noOutcomes(), database: noOutcomes(), failed: 0 };
  function countedCheck(token: string, clientIp: string | null): ReturnType<TokenCheck> {
    const result = check(token, clientIp);
    if (!(result instanceof Promise)) {
      count(counts.memory, result);
      return result;
    }
    return result.then(
      (answer) => {
        count(counts.database, answer);
        return answer;
      },
      (error: unknown) => {
        counts.failed++;
        throw error;
      },
    );
  }
  return { check: countedCheck, counts };
}
