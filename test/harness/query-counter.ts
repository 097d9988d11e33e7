import { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import type { AuthDatabase } from '../../db/index.js';

/** A count of the statements sent to a database, from `countQueries` until `stop`. */
export interface QueryCount {
  readonly queries: number;
  stop(): void;
}

/**
 * Counts every statement the kit sends to `db` (BEGIN, COMMIT and ROLLBACK included), at the
 * driver: PGlite's `query`, `exec` and `transaction`, or the `query` of every `pg` client in this
 * thread (the pool's connections; the cache worker's listener runs in another thread).
 */
export function countQueries(db: AuthDatabase): QueryCount {
  const client = db.$client;
  let queries = 0;
  if (client instanceof PGlite) {
    const query = client.query.bind(client);
    const exec = client.exec.bind(client);
    const transaction = client.transaction.bind(client);
    const countedTransaction = (tx: Transaction): Transaction => ({
      ...tx,
      query: (...args: Parameters<Transaction['query']>) => {
        queries++;
        return tx.query(...args);
      },
      exec: (...args: Parameters<Transaction['exec']>) => {
        queries++;
        return tx.exec(...args);
      },
      get closed() {
        return tx.closed;
      },
    });
    // Own properties in front of the prototype's methods, deleted again by stop().
    Object.assign(client, {
      query: (...args: Parameters<PGlite['query']>) => {
        queries++;
        return query(...args);
      },
      exec: (...args: Parameters<PGlite['exec']>) => {
        queries++;
        return exec(...args);
      },
      transaction: <T>(callback: (tx: Transaction) => Promise<T>) => {
        // BEGIN, and COMMIT or ROLLBACK.
        queries += 2;
        return transaction((tx) => callback(countedTransaction(tx)));
      },
    });
    return {
      get queries() {
        return queries;
      },
      stop() {
        for (const name of ['query', 'exec', 'transaction']) Reflect.deleteProperty(client, name);
      },
    };
  }
  const prototype = pg.Client.prototype as { query: (...args: unknown[]) => unknown };
  const { query } = prototype;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    queries++;
    return query.apply(this, args);
  };
  return {
    get queries() {
      return queries;
    },
    stop() {
      prototype.query = query;
    },
  };
}
