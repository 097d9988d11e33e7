import { Socket } from 'node:net';
import pg from 'pg';
import { databaseRequestStartedAt } from './request-deadline.js';

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
 * - inside a request (request-deadline.ts), is lent only for what is left of the request's
 *   `requestDeadlineMs`, and waited for no longer than that: the request's statements one after
 *   the other cannot add up past its deadline. A request past it borrows nothing;
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

/** A request whose time on the database ran out: it borrows nothing more, and what it held is dropped. */
export class DatabaseDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`the request's ${deadlineMs} ms on the database ran out`);
    this.name = 'DatabaseDeadlineError';
  }
}

/** A full pool with as many requests already waiting for a connection as it lets wait. */
export class DatabaseQueueFullError extends Error {
  constructor(queueLimit: number) {
    super(`${queueLimit} requests already wait for a database connection`);
    this.name = 'DatabaseQueueFullError';
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

/** The bounds of a {@link BoundedPool}, each in milliseconds but the queue's. */
export interface PoolLimits {
  /** Silence from the server on a lent connection before it is dropped. */
  silenceMs: number;
  /** The longest a connection is lent, to a query or a transaction. */
  leaseMs: number;
  /** A request's whole time on the database, counted from its start. */
  requestDeadlineMs: number;
  /** How many borrowers may wait for a connection of a full pool; the next is refused at once. */
  queueLimit: number;
}

function giveBackUnused(_error?: Error | boolean): void {}

export class BoundedPool extends pg.Pool {
  readonly #limits: PoolLimits;
  /** The connections that already carry the error listener every lent connection gets. */
  readonly #guarded = new WeakSet<pg.PoolClient>();

  constructor(config: pg.PoolConfig, limits: PoolLimits) {
    super(config);
    this.#limits = limits;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    // The pool's own `query` borrows through the callback form, drizzle's transactions through the promise.
    if (callback) return this.#borrow(callback);
    return new Promise((resolve, reject) => {
      this.#borrow((error, client) => (client ? resolve(client) : reject(error ?? new Error('the pool lent no connection'))));
    });
  }

  /** When the current request's time on the database runs out (`performance.now()` time); Infinity outside a request. */
  #deadlineAt(): number {
    const startedAt = databaseRequestStartedAt();
    return startedAt === null ? Number.POSITIVE_INFINITY : startedAt + this.#limits.requestDeadlineMs;
  }

  #borrow(callback: ConnectCallback): void {
    const { requestDeadlineMs, queueLimit } = this.#limits;
    const deadlineAt = this.#deadlineAt();
    const timeLeftMs = deadlineAt - performance.now();
    // pg queues a borrower behind an idle connection too, for a moment; only a full pool makes one wait.
    const queueFull = this.totalCount >= this.options.max && this.waitingCount >= queueLimit;
    const refusal = timeLeftMs <= 0 ? new DatabaseDeadlineError(requestDeadlineMs) : queueFull ? new DatabaseQueueFullError(queueLimit) : null;
    if (refusal) {
      process.nextTick(callback, refusal, undefined, giveBackUnused);
      return;
    }
    let answered = false;
    // pg bounds the wait by connectionTimeoutMillis; the request's deadline may come sooner.
    const deadline = Number.isFinite(timeLeftMs)
      ? setTimeout(() => {
          answered = true;
          callback(new DatabaseDeadlineError(requestDeadlineMs), undefined, giveBackUnused);
        }, timeLeftMs)
      : null;
    deadline?.unref();
    super.connect((error, client, release) => {
      if (deadline) clearTimeout(deadline);
      if (answered) {
        // Too late for its borrower; the next one may use it.
        if (client) release();
        return;
      }
      answered = true;
      if (!client) return callback(error, client, release);
      // Measured here, not in #lend: pg calls back from whichever context freed the connection.
      const lent = this.#lend(client, deadlineAt);
      callback(error, lent, (releaseError) => lent.release(releaseError));
    });
  }

  /** Lends `client` until the lease ends, or the borrowing request's deadline (`performance.now()` time) if sooner. */
  #lend(client: pg.PoolClient, deadlineAt: number): pg.PoolClient {
    const { silenceMs, leaseMs, requestDeadlineMs } = this.#limits;
    const stream = client instanceof pg.Client ? client.connection.stream : null;
    const socket = stream instanceof Socket ? stream : null;
    const release = client.release.bind(client);
    let returned = false;
    const onSilence = () => socket?.destroy(new DatabaseSilenceError(silenceMs));
    const onEnd = () => giveBack(true);
    const timeLeftMs = deadlineAt - performance.now();
    const lease =
      timeLeftMs < leaseMs
        ? setTimeout(() => socket?.destroy(new DatabaseDeadlineError(requestDeadlineMs)), Math.max(0, timeLeftMs))
        : setTimeout(() => socket?.destroy(new DatabaseLeaseExpiredError(leaseMs)), leaseMs);
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
