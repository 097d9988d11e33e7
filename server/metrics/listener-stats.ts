import { BucketCounts } from './bucket-counts.js';
import type { HistogramSnapshot } from './bucket-counts.js';

/*
 * What the revocation listener did, in shared memory: the cache worker, which owns the listener,
 * writes it as things happen, and the request thread reads it when metrics are read, with no
 * message between them. Times are this process's wall clock, so the silence it reports is exact;
 * the propagation lag compares the sender's clock with this one, and so includes their skew.
 */

/** Upper bounds, in seconds, of the revocation propagation histogram. */
export const PROPAGATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const CONNECTED = 0;
const LAST_HEARD_AT_MS = 1;
const CONNECTS = 2;
const LOSSES = 3;
const REVOCATIONS_HEARD = 4;
const FIELDS = 5;

/** The listener as read. */
export interface ListenerSnapshot {
  /** Listening now. */
  connected: boolean;
  /** Seconds since it last heard anything on the channel (its own heartbeat included); null before it first did. */
  silenceSeconds: number | null;
  /** Times it started listening (the first included): more than one means it reconnected. */
  connects: number;
  /** Times it stopped hearing (connection lost or silent), after which the cache was flushed. */
  losses: number;
  /** Revocation notices heard, from every node (this one's included). */
  revocationsHeard: number;
  /** Seconds from a notice's sending (the sender's clock) to its arrival here (this one's). */
  propagationSeconds: HistogramSnapshot;
}

export class ListenerStats {
  readonly #fields: BigInt64Array;
  readonly #lag: BucketCounts;

  /** The shared memory a listener's stats live in. */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer((FIELDS + BucketCounts.slotsFor(PROPAGATION_BUCKETS_SECONDS)) * 8);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.#fields = new BigInt64Array(buffer, 0, FIELDS);
    this.#lag = new BucketCounts(PROPAGATION_BUCKETS_SECONDS, { buffer, byteOffset: FIELDS * 8 });
  }

  /** It listens (again); nothing has been missed from here on. */
  connected(atMs: number): void {
    Atomics.store(this.#fields, LAST_HEARD_AT_MS, BigInt(atMs));
    Atomics.store(this.#fields, CONNECTED, 1n);
    Atomics.add(this.#fields, CONNECTS, 1n);
  }

  /** It stopped hearing; a loss is counted once, however many parts notice it. */
  lost(): void {
    if (Atomics.compareExchange(this.#fields, CONNECTED, 1n, 0n) === 1n) Atomics.add(this.#fields, LOSSES, 1n);
  }

  /** Something arrived on the channel. */
  heard(atMs: number): void {
    Atomics.store(this.#fields, LAST_HEARD_AT_MS, BigInt(atMs));
  }

  /** A revocation notice arrived, sent at `sentAtMs` by its sender's clock (null: a notice without the time). */
  revocationHeard(sentAtMs: number | null, atMs: number): void {
    Atomics.add(this.#fields, REVOCATIONS_HEARD, 1n);
    // A notice is anyone's to send (any role may NOTIFY): a made-up time can skew this figure, nothing else.
    if (sentAtMs !== null) this.#lag.observe(Math.max(0, atMs - sentAtMs) / 1000);
  }

  snapshot(nowMs: number): ListenerSnapshot {
    const lastHeardAtMs = Number(Atomics.load(this.#fields, LAST_HEARD_AT_MS));
    return {
      connected: Atomics.load(this.#fields, CONNECTED) === 1n,
      silenceSeconds: lastHeardAtMs === 0 ? null : Math.max(0, nowMs - lastHeardAtMs) / 1000,
      connects: Number(Atomics.load(this.#fields, CONNECTS)),
      losses: Number(Atomics.load(this.#fields, LOSSES)),
      revocationsHeard: Number(Atomics.load(this.#fields, REVOCATIONS_HEARD)),
      propagationSeconds: this.#lag.snapshot(),
    };
  }
}
