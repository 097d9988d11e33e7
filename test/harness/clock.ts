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
