import type { AuthDatabase } from '../../db/connect.js';
import type { Clock, Logger, RandomSource } from '../deps.js';
import { CLEANED_TABLES, deleteStaleBatch, tryCleanupLock } from './stale-rows.js';
import type { CleanedTable, StalePolicy } from './stale-rows.js';

/*
 * The cleaner: every `intervalMs` each node tries a run, which deletes what nothing will use again
 * (stale-rows.ts) in batches of at most `batchSize` rows, table by table, each batch its own short
 * transaction. A batch first takes an advisory lock: a node that finds it taken leaves the run to
 * the node holding it, so nodes clean one at a time and never fight over the same rows. A run stops
 * after `maxBatchesPerRun` batches per table, and what is left waits for the next run, so a backlog
 * (a first run on an old database) never makes one long burst of work. Times come from the injected
 * clock; the first run of a node waits a random part of the interval, so nodes started together
 * spread out.
 *
 * Last, unused anonymous accounts (anonymous/unused-anonymous.ts), as `anonymousUsers`: a batch is
 * found while the lock is free, and each account goes in a transaction of its own through the
 * deletion verb, which announces the end of its tokens to every node.
 */

export interface CleanupPolicy extends StalePolicy {
  /** 0: no schedule (`run` still works). */
  intervalMs: number;
  batchSize: number;
  maxBatchesPerRun: number;
}

/** Rows deleted, by table (`anonymousUsers`: accounts, each with everything of theirs). */
export type CleanedRows = Record<CleanedTable | 'anonymousUsers', number>;

/** Deletes up to `limit` unused anonymous accounts and says how many went. */
export type AnonymousSweep = (batch: { nowMs: number; limit: number }) => Promise<number>;

/** What one run did: rows deleted by table, and whether another node was cleaning (this run then stopped). */
export interface CleanupRun {
  deleted: CleanedRows;
  yielded: boolean;
}

/** The cleaner as read by metrics. */
export interface CleanupStats {
  /** Runs finished on this node. */
  runs: number;
  /** Runs that failed (the database unavailable, say); the next one tries again. */
  failures: number;
  /** Rows this node deleted so far, by table. */
  deleted: CleanedRows;
  /** When the last run finished, by the kit's clock (ms); null before the first. */
  lastRunAtMs: number | null;
}

export interface Cleaner {
  /** Runs once now (waiting for a run already going on this node) and says what it deleted. */
  run(): Promise<CleanupRun>;
  stats(): CleanupStats;
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

const noRows = (): CleanedRows => ({ sessions: 0, accessTokens: 0, links: 0, apiTokens: 0, rateLimits: 0, oauthFlows: 0, anonymousUsers: 0 });

export function startCleaner(deps: {
  db: AuthDatabase;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  policy: CleanupPolicy;
  sweepAnonymous: AnonymousSweep;
}): Cleaner {
  const { db, clock, logger, policy } = deps;
  const stats: CleanupStats = { runs: 0, failures: 0, deleted: noRows(), lastRunAtMs: null };
  let running: Promise<CleanupRun> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  async function cleanOnce(): Promise<CleanupRun> {
    const deleted = noRows();
    for (const table of CLEANED_TABLES) {
      for (let batch = 0; batch < policy.maxBatchesPerRun; batch++) {
        const nowMs = clock.now();
        const count = await db.transaction(async (tx) => ((await tryCleanupLock(tx)) ? deleteStaleBatch(tx, table, { policy, nowMs, limit: policy.batchSize }) : null));
        if (count === null) return { deleted, yielded: true };
        deleted[table] += count;
        stats.deleted[table] += count;
        if (count < policy.batchSize) break;
        await betweenBatches();
      }
    }
    for (let batch = 0; batch < policy.maxBatchesPerRun; batch++) {
      if (!(await db.transaction(tryCleanupLock))) return { deleted, yielded: true };
      const count = await deps.sweepAnonymous({ nowMs: clock.now(), limit: policy.batchSize });
      deleted.anonymousUsers += count;
      stats.deleted.anonymousUsers += count;
      if (count < policy.batchSize) break;
      await betweenBatches();
    }
    return { deleted, yielded: false };
  }

  // Between batches, the requests waiting on this thread go first.
  function betweenBatches(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  function run(): Promise<CleanupRun> {
    running ??= cleanOnce()
      .then(
        (done) => {
          stats.runs++;
          stats.lastRunAtMs = clock.now();
          return done;
        },
        (error: unknown) => {
          stats.failures++;
          throw error;
        },
      )
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopped || policy.intervalMs === 0) return;
    timer = setTimeout(() => {
      run()
        .catch((error: unknown) => {
          logger.warn('cleanup run failed; the next one tries again', { error: String(error) });
        })
        .finally(() => schedule(policy.intervalMs));
    }, delayMs);
    timer.unref();
  }

  const jitter = deps.random(4);
  schedule(Math.floor((new DataView(jitter.buffer, jitter.byteOffset, 4).getUint32(0) / 2 ** 32) * policy.intervalMs) + 1);

  return {
    run,
    stats: () => ({ ...stats, deleted: { ...stats.deleted } }),
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
