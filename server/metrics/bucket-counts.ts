/*
 * A histogram kept as plain counts in fixed buckets, in memory that may be shared between threads:
 * the cache worker observes how late revocations arrive, and the request thread reads the counts only
 * when metrics are read. Observing is a few atomic adds, no allocation. One thread observes; a reader
 * may see a count one observation ahead of the sum, which a scrape tolerates.
 */

/** A histogram as read: cumulative counts per upper bound (the last is +Inf), their number and sum. */
export interface HistogramSnapshot {
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

/** The sum is kept in millionths of the unit: an integer, so that Atomics can add to it. */
const SUM_SCALE = 1e6;

export class BucketCounts {
  readonly #bounds: readonly number[];
  readonly #slots: BigInt64Array;

  /** How many 8-byte slots a histogram with `bounds` takes: one per bound, one for +Inf, one for the sum. */
  static slotsFor(bounds: readonly number[]): number {
    return bounds.length + 2;
  }

  /** `bounds` ascending; the counts live in `memory` from `byteOffset` (its own buffer by default). */
  constructor(bounds: readonly number[], memory: { buffer: ArrayBufferLike; byteOffset: number } = { buffer: new ArrayBuffer(BucketCounts.slotsFor(bounds) * 8), byteOffset: 0 }) {
    this.#bounds = bounds;
    this.#slots = new BigInt64Array(memory.buffer, memory.byteOffset, BucketCounts.slotsFor(bounds));
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let bucket = 0;
    while (bucket < this.#bounds.length && value > (this.#bounds[bucket] as number)) bucket++;
    Atomics.add(this.#slots, bucket, 1n);
    Atomics.add(this.#slots, this.#bounds.length + 1, BigInt(Math.round(value * SUM_SCALE)));
  }

  snapshot(): HistogramSnapshot {
    const buckets: HistogramSnapshot['buckets'] = [];
    let count = 0;
    for (let bucket = 0; bucket <= this.#bounds.length; bucket++) {
      count += Number(Atomics.load(this.#slots, bucket));
      buckets.push({ le: this.#bounds[bucket] ?? Infinity, count });
    }
    return { buckets, count, sum: Number(Atomics.load(this.#slots, this.#bounds.length + 1)) / SUM_SCALE };
  }
}
