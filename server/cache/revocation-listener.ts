import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Logger } from '../deps.js';
import type { ListenerStats } from '../metrics/listener-stats.js';
import { REVOCATION_CHANNEL, readRevocationNotice } from './revocation-notice.js';
import type { Revocation } from './revocation-notice.js';

/*
 * The node's ear on the revocation channel: one dedicated PostgreSQL connection (never a pooled one:
 * LISTEN belongs to a session) that hears every node's revocations.
 *
 * PostgreSQL does not replay notices sent while a listener was away, and a half-open connection
 * looks alive but hears nothing. So the listener pings itself through the channel every heartbeat;
 * when nothing at all came back for `staleAfterMs`, or the connection fails, the cache is no longer
 * trusted (every check reads the database) until the listener has connected and listened again, and
 * the cache, flushed, is trusted afresh. A revoked token is therefore accepted by a cache for at most
 * `staleAfterMs` plus one heartbeat after its revocation, however the connection fails.
 */

export interface RevocationListenerOptions {
  connection: pg.ClientConfig;
  onRevocation(revocation: Revocation): void;
  /** False when the listener stops hearing; true once it hears again (the cache must be flushed then). */
  onTrustChange(trusted: boolean): void;
  logger: Logger;
  /** Where it records what it hears and when it connects or loses its connection (for metrics). */
  stats: ListenerStats;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
}

export interface RevocationListener {
  /** Resolves once the listener has listened for the first time. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const PING = 'ping';
const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000];

export function startRevocationListener(options: RevocationListenerOptions): RevocationListener {
  const { logger } = options;
  let client: pg.Client | null = null;
  // Silence is timed on the monotonic clock: a wall clock stepped back must not hide a dead connection.
  let lastHeardMonotonicMs = 0;
  let closed = false;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  function lose(lost: pg.Client, why: string): void {
    if (client !== lost) return;
    client = null;
    options.stats.lost();
    options.onTrustChange(false);
    logger.warn('revocation listener lost; checking tokens in the database until it is back', { why });
    lost.removeAllListeners('notification');
    // Not awaited: on a black-holed connection the goodbye never completes.
    lost.end().catch(() => {});
    if (!closed) void connect();
  }

  async function connect(): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      const candidate = new pg.Client({
        ...options.connection,
        application_name: 'trpc-auth-kit-listener',
        keepAlive: true,
        // A connection attempt into a dead network path would otherwise wait forever.
        connectionTimeoutMillis: Math.max(options.staleAfterMs, 2000),
      });
      candidate.on('error', (error) => lose(candidate, String(error)));
      candidate.on('end', () => lose(candidate, 'connection ended'));
      candidate.on('notification', (notice) => {
        if (notice.channel !== REVOCATION_CHANNEL) return;
        const heardAt = Date.now();
        lastHeardMonotonicMs = performance.now();
        options.stats.heard(heardAt);
        if (notice.payload === PING || notice.payload === undefined) return;
        const read = readRevocationNotice(notice.payload);
        if (!read) return;
        options.onRevocation(read.revocation);
        options.stats.revocationHeard(read.sentAtMs, heardAt);
      });
      try {
        await candidate.connect();
        await candidate.query(`LISTEN ${REVOCATION_CHANNEL}`);
        if (closed) {
          await candidate.end();
          return;
        }
        client = candidate;
        lastHeardMonotonicMs = performance.now();
        options.onTrustChange(true);
        options.stats.connected(Date.now());
        markReady();
        return;
      } catch (error) {
        candidate.removeAllListeners();
        candidate.on('error', () => {});
        candidate.end().catch(() => {});
        if (attempt === 0) logger.warn('revocation listener cannot listen yet; retrying', { error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]));
      }
    }
  }

  const heartbeat = setInterval(() => {
    const current = client;
    if (!current) return;
    if (performance.now() - lastHeardMonotonicMs > options.staleAfterMs) {
      lose(current, `nothing heard for ${options.staleAfterMs} ms`);
      return;
    }
    current.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, PING]).catch(() => {});
  }, options.heartbeatIntervalMs);
  heartbeat.unref();

  void connect();

  return {
    ready,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      const current = client;
      client = null;
      if (current) {
        current.removeAllListeners('end');
        await current.end().catch(() => {});
      }
    },
  };
}
