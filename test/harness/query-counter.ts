import { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '@electric-sql/pglite';
import pg from 'pg';
import type { AuthDatabase } from '../../db/index.js';

/** A count of the statements sent to a database, from `countQueries` until `stop`. */
export interface QueryCount {
  readonly queries: number;
  /** Their text, in order (BEGIN and END for a PGlite transaction), without the parameters. */
  readonly statements: readonly string[];
  stop(): void;
}

/** The text of a statement as a driver's `query` receives it: a string, or a config that holds one. */
function textOf(statement: unknown): string {
  if (typeof statement === 'string') return statement;
  const text = (statement as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : String(statement);
}

/**
 * Counts every statement the kit sends to `db` (BEGIN, COMMIT and ROLLBACK included), at the
 * driver: PGlite's `query`, `exec` and `transaction`, or the `query` of every `pg` client in this
 * thread (the pool's connections; the cache worker's listener runs in another thread).
 */
export function countQueries(db: AuthDatabase): QueryCount {
  const client = db.$client;
  const statements: string[] = [];
  let queries = 0;
  const sent = (statement: unknown) => {
    queries++;
    statements.push(textOf(statement));
  };
  if (client instanceof PGlite) {
    const query = client.query.bind(client);
    const exec = client.exec.bind(client);
    const transaction = client.transaction.bind(client);
    const countedTransaction = (tx: Transaction): Transaction => ({
      ...tx,
      query: (...args: Parameters<Transaction['query']>) => {
        sent(args[0]);
        return tx.query(...args);
      },
      exec: (...args: Parameters<Transaction['exec']>) => {
        sent(args[0]);
        return tx.exec(...args);
      },
      get closed() {
        return tx.closed;
      },
    });
    // Own properties in front of the prototype's methods, deleted again by stop().
    Object.assign(client, {
      query: (...args: Parameters<PGlite['query']>) => {
        sent(args[0]);
        return query(...args);
      },
      exec: (...args: Parameters<PGlite['exec']>) => {
        sent(args[0]);
        return exec(...args);
      },
      transaction: <T>(callback: (tx: Transaction) => Promise<T>) => {
        // BEGIN, and COMMIT or ROLLBACK.
        sent('BEGIN');
        return transaction((tx) => callback(countedTransaction(tx))).finally(() => sent('END'));
      },
    });
    return {
      get queries() {
        return queries;
      },
      statements,
      stop() {
        for (const name of ['query', 'exec', 'transaction']) Reflect.deleteProperty(client, name);
      },
    };
  }
  const prototype = pg.Client.prototype as { query: (...args: unknown[]) => unknown };
  const { query } = prototype;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    sent(args[0]);
    return query.apply(this, args);
  };
  return {
    get queries() {
      return queries;
    },
    statements,
    stop() {
      prototype.query = query;
    },
  };
}

/** The statements one call sends to a kit's database, the work it leaves for after its answer included. */
export async function statementsOf(kit: { auth: { settled(): Promise<void> }; database: { db: AuthDatabase } }, call: () => Promise<unknown>): Promise<readonly string[]> {
  await kit.auth.settled();
  const count = countQueries(kit.database.db);
  try {
    await call();
    await kit.auth.settled();
  } finally {
    count.stop();
  }
  return count.statements;
}
