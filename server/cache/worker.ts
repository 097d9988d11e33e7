import { parentPort, workerData } from 'node:worker_threads';
import { ListenerStats } from '../metrics/listener-stats.js';
import { batchRevocations } from './revocation-batch.js';
import { startRevocationListener } from './revocation-listener.js';
import { TokenTable } from './table.js';
import type { CacheWorkerData, FromCacheWorker, ToCacheWorker } from './worker-messages.js';

/*
 * The cache worker: the one thread that writes the token table. It fills it with what the request
 * thread verified in the database, forgets revoked sessions (this node's, and every other node's,
 * heard on the PostgreSQL listener it owns), sweeps out expired entries, and flushes the table and
 * withdraws trust while its listener cannot hear. A revocation thus lands in the table even while
 * the request thread is busy.
 */

const data = workerData as CacheWorkerData;
const port = parentPort;
if (!port) throw new Error('the cache worker runs in a worker thread');
const table = new TokenTable(data.buffer);
/** How far the kit's clock stands from this thread's `Date.now()`, as the last fill said. */
let kitClockAheadMs = 0;

function send(message: FromCacheWorker): void {
  port?.postMessage(message);
}

// Revocations that arrive together are applied together (revocation-batch.ts).
const forget = batchRevocations(table);

const log = (level: 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => send({ type: 'log', level, message, fields });

const listener = data.listener
  ? startRevocationListener({
      connection: { connectionString: data.listener.connectionString },
      heartbeatIntervalMs: data.listener.heartbeatIntervalMs,
      staleAfterMs: data.listener.staleAfterMs,
      onRevocation: (revocation) => forget(revocation),
      // Notices missed while deaf are gone for good: whatever the table held then is not to be trusted.
      onTrustChange: (trusted) => table.reset(trusted),
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
      stats: new ListenerStats(data.listenerStats),
    })
  : null;
if (!listener) table.reset(true);

port.on('message', (message: ToCacheWorker) => {
  switch (message.type) {
    case 'fill':
      // Entries expire by the kit's clock (the database's time by default), which every fill carries.
      kitClockAheadMs = message.nowMs - Date.now();
      // A revocation applied since the request thread read the database may concern this entry.
      if (table.revocations === message.revocationsBefore) table.insert(message.entry, message.nowMs);
      break;
    case 'forget':
      forget(message.revocation, () => send({ type: 'forgotten', id: message.id }));
      break;
    case 'listScopeSets':
      send({ type: 'scopeSets', id: message.id, inUse: table.scopeSetsInUse() });
      break;
    case 'close':
      clearInterval(sweeper);
      void (listener?.close() ?? Promise.resolve()).then(() => send({ type: 'closed' }));
      break;
  }
});

const sweeper = setInterval(() => table.sweep(Date.now() + kitClockAheadMs), data.sweepIntervalMs);
