import type { Logger } from '../deps.js';
import type { RateLimit, RateLimiter } from '../limits/rate-limits.js';
import { clientOf } from '../limits/throttles.js';

/*
 * Failed token lookups per client: bearer tokens (`at_`, `pat_`) and mailed-link tokens (`lk_`)
 * that were well formed, went to the database, and named nothing. A token's checksum is public, so
 * a made-up one passes every check that costs nothing; this is what stops it costing a query each.
 *
 * Every lookup a client's token needs is counted here before it runs, and given back once the token
 * turned out to exist: a burst of concurrent guesses cannot all start before the first is judged.
 * Past `max` in a window, a client's lookups are refused from memory (RATE_LIMITED, Retry-After)
 * until the window ends: no query at all. A token the cache knows still answers, and so does one
 * the negative cache knows (cache/refused-tokens.ts).
 *
 * The tally lives in memory, so that counting costs no query either, and goes to the shared
 * counters (rate-limits.ts) in batches of a tenth of the limit, one upsert each: every node learns
 * when a client is over the limit on all nodes together. A flood thus costs at most `max` lookups and
 * ten upserts per node per window, however many requests it makes; N nodes together let through at
 * most `max` plus N batches.
 */

/** The answer to a lookup about to be made: go ahead, or wait this long. */
export type LookupAdmission = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Per-client accounting of the database lookups made-up tokens cause. */
export interface TokenFailures {
  /** Counts a lookup for the client at `ip` (null: per-client limits off), or refuses it. */
  admit(ip: string | null): LookupAdmission;
  /** The lookup admitted for `ip` is over: a failure stays counted, anything else is given back. */
  settle(ip: string | null, failed: boolean): Promise<void>;
  /** The seconds of `Retry-After` while the client at `ip` is refused its lookups, else null; counts nothing. */
  refusedFor(ip: string): number | null;
}

/** How many clients are tracked at once; beyond that the oldest window is forgotten. */
const MAX_TRACKED_CLIENTS = 10_000;

interface ClientWindow {
  endsAtMs: number;
  /** Lookups admitted in this window and not given back. */
  counted: number;
  /** Failures not yet reported to the shared counter. */
  unreported: number;
  /** Refused until then (0: not refused). */
  refusedUntilMs: number;
}

const ALLOWED: LookupAdmission = { allowed: true };

/** The per-client tally of failed lookups, in memory in front of the shared counters. */
export function createTokenFailures(deps: { limiter: RateLimiter; limit: RateLimit; now: () => number; logger: Logger }): TokenFailures {
  const { limiter, limit, now, logger } = deps;
  const batch = Math.max(1, Math.ceil(limit.max / 10));
  const windows = new Map<string, ClientWindow>();

  function windowOf(client: string, nowMs: number): ClientWindow {
    const known = windows.get(client);
    if (known && known.endsAtMs > nowMs) return known;
    if (known) windows.delete(client);
    // Windows are all as long and enter the Map as they start: the first one ends soonest.
    const oldest = windows.keys().next();
    if (windows.size >= MAX_TRACKED_CLIENTS && !oldest.done) windows.delete(oldest.value);
    const fresh: ClientWindow = { endsAtMs: nowMs + limit.windowSeconds * 1000, counted: 0, unreported: 0, refusedUntilMs: 0 };
    windows.set(client, fresh);
    return fresh;
  }

  function refusal(until: number, nowMs: number): LookupAdmission {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((until - nowMs) / 1000)) };
  }

  async function report(client: string, window: ClientWindow): Promise<void> {
    const weight = window.unreported;
    window.unreported = 0;
    try {
      const verdict = await limiter.hit(`token-failures-ip:${client}`, limit, weight);
      if (!verdict.allowed) window.refusedUntilMs = Math.max(window.refusedUntilMs, now() + verdict.retryAfterSeconds * 1000);
    } catch (error) {
      // The local tally still holds the client back; the other nodes hear of it at the next batch.
      logger.warn('could not report failed token lookups to the shared counter', { error: String(error) });
    }
  }

  return {
    admit(ip) {
      if (ip === null) return ALLOWED;
      const nowMs = now();
      const window = windowOf(clientOf(ip), nowMs);
      if (window.refusedUntilMs > nowMs) return refusal(window.refusedUntilMs, nowMs);
      if (window.counted >= limit.max) {
        window.refusedUntilMs = window.endsAtMs;
        return refusal(window.endsAtMs, nowMs);
      }
      window.counted++;
      return ALLOWED;
    },

    refusedFor(ip) {
      const nowMs = now();
      const window = windows.get(clientOf(ip));
      if (!window || window.endsAtMs <= nowMs) return null;
      const until = window.refusedUntilMs > nowMs ? window.refusedUntilMs : window.counted >= limit.max ? window.endsAtMs : 0;
      return until === 0 ? null : Math.max(1, Math.ceil((until - nowMs) / 1000));
    },

    async settle(ip, failed) {
      if (ip === null) return;
      const client = clientOf(ip);
      const window = windows.get(client);
      if (!window) return;
      if (!failed) {
        window.counted = Math.max(0, window.counted - 1);
        return;
      }
      window.unreported++;
      if (window.unreported >= batch) await report(client, window);
    },
  };
}
