import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `work` on every item, starting them at `ratePerSecond` at most, with at most `concurrency`
 * running at once; resolves with the results, in the items' order, once all have ended.
 */
export async function paced<T, R>(items: readonly T[], limits: { ratePerSecond: number; concurrency: number }, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const started = performance.now();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      const dueMs = (index / limits.ratePerSecond) * 1000 - (performance.now() - started);
      // The one timed wait here is the pacing itself: an item is due at its place in the rate,
      // which is what a load test asks for; there is no condition to wait for instead.
      if (dueMs > 0) await sleep(dueMs);
      results[index] = await work(items[index] as T, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limits.concurrency, items.length) }, lane));
  return results;
}
