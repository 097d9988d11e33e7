import { PGlite } from '@electric-sql/pglite';
import type { ResolvedAuthOptions } from '../options.js';
import type { CacheWorkerData } from './worker-messages.js';

/**
 * How the cache worker reaches PostgreSQL to listen for revocations: the configured connection
 * string, or the pool's own settings (the plain values of them: they cross into the worker thread).
 * Null on PGlite, which serves one process.
 */
export function revocationListenerFor(options: ResolvedAuthOptions): CacheWorkerData['listener'] {
  const pool = options.db.$client;
  if (pool instanceof PGlite) return null;
  const { connectionString, heartbeatIntervalMs, staleAfterMs } = options.revocationListener;
  const connection = connectionString
    ? { connectionString }
    : Object.fromEntries(Object.entries(pool.options).filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value)));
  return { connection, heartbeatIntervalMs, staleAfterMs };
}
