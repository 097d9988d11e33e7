import type { RateLimiter } from '../limits/rate-limits.js';

/*
 * Refusals by the shared rate-limit counters, counted by the kind of limit: the part of the key
 * before its first colon (`failures-ip`, `login-account`, `mail`, …), which the kit's code writes,
 * never a client. What a client's in-memory token tally refuses shows among the token checks instead.
 */

/** Refusals so far, by kind of limit. */
export type RateLimitRefusals = Record<string, number>;

const KIND = /^[a-z-]{1,40}(?=:)/;

/**
 * `limiter`, counting each hit it refuses into `refusals`; `count` counts a refusal of `key` answered
 * before the limiter was asked (the refusal gate's).
 */
export function countRefusals(limiter: RateLimiter): { limiter: RateLimiter; refusals: RateLimitRefusals; count: (key: string) => void } {
  const refusals: RateLimitRefusals = {};
  const refused = (key: string) => {
    const kind = KIND.exec(key)?.[0] ?? 'other';
    refusals[kind] = (refusals[kind] ?? 0) + 1;
  };
  return {
    refusals,
    count: refused,
    limiter: {
      ...limiter,
      async hit(key, limit, weight) {
        const verdict = await limiter.hit(key, limit, weight);
        if (!verdict.allowed) refused(key);
        return verdict;
      },
      async countInOrder(steps, settling) {
        const verdicts = await limiter.countInOrder(steps, settling);
        verdicts.forEach((verdict, index) => {
          const step = steps[index];
          if (verdict && !verdict.allowed && step) refused(step.key);
        });
        return verdicts;
      },
      async hitIfWithin(key, limit) {
        const counted = await limiter.hitIfWithin(key, limit);
        if (!counted) refused(key);
        return counted;
      },
    },
  };
}
