import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../deps.js';
import { ListenerStats } from '../metrics/listener-stats.js';
import type { ListenerSnapshot } from '../metrics/listener-stats.js';
import type { Revocation } from './revocation-notice.js';
import { TokenTable, allocateTableBuffer } from './table.js';
import type { FoundEntry, TableEntry } from './table.js';
import type { CacheWorkerData, FromCacheWorker, ToCacheWorker } from './worker-messages.js';

/*
 * The request thread's side of the token cache. Reads go straight to the shared table: no await, no
 * message. Writes go to the cache worker: fills without waiting, revocations waiting for the worker
 * to confirm, so a revocation made here is in force here before the revoking call returns. No entry
 * is trusted longer than `maxEntryAgeMs` after its fill, however long its token lives. If the
 * worker dies, nothing is trusted until a new one has taken over; every check reads the database
 * meanwhile.
 */

/** What the cache keeps of a verified access token. */
export type CachedAccessToken = TableEntry;

/** What the cache answers for one: the same, with its expiry also as a `Date`. */
export type FoundAccessToken = FoundEntry;

export interface TokenCache {
  /** The entry for a token hash; undefined on a miss, or while the cache is not trusted. */
  get(tokenHash: string): Readonly<FoundAccessToken> | undefined;
  /**
   * Whether entries count now: the worker runs and (on PostgreSQL) listens, and flushed the table
   * after it last started listening.
   */
  readonly trusted: boolean;
  /** What `get` answered so far: plain counts, read by metrics. */
  readonly lookups: { readonly hits: number; readonly misses: number };
  /** The revocation listener's stats; null on PGlite, which has none. */
  listenerStats(nowMs: number): ListenerSnapshot | null;
  /**
   * Counts the revocations applied so far. A database check notes it before its query and passes it
   * to `fill`; the fill is dropped if a revocation landed meanwhile, so it cannot undo one.
   */
  readonly revocations: number;
  fill(entry: CachedAccessToken, revocationsBefore: number): void;
  /** Resolves once no entry of the revoked sessions is left. */
  forget(revocation: Revocation): Promise<void>;
  /**
   * The scope-set numbers the table's entries hold, counting every fill sent before this call; null
   * when the worker went away meanwhile (its successor starts with an empty table).
   */
  scopeSetsInUse(): Promise<ReadonlySet<number> | null>;
  close(): Promise<void>;
}

export interface TokenCacheOptions {
  capacity: number;
  listener: CacheWorkerData['listener'];
  /** How long to wait for the cache to come into service (on PostgreSQL: to listen) before failing. */
  startTimeoutMs: number;
  /** The longest an entry is trusted without another look at the database (its expiry is capped there). @default 300000 */
  maxEntryAgeMs?: number;
  logger: Logger;
  now(): number;
}

const workerFile = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const SWEEP_INTERVAL_MS = 1000;
const MAX_RESTART_DELAY_MS = 5000;
const DEFAULT_MAX_ENTRY_AGE_MS = 300_000;

function startWorker(workerData: CacheWorkerData): Worker {
  if (!workerFile.pathname.endsWith('.ts')) return new Worker(workerFile, { workerData });
  // Run from TypeScript source (the kit's own tests, `npm start`), the worker first registers the
  // loader this thread runs under; the built package is plain JavaScript and needs none.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(workerFile.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Starts the cache worker and resolves once the cache is in service (on PostgreSQL: listening). */
export async function startTokenCache(options: TokenCacheOptions): Promise<TokenCache & { readonly worker: Worker }> {
  const buffer = allocateTableBuffer(options.capacity);
  const table = new TokenTable(buffer);
  const listenerBuffer = ListenerStats.allocate();
  const listenerStats = new ListenerStats(listenerBuffer);
  const lookups = { hits: 0, misses: 0 };
  // What waits for the worker's answer; given nothing when the worker dies first.
  const pending = new Map<number, (inUse?: number[]) => void>();
  let nextId = 0;
  let closing = false;
  let restartDelayMs = 100;
  let worker: Worker;
  let alive = false;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  function settlePending(): void {
    for (const resolve of pending.values()) resolve();
    pending.clear();
  }

  function spawn(): void {
    // The worker that wrote the table is gone: empty it and trust nothing until the next one listens.
    table.reset(false);
    const data: CacheWorkerData = { buffer, listenerStats: listenerBuffer, listener: options.listener, sweepIntervalMs: SWEEP_INTERVAL_MS };
    worker = startWorker(data);
    const spawnedAt = Date.now();
    alive = true;
    worker.unref();
    worker.on('message', (message: FromCacheWorker) => {
      if (message.type === 'forgotten' || message.type === 'scopeSets') {
        pending.get(message.id)?.(message.type === 'scopeSets' ? message.inUse : undefined);
        pending.delete(message.id);
      } else if (message.type === 'closed') {
        void worker.terminate();
      } else {
        options.logger[message.level](message.message, message.fields);
      }
    });
    worker.on('error', (error) => options.logger.error('token cache worker failed', { error: String(error) }));
    worker.on('exit', (code) => {
      alive = false;
      // Its listener went with it.
      listenerStats.lost();
      // Nothing cached counts now; a revocation waiting for the dead worker is in force all the same.
      settlePending();
      if (closing) return;
      // A worker that ran a while before it died gets a quick replacement; a crash loop slows down.
      if (Date.now() - spawnedAt > 10_000) restartDelayMs = 100;
      options.logger.error('token cache worker exited; restarting it', { code, inMs: restartDelayMs });
      setTimeout(() => {
        if (!closing) spawn();
      }, restartDelayMs).unref();
      restartDelayMs = Math.min(restartDelayMs * 2, MAX_RESTART_DELAY_MS);
    });
  }

  spawn();
  const readiness = setInterval(() => {
    if (table.trusted) {
      clearInterval(readiness);
      markReady();
    }
  }, 10);
  readiness.unref();
  let timedOut: () => void = () => {};
  const timeout = new Promise<void>((resolve) => (timedOut = resolve));
  const giveUp = setTimeout(timedOut, options.startTimeoutMs);
  giveUp.unref();
  await Promise.race([ready, timeout]);
  clearTimeout(giveUp);

  function post(message: ToCacheWorker): void {
    worker.postMessage(message);
  }

  const cache: TokenCache & { readonly worker: Worker } = {
    get worker() {
      return worker;
    },
    get(tokenHash) {
      const entry = alive && table.trusted ? table.lookup(tokenHash) : undefined;
      if (entry) lookups.hits++;
      else lookups.misses++;
      return entry;
    },
    get trusted() {
      return alive && table.trusted;
    },
    lookups,
    listenerStats(nowMs) {
      return options.listener ? listenerStats.snapshot(nowMs) : null;
    },
    get revocations() {
      return table.revocations;
    },
    fill(entry, revocationsBefore) {
      if (!alive) return;
      const nowMs = options.now();
      // Past this the entry counts as expired and the next check reads the database again, so even
      // a change no notice announced (a row deleted by hand) ends access within maxEntryAgeMs.
      const trustedUntilMs = nowMs + (options.maxEntryAgeMs ?? DEFAULT_MAX_ENTRY_AGE_MS);
      post({ type: 'fill', entry: entry.expiresAtMs > trustedUntilMs ? { ...entry, expiresAtMs: trustedUntilMs } : entry, revocationsBefore, nowMs });
    },
    forget(revocation) {
      if (!alive) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve) => {
        pending.set(id, () => resolve());
        post({ type: 'forget', id, revocation });
      });
    },
    scopeSetsInUse() {
      if (!alive) return Promise.resolve(null);
      const id = nextId++;
      return new Promise<ReadonlySet<number> | null>((resolve) => {
        pending.set(id, (inUse) => resolve(inUse ? new Set(inUse) : null));
        post({ type: 'listScopeSets', id });
      });
    },
    async close() {
      closing = true;
      clearInterval(readiness);
      if (!alive) return;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      post({ type: 'close' });
      // The worker says goodbye once its listener has; one that cannot is stopped all the same.
      const stopAnyway = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(stopAnyway);
      settlePending();
    },
  };
  if (!table.trusted) {
    await cache.close();
    throw new Error(`createAuth: the token cache could not listen for revocations within ${options.startTimeoutMs} ms (see the log)`);
  }
  return cache;
}
