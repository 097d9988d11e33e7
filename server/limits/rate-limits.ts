import { hash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { AuthDatabase } from '../../db/connect.js';
import { rateLimitTable } from '../../db/schema.js';
import type { Clock } from '../deps.js';

/*
 * Fixed-window counters in PostgreSQL. A hit is one upsert: every node counts against one allowance,
 * a restart resets nothing, and two hits at once are serialised by the row. An attempt is counted
 * before it is judged (and released if it succeeds), so concurrent attempts cannot all slip in under
 * the limit; counting happens in the procedures, once per call, so a batched HTTP request of many
 * calls counts as many attempts.
 */

/** A limit: at most `max` hits per window of `windowSeconds`. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export interface RateVerdict {
  allowed: boolean;
  /** Seconds until the window ends (for `Retry-After`). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /**
   * Counts `weight` hits on `key` (one by default; a node that tallies in memory reports several at
   * once); allowed while the window's hits, these included, are within the limit.
   */
  hit(key: string, limit: RateLimit, weight?: number): Promise<RateVerdict>;
  /**
   * Counts one hit on `key` only if the window's hits, this one included, stay within the limit, and
   * says whether it did. A refused attempt then costs the allowance nothing: however many are
   * refused, what is left above `limit.max` for a larger limit on the same key stays free.
   */
  hitIfWithin(key: string, limit: RateLimit): Promise<boolean>;
  /** Takes back one hit on `key`: an attempt counted up front that turned out to succeed. */
  release(key: string): Promise<void>;
  /** Forgets the hits on `key` (a successful sign-in clears its failures). */
  reset(key: string): Promise<void>;
}

/** The stored form of a key: a digest, so that no address or IP sits in the table. */
function digest(key: string): string {
  return hash('sha256', key, 'base64url');
}

export function createRateLimiter(deps: { db: AuthDatabase; clock: Clock }): RateLimiter {
  const { db, clock } = deps;

  /** The hits of the window `row` is in at `now` (none once it has ended), and when it ends. */
  function windowAt(row: { hits: number; windowStartedAt: Date } | undefined, limit: RateLimit, now: number) {
    const end = row ? row.windowStartedAt.getTime() + limit.windowSeconds * 1000 : now;
    const live = row !== undefined && end > now;
    return { hits: live ? row.hits : 0, retryAfterSeconds: Math.max(1, Math.ceil(((live ? end : now + limit.windowSeconds * 1000) - now) / 1000)) };
  }

  return {
    async hit(key, limit, weight = 1) {
      const now = clock.now();
      const windowStart = new Date(now - limit.windowSeconds * 1000);
      const expired = sql`${rateLimitTable.windowStartedAt} <= ${windowStart}`;
      const [row] = await db
        .insert(rateLimitTable)
        .values({ key: digest(key), windowStartedAt: new Date(now), hits: weight })
        .onConflictDoUpdate({
          target: rateLimitTable.key,
          set: {
            hits: sql`CASE WHEN ${expired} THEN ${weight} ELSE ${rateLimitTable.hits} + ${weight} END`,
            windowStartedAt: sql`CASE WHEN ${expired} THEN ${new Date(now)} ELSE ${rateLimitTable.windowStartedAt} END`,
          },
        })
        .returning({ hits: rateLimitTable.hits, windowStartedAt: rateLimitTable.windowStartedAt });
      const window = windowAt(row, limit, now);
      return { allowed: window.hits <= limit.max, retryAfterSeconds: window.retryAfterSeconds };
    },

    async hitIfWithin(key, limit) {
      const now = clock.now();
      const expired = sql`${rateLimitTable.windowStartedAt} <= ${new Date(now - limit.windowSeconds * 1000)}`;
      // The row is locked by the upsert, so two hits at once cannot both take the last place.
      const counted = await db
        .insert(rateLimitTable)
        .values({ key: digest(key), windowStartedAt: new Date(now), hits: 1 })
        .onConflictDoUpdate({
          target: rateLimitTable.key,
          set: {
            hits: sql`CASE WHEN ${expired} THEN 1 ELSE ${rateLimitTable.hits} + 1 END`,
            windowStartedAt: sql`CASE WHEN ${expired} THEN ${new Date(now)} ELSE ${rateLimitTable.windowStartedAt} END`,
          },
          setWhere: sql`${expired} OR ${rateLimitTable.hits} < ${limit.max}`,
        })
        .returning({ hits: rateLimitTable.hits });
      return counted.length > 0;
    },

    async release(key) {
      await db
        .update(rateLimitTable)
        .set({ hits: sql`GREATEST(${rateLimitTable.hits} - 1, 0)` })
        .where(eq(rateLimitTable.key, digest(key)));
    },

    async reset(key) {
      await db.delete(rateLimitTable).where(eq(rateLimitTable.key, digest(key)));
    },
  };
}
