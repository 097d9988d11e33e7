import { z } from 'zod';

/**
 * Deleting what nothing will use again: revoked and expired sessions and API tokens, expired access
 * tokens and links, rate-limit counters whose window is over, expired OAuth flows, anonymous accounts
 * left unused (`anonymous.deleteUnusedAfterSeconds`). Every node tries every `intervalMs`; one cleans
 * at a time (an advisory lock), in batches. `auth.cleanUp()` runs it at once.
 */
export const cleanupOptionsSchema = z.strictObject({
  /** How often each node tries a run (the first after a random part of it); 0 turns the schedule off. @default 60000 */
  intervalMs: z
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .default(60_000)
    .refine((interval) => interval === 0 || interval >= 100, { message: 'at least 100 ms, or 0 for no schedule' }),
  /** Rows one batch deletes at most; each batch is a transaction of its own. @default 1000 */
  batchSize: z.number().int().min(1).max(100_000).default(1000),
  /** Batches per table in one run; what is left waits for the next run. @default 20 */
  maxBatchesPerRun: z.number().int().min(1).max(10_000).default(20),
  /**
   * How long a revoked or expired session or API token, an expired access token and an expired link
   * are kept before they go: until then a client that presents one is told it expired or was
   * revoked, not that it names nothing. @default 604800 (7 days)
   */
  keepEndedSeconds: z.number().int().min(0).default(604_800),
});

export type CleanupPolicy = z.output<typeof cleanupOptionsSchema>;
