import { z } from 'zod';

/**
 * How this node hears revocations made on other nodes (PostgreSQL only; PGlite is one process).
 * A revoked token is refused everywhere at once while the listener hears, and within
 * `staleAfterMs + heartbeatIntervalMs` when its connection fails in any way.
 */
export const revocationListenerOptionsSchema = z
  .strictObject({
    /** A direct connection to the primary for LISTEN (not a transaction pooler). @default the pool's */
    connectionString: z.string().regex(/^postgres(ql)?:\/\//).optional(),
    /** @default 1000 */
    heartbeatIntervalMs: z.number().int().min(50).max(60_000).default(1000),
    /** At least twice `heartbeatIntervalMs`. @default 3000 */
    staleAfterMs: z.number().int().min(100).max(60_000).default(3000),
    /** `createAuth` fails if the listener cannot listen within this long. @default 30000 */
    startTimeoutMs: z.number().int().min(100).default(30_000),
  })
  .refine((listener) => listener.staleAfterMs >= 2 * listener.heartbeatIntervalMs, {
    message: 'staleAfterMs must be at least twice heartbeatIntervalMs, or every heartbeat would find the listener silent',
    path: ['staleAfterMs'],
  });

export type RevocationListenerPolicy = z.output<typeof revocationListenerOptionsSchema>;

export const tokenCacheOptionsSchema = z.strictObject({
  /** How many access tokens the in-memory table holds; beyond that the soonest to expire go. @default 100000 */
  capacity: z.number().int().min(16).max(16_777_216).default(100_000),
});
