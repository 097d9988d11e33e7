/*
 * The bulkhead every password hash passes through, shared fairly between clients. A call takes a
 * place first (before it counts anything anywhere), and hashes in that place when its turn comes:
 *   - at most `maxRunning` hashes run at once, and one client runs at most half of them (at least
 *     one), so while one client hashes flat out a slot stays free for everyone else;
 *   - places are bounded in all (`maxRunning + maxQueued`) and per client (`maxPerClient`): a
 *     client that holds its share is refused at once, whatever the others do;
 *   - when a slot frees, the clients waiting take turns (round robin), so a client with many calls
 *     waiting delays another by at most one hash each, never by the length of its queue.
 * A place with no client (the address is unknown) is a client of its own.
 */

import { BucketCounts } from '../metrics/bucket-counts.js';
import type { HistogramSnapshot } from '../metrics/bucket-counts.js';

/** Upper bounds, in seconds, of the histogram of how long a hash waited for its slot. */
const WAIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HashingBulkheadLimits {
  maxRunning: number;
  maxQueued: number;
  maxPerClient: number;
}

/** A client's place in the bulkhead, from `enter` until `leave`. */
export interface BulkheadPlace {
  /** Runs `work` once a slot is free and it is this client's turn. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place back; calling it again does nothing. */
  leave(): void;
}

/** The bulkhead as read by metrics. */
export interface HashingStats {
  /** Hashes running now. */
  running: number;
  /** Hashes waiting for a slot now. */
  waiting: number;
  /** Places refused so far (a client at its share, or every place taken). */
  refused: number;
  /** How long each hash started so far waited for its slot. */
  waitSeconds: HistogramSnapshot;
}

export interface HashingBulkhead {
  /** A place for `client`, or null when the client holds its share or every place is taken. */
  enter(client: string | null): BulkheadPlace | null;
  stats(): HashingStats;
}

interface ClientState {
  places: number;
  running: number;
  waiting: Array<() => void>;
}

export function createHashingBulkhead(limits: HashingBulkheadLimits): HashingBulkhead {
  const runningPerClient = Math.max(1, Math.floor(limits.maxRunning / 2));
  const clients = new Map<string | symbol, ClientState>();
  // Clients with a call waiting for a slot, in the order their turns come.
  const turns = new Map<string | symbol, ClientState>();
  let places = 0;
  let running = 0;
  let waiting = 0;
  let refused = 0;
  const waits = new BucketCounts(WAIT_BUCKETS_SECONDS);

  function start(state: ClientState): void {
    running++;
    state.running++;
  }

  function dispatch(): void {
    for (const [key, state] of turns) {
      if (running >= limits.maxRunning) return;
      if (state.running >= runningPerClient) continue;
      const next = state.waiting.shift();
      turns.delete(key);
      // Still waiting: to the back of the line.
      if (state.waiting.length > 0) turns.set(key, state);
      if (next) {
        start(state);
        next();
      }
    }
  }

  function forget(key: string | symbol, state: ClientState): void {
    if (state.places === 0 && state.running === 0 && state.waiting.length === 0) clients.delete(key);
  }

  return {
    enter(client) {
      const key = client ?? Symbol('a client without an address');
      const state = clients.get(key) ?? { places: 0, running: 0, waiting: [] };
      if (places >= limits.maxRunning + limits.maxQueued || state.places >= limits.maxPerClient) {
        refused++;
        return null;
      }
      clients.set(key, state);
      places++;
      state.places++;
      let left = false;

      return {
        async run(work) {
          if (running < limits.maxRunning && state.running < runningPerClient) {
            start(state);
            waits.observe(0);
          } else {
            const since = performance.now();
            waiting++;
            await new Promise<void>((resolve) => {
              state.waiting.push(resolve);
              if (!turns.has(key)) turns.set(key, state);
            });
            waiting--;
            waits.observe((performance.now() - since) / 1000);
          }
          try {
            return await work();
          } finally {
            running--;
            state.running--;
            dispatch();
            forget(key, state);
          }
        },
        leave() {
          if (left) return;
          left = true;
          places--;
          state.places--;
          forget(key, state);
        },
      };
    },
    stats: () => ({ running, waiting, refused, waitSeconds: waits.snapshot() }),
  };
}
