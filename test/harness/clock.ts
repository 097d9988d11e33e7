import type { Clock } from '../../server/index.js';

/** A clock that stands still until a test moves it. */
export function createManualClock(startMs = Date.now()) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advanceSeconds(seconds: number): void {
      nowMs += seconds * 1000;
    },
  } satisfies Clock & Record<string, unknown>;
}

export type ManualClock = ReturnType<typeof createManualClock>;

/**
 * A clock that runs with real time and that a test moves ahead: for a server whose clients keep
 * real timers (a refresh scheduled ahead of expiry), where a clock standing still would stop them.
 */
export function createRunningClock() {
  let aheadMs = 0;
  return {
    now: () => Date.now() + aheadMs,
    advanceSeconds(seconds: number): void {
      aheadMs += seconds * 1000;
    },
  } satisfies Clock & Record<string, unknown>;
}
