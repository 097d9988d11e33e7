import type { RateLimiter, RateVerdict } from './rate-limits.js';

/*
 * A node's memory of the shared counters' refusals, in front of them. Once the counter has said a key
 * is over its limit, every later hit on it in the same window would be refused too (a hit only adds),
 * so this node answers those from memory, with no query: a client flooding past its allowance costs
 * the database nothing more until its window ends.
 *
 * The shared counter stays the authority: memory only repeats a refusal the counter gave, for no
 * longer than the counter's window lasts (the whole seconds of `Retry-After`, less one, since that
 * figure is rounded up), and admits nothing. A key this node releases or resets is forgotten at once,
 * and the next hit asks the counter again. What another node gives back (a success there) is heard
 * at the window's end; until then this node refuses a little longer than the counter would, never
 * less. The memory holds at most `maxKeys` refusals; beyond that the oldest is forgotten, which costs a
 * query later, never a wrong admission.
 */

/** How many refusals a node remembers by default: a few megabytes at most, however long the keys. */
export const REMEMBERED_REFUSALS = 10_000;

/** A limiter with a memory of its refusals, which a request can be judged by before any work. */
export interface RememberingLimiter extends RateLimiter {
  /**
   * The seconds of `Retry-After` while this node remembers the counter refusing `key`, else null.
   * Counts nothing: a hit on `key` now would be refused from memory all the same.
   */
  refusedFor(key: string): number | null;
}

/** `limiter`, answering a hit from memory while the counter's last refusal of its key still holds. */
export function rememberRefusals(limiter: RateLimiter, deps: { now: () => number; maxKeys?: number }): RememberingLimiter {
  const { now, maxKeys = REMEMBERED_REFUSALS } = deps;
  // By key, in the order the refusals were learnt: refused until `untilMs`; `retryAtMs` is when the
  // counter said to come back (its rounded-up figure, which `Retry-After` goes on saying).
  const refusedUntil = new Map<string, { untilMs: number; retryAtMs: number }>();

  function remember(key: string, verdict: RateVerdict, nowMs: number): void {
    const untilMs = nowMs + (verdict.retryAfterSeconds - 1) * 1000;
    if (untilMs <= nowMs) return;
    refusedUntil.delete(key);
    if (refusedUntil.size >= maxKeys) {
      const oldest = refusedUntil.keys().next();
      if (!oldest.done) refusedUntil.delete(oldest.value);
    }
    refusedUntil.set(key, { untilMs, retryAtMs: nowMs + verdict.retryAfterSeconds * 1000 });
  }

  function refusedFor(key: string, nowMs: number): number | null {
    const refused = refusedUntil.get(key);
    if (refused === undefined) return null;
    if (refused.untilMs > nowMs) return Math.ceil((refused.retryAtMs - nowMs) / 1000);
    refusedUntil.delete(key);
    return null;
  }

  return {
    refusedFor: (key) => refusedFor(key, now()),
    async hit(key, limit, weight) {
      const retryAfterSeconds = refusedFor(key, now());
      if (retryAfterSeconds !== null) return { allowed: false, retryAfterSeconds };
      const verdict = await limiter.hit(key, limit, weight);
      if (!verdict.allowed) remember(key, verdict, now());
      return verdict;
    },
    // A refused `hitIfWithin` counts nothing and a success elsewhere frees a place for it at once:
    // there is no refusal that lasts to remember.
    hitIfWithin: (key, limit) => limiter.hitIfWithin(key, limit),
    async countInOrder(steps, settling) {
      for (const key of [...(settling?.release ?? []), ...(settling?.reset ?? [])]) refusedUntil.delete(key);
      // A step that always counts and that memory refuses is refused from memory; the steps before
      // it are still counted, as the counter would have counted them.
      const nowMs = now();
      const remembered = steps.map((step) => (step.counts === 'always' ? refusedFor(step.key, nowMs) : null));
      const refusedAt = remembered.findIndex((seconds) => seconds !== null);
      const asked = refusedAt === -1 ? steps : steps.slice(0, refusedAt);
      const verdicts = await limiter.countInOrder(asked, settling);
      asked.forEach((step, index) => {
        const verdict = verdicts[index];
        if (step.counts === 'always' && verdict && !verdict.allowed) remember(step.key, verdict, now());
      });
      const reached = verdicts.every((verdict) => verdict?.allowed === true);
      const rest = steps.slice(asked.length).map((_, index): RateVerdict | null => {
        const retryAfterSeconds = remembered[refusedAt];
        return index === 0 && reached && retryAfterSeconds != null ? { allowed: false, retryAfterSeconds } : null;
      });
      return [...verdicts, ...rest];
    },
    settle(keys) {
      for (const key of [...keys.release, ...keys.reset]) refusedUntil.delete(key);
      return limiter.settle(keys);
    },
    release(key) {
      refusedUntil.delete(key);
      return limiter.release(key);
    },
    reset(key) {
      refusedUntil.delete(key);
      return limiter.reset(key);
    },
  };
}
