import { Socket } from 'node:net';
import pg from 'pg';

/*
 * A pg pool whose connections cannot hold a request for ever, nor leak, when the server stops
 * answering. Each connection lent out (to a query, or to a transaction until it is released):
 *
 * - is dropped when the server has sent nothing on it for `silenceMs`. The server's own
 *   statement_timeout cancels a slow statement, but a server that is gone, or a network path that
 *   swallows bytes, cancels nothing; dropping the socket fails the statement and everything queued
 *   behind it (a transaction's ROLLBACK among them) at once;
 * - is dropped when it has been lent for `leaseMs`: each statement of a slow server may come back
 *   within the bounds above, yet a transaction of five of them would hold its request for five
 *   times as long (the server rolls back what the dropped connection left open);
 * - goes back to the pool, to be discarded, as soon as its connection is lost, even if its borrower
 *   never releases it (drizzle does not when BEGIN fails), so lost connections cannot fill the pool;
 * - has an error listener for the rest of its life: pg reports a connection lost between two
 *   statements as an `error` event, which with no listener would end the process, and a server
 *   going down (a restart: "terminating connection due to administrator command") reaches
 *   connections at any point, lent, given back or being ended by the pool.
 */

/** A connection lent for longer than a transaction may take; the connection is dropped. */
export class DatabaseLeaseExpiredError extends Error {
  constructor(leaseMs: number) {
    super(`a database connection was held for ${leaseMs} ms; connection dropped`);
    this.name = 'DatabaseLeaseExpiredError';
  }
}

/** A lent connection on which the server said nothing for too long; the connection is dropped. */
export class DatabaseSilenceError extends Error {
  constructor(silenceMs: number) {
    super(`the database sent nothing for ${silenceMs} ms; connection dropped`);
    this.name = 'DatabaseSilenceError';
  }
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, release: (release?: Error | boolean) => void) => void;

export class BoundedPool extends pg.Pool {
  readonly #silenceMs: number;
  readonly #leaseMs: number;
  /** The connections that already carry the error listener every lent connection gets. */
  readonly #guarded = new WeakSet<pg.PoolClient>();

  constructor(config: pg.PoolConfig, limits: { silenceMs: number; leaseMs: number }) {
    super(config);
    this.#silenceMs = limits.silenceMs;
    this.#leaseMs = limits.leaseMs;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    // The pool's own `query` borrows through the callback form, drizzle's transactions through the promise.
    if (!callback) return super.connect().then((client) => this.#lend(client));
    super.connect((error, client, release) => {
      if (!client) return callback(error, client, release);
      const lent = this.#lend(client);
      callback(error, lent, (releaseError) => lent.release(releaseError));
    });
  }

  #lend(client: pg.PoolClient): pg.PoolClient {
    const silenceMs = this.#silenceMs;
    const stream = client instanceof pg.Client ? client.connection.stream : null;
    const socket = stream instanceof Socket ? stream : null;
    const release = client.release.bind(client);
    let returned = false;
    const onSilence = () => socket?.destroy(new DatabaseSilenceError(silenceMs));
    const onEnd = () => giveBack(true);
    const leaseMs = this.#leaseMs;
    const lease = setTimeout(() => socket?.destroy(new DatabaseLeaseExpiredError(leaseMs)), leaseMs);
    lease.unref();
    function giveBack(error?: Error | boolean): void {
      if (returned) return;
      returned = true;
      clearTimeout(lease);
      socket?.setTimeout(0);
      socket?.off('timeout', onSilence);
      client.off('end', onEnd);
      release(error);
    }
    socket?.setTimeout(silenceMs);
    socket?.on('timeout', onSilence);
    if (!this.#guarded.has(client)) {
      // The statement in flight, if any, carries the failure to its caller.
      client.on('error', () => {});
      this.#guarded.add(client);
    }
    client.once('end', onEnd);
    client.release = giveBack;
    return client;
  }
}
