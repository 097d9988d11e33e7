import type { Revocation } from './revocation-notice.js';
import type { TableEntry } from './table.js';

/** What the cache worker starts with. */
export interface CacheWorkerData {
  buffer: SharedArrayBuffer;
  /** The listener's stats (metrics/listener-stats.ts), which the request thread reads. */
  listenerStats: SharedArrayBuffer;
  /** Null on PGlite: one process, nothing to hear from other nodes. */
  listener: { connectionString: string; heartbeatIntervalMs: number; staleAfterMs: number } | null;
  sweepIntervalMs: number;
}

/** From the request thread to the worker. */
export type ToCacheWorker =
  | { type: 'fill'; entry: TableEntry; revocationsBefore: number; nowMs: number }
  | { type: 'forget'; id: number; revocation: Revocation }
  | { type: 'listScopeSets'; id: number }
  | { type: 'close' };

/** From the worker to the request thread. */
export type FromCacheWorker =
  | { type: 'forgotten'; id: number }
  /** The scope sets the table's entries hold, once every fill sent before the request has landed. */
  | { type: 'scopeSets'; id: number; inUse: number[] }
  | { type: 'closed' }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> };
