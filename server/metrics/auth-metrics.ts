import type { TokenCache } from '../cache/token-cache.js';
import type { CleanupStats } from '../cleanup/cleaner.js';
import type { ClockStats } from '../database-clock.js';
import type { DeliveryStats } from '../mail/delivery-queue.js';
import type { HashingStats } from '../passwords/hashing-bulkhead.js';
import type { ListenerSnapshot } from './listener-stats.js';
import type { RateLimitRefusals } from './rate-limit-refusals.js';
import type { TokenCheckCounts } from './token-check-counts.js';

/**
 * What `auth.metrics()` returns: this node's figures at the moment of the call. Counts run from
 * the start of the process; the rest is the state now.
 */
export interface AuthMetrics {
  /** Token checks by where they were answered and how (`ok`, or the refusal's code). */
  tokenChecks: TokenCheckCounts;
  tokenCache: {
    hits: number;
    misses: number;
    /** Whether cached entries count now (see `readiness()`). */
    trusted: boolean;
    /** Entries the table holds at most. */
    capacity: number;
  };
  /** The revocation listener; null on PGlite, which needs none. */
  revocationListener: ListenerSnapshot | null;
  /** The password-hashing bulkhead. */
  hashing: HashingStats;
  /** Refusals by the shared rate-limit counters, by kind of limit (`failures-ip`, `login-account`, `mail`, …). */
  rateLimitRefusals: RateLimitRefusals;
  /** The mail delivery queue. */
  mail: DeliveryStats;
  cleanup: CleanupStats;
  /** The database clock (docs/time.md): this node's offset from it and how precisely it knows it; null for an injected clock. */
  clock: ClockStats | null;
}

/** Where each figure is read from. */
export interface MetricSources {
  tokenChecks: TokenCheckCounts;
  cache: Pick<TokenCache, 'lookups' | 'trusted' | 'listenerStats'>;
  capacity: number;
  hashing: () => HashingStats;
  rateLimitRefusals: RateLimitRefusals;
  mail: () => DeliveryStats;
  cleanup: () => CleanupStats;
  clock: () => ClockStats | null;
}

/** A copy of every figure now: later counting does not change it. */
export function readAuthMetrics(sources: MetricSources): AuthMetrics {
  const { tokenChecks, cache } = sources;
  return {
    tokenChecks: { memory: { ...tokenChecks.memory }, database: { ...tokenChecks.database }, failed: tokenChecks.failed },
    tokenCache: { hits: cache.lookups.hits, misses: cache.lookups.misses, trusted: cache.trusted, capacity: sources.capacity },
    // The process's own clock: the listener stamped what it heard with it.
    revocationListener: cache.listenerStats(Date.now()),
    hashing: sources.hashing(),
    rateLimitRefusals: { ...sources.rateLimitRefusals },
    mail: sources.mail(),
    cleanup: sources.cleanup(),
    clock: sources.clock(),
  };
}
