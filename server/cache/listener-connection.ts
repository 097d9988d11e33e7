import { PGlite } from '@electric-sql/pglite';
import { clientOf } from '../../db/database-client.js';
import type { ResolvedAuthOptions } from '../options.js';
import type { CacheWorkerData } from './worker-messages.js';

/**
 * How the cache worker reaches PostgreSQL to listen for revocations: `revocationListener.connectionString`,
 * or the connection string the pool was made with (as `connectDatabase` makes it). A pool built from
 * separate settings has no string to pass into the worker thread: its password and TLS settings do
 * not survive the trip, so the option is then required. Null on PGlite, which serves one process.
 */
export function revocationListenerFor(options: ResolvedAuthOptions): CacheWorkerData['listener'] {
  const pool = clientOf(options.db);
  if (pool instanceof PGlite) return null;
  const { heartbeatIntervalMs, staleAfterMs } = options.revocationListener;
  const connectionString = options.revocationListener.connectionString ?? pool.options.connectionString;
  if (!connectionString) {
    throw new Error('createAuth: revocationListener.connectionString is required when the pool was not made from a connection string');
  }
  return { connectionString, heartbeatIntervalMs, staleAfterMs };
}
