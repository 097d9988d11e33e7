import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import type { AuthDatabase } from '../db/connect.js';
import type { Clock, Logger } from './deps.js';
import { systemClock } from './deps.js';

/*
 * The kit's time authority is the database's clock. Every node reads its time from one synchronous
 * seam, the kit's `clock`, and by default that is this clock: the database's `clock_timestamp()`
 * measured at start, on every reconnect of the revocation listener and every `calibrateEverySeconds`,
 * carried forward between measurements by the process's monotonic clock. A node's own wall clock
 * (`local`) is never read for a decision, only measured against the database and reported: two
 * minutes ahead, or stepped back ten minutes by hand, it changes no expiry, grace window or
 * rate-limit window. docs/time.md argues the choice.
 */

/** How far one measurement may be from the database's time: half its round trip, kept only when at most this. */
export const CLOCK_SKEW_BOUND_MS = 1000;

/** A node whose own clock stands further than this from the database's is logged: its NTP is not working. */
export const LOCAL_CLOCK_WARNING_MS = 5000;

/** Measurements taken at each calibration; the one with the shortest round trip counts. */
const SAMPLES = 3;

/** How often a listener's reconnect is looked for, between the periodic calibrations. */
const RECONNECT_CHECK_MS = 1000;

/** What `databaseClock()` asks `createAuth` for: the database's time, measured on the kit's own database. */
export interface DatabaseClockRequest {
  readonly kind: 'database-clock';
  /** This node's own clock, measured against the database's and reported, never used for a decision. */
  readonly local: Clock;
  /** Seconds between calibrations, besides the one at start and at each listener reconnect. */
  readonly calibrateEverySeconds: number;
}

/**
 * The default clock of `createAuth`: the database's time as this node measures it. `local` is the
 * node's own clock, whose offset from the database's the kit reports (`auth.metrics().clock`).
 *
 * @example
 * const auth = await createAuth({ db, mail, clock: databaseClock({ calibrateEverySeconds: 30 }) });
 */
export function databaseClock(options: { local?: Clock; calibrateEverySeconds?: number } = {}): DatabaseClockRequest {
  const { local = systemClock, calibrateEverySeconds = 60 } = options;
  if (!(calibrateEverySeconds > 0)) throw new Error('databaseClock: calibrateEverySeconds must be a positive number of seconds');
  return { kind: 'database-clock', local, calibrateEverySeconds };
}

export function isDatabaseClockRequest(clock: unknown): clock is DatabaseClockRequest {
  return typeof clock === 'object' && clock !== null && (clock as DatabaseClockRequest).kind === 'database-clock';
}

/** What this node knows of its clocks, for metrics. */
export interface ClockStats {
  /** The database's time minus this node's own clock, at the last calibration. */
  offsetMs: number;
  /** Half the round trip of the measurement in use: how far `now()` may be from the database's time. */
  uncertaintyMs: number;
  calibrations: number;
  /** Calibrations that failed (the database did not answer) or were too imprecise to use. */
  failedCalibrations: number;
}

/** The database's time on this node: a `Clock`, measured again now and then. */
export interface CalibratedClock extends Clock {
  /** Measures the database's time again; keeps the last measurement if this one fails. */
  calibrate(): Promise<void>;
  stats(): ClockStats;
  stop(): void;
}

interface Measurement {
  databaseMs: number;
  monotonicMs: number;
  localMs: number;
  roundTripMs: number;
}

async function measure(db: AuthDatabase, local: Clock): Promise<Measurement> {
  const sentAt = performance.now();
  const localBefore = local.now();
  const answer = await db.execute(sql`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`);
  const receivedAt = performance.now();
  const localAfter = local.now();
  // Both drivers answer `{ rows }`; the shared database type leaves the result unknown.
  const [row] = (answer as { rows: [{ now_ms: number | string }] }).rows;
  // The database read its clock somewhere in the round trip; its middle is the best guess of when.
  return { databaseMs: Number(row.now_ms), monotonicMs: (sentAt + receivedAt) / 2, localMs: (localBefore + localAfter) / 2, roundTripMs: receivedAt - sentAt };
}

/**
 * Starts the database clock of `request` on `db`: resolves once the first measurement is in (so a
 * node never judges a time before it knows the database's), and measures again every
 * `calibrateEverySeconds` and whenever `listenerConnects()` grows.
 */
export async function startDatabaseClock(deps: { db: AuthDatabase; request: DatabaseClockRequest; logger: Logger; listenerConnects: () => number }): Promise<CalibratedClock> {
  const { db, request, logger } = deps;
  let base: Measurement | null = null;
  // The kit's time on one node never runs backwards, even when a new measurement is a little behind.
  let latestMs = 0;
  let warned = false;
  let calibrating: Promise<void> | null = null;
  const stats: ClockStats = { offsetMs: 0, uncertaintyMs: 0, calibrations: 0, failedCalibrations: 0 };

  async function calibrateOnce(): Promise<void> {
    let best: Measurement | null = null;
    try {
      for (let sample = 0; sample < SAMPLES; sample++) {
        const measured = await measure(db, request.local);
        if (!best || measured.roundTripMs < best.roundTripMs) best = measured;
      }
    } catch (error) {
      stats.failedCalibrations++;
      if (!base) throw error;
      logger.warn('could not measure the database clock; keeping the last measurement', { error: String(error) });
      return;
    }
    if (!best) return;
    if (best.roundTripMs / 2 > CLOCK_SKEW_BOUND_MS) {
      if (base) {
        stats.failedCalibrations++;
        logger.warn('the database clock measurement was too slow to use; keeping the last one', { roundTripMs: Math.round(best.roundTripMs) });
        return;
      }
      // A node that starts while its database is slow still starts: a measurement off by half a slow
      // round trip beats its own clock, and the next calibration that is quick replaces it.
      logger.warn('the database clock was measured while the database is slow; a quicker measurement will replace it', { roundTripMs: Math.round(best.roundTripMs) });
    }
    base = best;
    stats.calibrations++;
    stats.offsetMs = Math.round(best.databaseMs - best.localMs);
    stats.uncertaintyMs = Math.ceil(best.roundTripMs / 2);
    const off = Math.abs(stats.offsetMs) > LOCAL_CLOCK_WARNING_MS;
    if (off !== warned) {
      warned = off;
      if (off) logger.warn("this node's clock is off from the database's; the kit uses the database's time", { offsetMs: stats.offsetMs });
      else logger.info("this node's clock agrees with the database's again", { offsetMs: stats.offsetMs });
    }
  }

  function calibrate(): Promise<void> {
    calibrating ??= calibrateOnce().finally(() => (calibrating = null));
    return calibrating;
  }

  await calibrate();
  let connectsSeen = deps.listenerConnects();
  let lastCalibratedAt = performance.now();
  const ticker = setInterval(() => {
    const connects = deps.listenerConnects();
    const due = performance.now() - lastCalibratedAt >= request.calibrateEverySeconds * 1000;
    if (connects === connectsSeen && !due) return;
    connectsSeen = connects;
    lastCalibratedAt = performance.now();
    void calibrate().catch(() => {});
  }, RECONNECT_CHECK_MS);
  ticker.unref();

  return {
    now() {
      const measured = base as Measurement;
      latestMs = Math.max(latestMs, Math.round(measured.databaseMs + (performance.now() - measured.monotonicMs)));
      return latestMs;
    },
    calibrate,
    stats: () => ({ ...stats }),
    stop() {
      clearInterval(ticker);
    },
  };
}
