import { hash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { AuthDatabase } from '../../db/connect.js';
import { rateLimitTable } from '../../db/schema.js';
import { timestampParam } from '../../db/timestamp-param.js';
import type { Clock } from '../deps.js';

/*
 * Fixed-window counters in PostgreSQL. A hit is one upsert: every node counts against one allowance,
 * a restart resets nothing, and two hits at once are serialised by the row. An attempt is counted
 * before it is judged (and released if it succeeds), so concurrent attempts cannot all slip in under
 * the limit; counting happens in the procedures, once per call, so a batched HTTP request of many
 * calls counts as many attempts.
 *
 * A call that counts on several keys (a sign-in counts on its client and its account) counts them in
 * one statement, `countInOrder`, and gives back what succeeded in one more, `settle`. Such a statement
 * takes a lock on each of its keys, in one order, before it writes any: two of them that share keys
 * (a success settling while an attempt from the same client is counted) then never hold one row each
 * while waiting for the other's. A statement on one key holds one row and waits for nothing else.
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

/** One counter of a count in order (`countInOrder`). */
export interface CountStep {
  key: string;
  limit: RateLimit;
  /** `always` counts the hit as `hit` does; `if-within` only while the limit holds it, as `hitIfWithin` does. */
  counts: 'always' | 'if-within';
}

/** Keys to give one hit back on (`release`) and to forget (`reset`), as one settlement. */
export interface SettleKeys {
  release: readonly string[];
  reset: readonly string[];
}

const NOTHING_TO_SETTLE: SettleKeys = { release: [], reset: [] };

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
  /**
   * Counts one hit on each step's key in one statement, in order: a step is counted only if every
   * step before it was allowed, so an attempt refused at one limit spends nothing of the limits after
   * it. The verdict of each step, or null for a step not reached. With `settling`, the same statement
   * first settles those keys (as `settle`), whatever the verdicts. The keys must all differ.
   */
  countInOrder(steps: readonly CountStep[], settling?: SettleKeys): Promise<Array<RateVerdict | null>>;
  /** `release` on each key of `release` and `reset` on each of `reset`, in one statement. */
  settle(keys: SettleKeys): Promise<void>;
}

/** The stored form of a key: a digest, so that no address or IP sits in the table. */
function digest(key: string): string {
  return hash('sha256', key, 'base64url');
}


/** The advisory lock space of the counters' keys ("rl"). */
const COUNTER_LOCK_SPACE = 0x726c;

/**
 * Locks on `digests`, taken one after the other in one order, for a statement that writes several
 * counters. Advisory locks rather than the rows' own: a row another statement made after this one's
 * snapshot cannot be locked up front, yet the statement's upsert would wait for it all the same.
 */
function lockInOrder(digests: readonly string[]): SQL {
  return sql`SELECT pg_advisory_xact_lock(${COUNTER_LOCK_SPACE}, id) FROM (
    SELECT DISTINCT hashtext(key) AS id FROM unnest(ARRAY[${sql.join(
      digests.map((key) => sql`${key}`),
      sql`, `,
    )}]::text[]) AS key ORDER BY id
  ) AS ordered`;
}

interface CountedRow {
  step: number;
  hits: number;
  started_ms: number;
}

export function createRateLimiter(deps: { db: AuthDatabase; clock: Clock }): RateLimiter {
  const { db, clock } = deps;

  /** The hits of the window `row` is in at `now` (none once it has ended), and when it ends. */
  function windowAt(row: { hits: number; windowStartedAt: Date } | undefined, limit: RateLimit, now: number) {
    const end = row ? row.windowStartedAt.getTime() + limit.windowSeconds * 1000 : now;
    const live = row !== undefined && end > now;
    return { hits: live ? row.hits : 0, retryAfterSeconds: Math.max(1, Math.ceil(((live ? end : now + limit.windowSeconds * 1000) - now) / 1000)) };
  }

  async function hit(key: string, limit: RateLimit, weight = 1): Promise<RateVerdict> {
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
  }

  async function hitIfWithin(key: string, limit: RateLimit): Promise<RateVerdict> {
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
    return { allowed: counted.length > 0, retryAfterSeconds: windowAt(undefined, limit, now).retryAfterSeconds };
  }

  async function countInOrder(steps: readonly CountStep[], settling: SettleKeys = NOTHING_TO_SETTLE): Promise<Array<RateVerdict | null>> {
    const keys = [...steps.map((step) => step.key), ...settling.release, ...settling.reset];
    if (new Set(keys).size !== keys.length) throw new Error('countInOrder: the same key twice in one statement');
    if (keys.length === 0) return [];
    const [only] = steps;
    // One key needs no locks taken first: its upsert alone is the statement.
    if (keys.length === 1 && only) return [only.counts === 'always' ? await hit(only.key, only.limit) : await hitIfWithin(only.key, only.limit)];
    const now = clock.now();
    const digests = steps.map((step) => digest(step.key));
    const release = settling.release.map(digest);
    const reset = settling.reset.map(digest);
    // The locks are taken before the first write: every write waits for `locked` (always true).
    const afterLocks = sql`(SELECT count(*) FROM locked) >= 0`;
    const among = (chosen: readonly string[]) => sql`key IN (${sql.join(chosen.map((key) => sql`${key}`), sql`, `)}) AND ${afterLocks}`;
    const settled = [
      ...(release.length === 0 ? [] : [sql`released AS (UPDATE ${rateLimitTable} SET hits = GREATEST(${rateLimitTable.hits} - 1, 0) WHERE ${among(release)})`]),
      ...(reset.length === 0 ? [] : [sql`forgotten AS (DELETE FROM ${rateLimitTable} WHERE ${among(reset)})`]),
    ];
    // Step i is counted when step i - 1 answered allowed: a row within its limit (`always`), or any
    // row at all (`if-within`, which answers none when it counted nothing).
    const counted = steps.map((step, index) => {
      const expired = sql`${rateLimitTable.windowStartedAt} <= ${timestampParam(now - step.limit.windowSeconds * 1000)}`;
      const previous = steps[index - 1];
      const reached =
        previous === undefined
          ? afterLocks
          : previous.counts === 'always'
            ? sql`EXISTS (SELECT 1 FROM ${sql.identifier(`step${index - 1}`)} WHERE hits <= ${previous.limit.max})`
            : sql`EXISTS (SELECT 1 FROM ${sql.identifier(`step${index - 1}`)})`;
      const within = step.counts === 'if-within' ? sql`WHERE ${expired} OR ${rateLimitTable.hits} < ${step.limit.max}` : sql``;
      return sql`${sql.identifier(`step${index}`)} AS (
        INSERT INTO ${rateLimitTable} (key, window_started_at, hits)
        SELECT ${digests[index]}, ${timestampParam(now)}, 1 WHERE ${reached}
        ON CONFLICT (key) DO UPDATE SET
          hits = CASE WHEN ${expired} THEN 1 ELSE ${rateLimitTable.hits} + 1 END,
          window_started_at = CASE WHEN ${expired} THEN ${timestampParam(now)} ELSE ${rateLimitTable.windowStartedAt} END
        ${within}
        RETURNING hits, window_started_at
      )`;
    });
    const answers = steps.map(
      (_, index) => sql`SELECT ${index}::int AS step, hits, (extract(epoch FROM window_started_at) * 1000)::float8 AS started_ms FROM ${sql.identifier(`step${index}`)}`,
    );
    const answer = await db.execute(sql`
      WITH locked AS (${lockInOrder([...digests, ...release, ...reset])}), ${sql.join([...settled, ...counted], sql`, `)}
      ${answers.length === 0 ? sql`SELECT NULL::int AS step WHERE false` : sql.join(answers, sql` UNION ALL `)}
    `);
    // Both drivers answer `{ rows }`; the shared database type leaves the result unknown.
    const rows = new Map((answer as { rows: CountedRow[] }).rows.map((row) => [row.step, row]));
    let reached = true;
    return steps.map((step, index) => {
      if (!reached) return null;
      const row = rows.get(index);
      const window = windowAt(row && { hits: row.hits, windowStartedAt: new Date(row.started_ms) }, step.limit, now);
      const verdict = { allowed: step.counts === 'if-within' ? row !== undefined : window.hits <= step.limit.max, retryAfterSeconds: window.retryAfterSeconds };
      reached = verdict.allowed;
      return verdict;
    });
  }

  return {
    hit,
    hitIfWithin: async (key, limit) => (await hitIfWithin(key, limit)).allowed,

    async release(key) {
      await db
        .update(rateLimitTable)
        .set({ hits: sql`GREATEST(${rateLimitTable.hits} - 1, 0)` })
        .where(eq(rateLimitTable.key, digest(key)));
    },

    async reset(key) {
      await db.delete(rateLimitTable).where(eq(rateLimitTable.key, digest(key)));
    },

    countInOrder,
    settle: async (keys) => {
      await countInOrder([], keys);
    },
  };
}
