import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type pg from 'pg';
import { BoundedPool } from './bounded-pool.js';
import { clientOf } from './database-client.js';
import * as schema from './schema.js';

/** What queries run on: the database itself or a transaction in it. */
export type Queryable = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * An embedded PGlite instance, as the kit's declarations name it (`instanceof PGlite` gives the whole
 * of it). PGlite's own declarations name Emscripten's types, which PGlite does not install, so an
 * application's `tsc` without `skipLibCheck` would fail on them if the kit's declarations imported them.
 */
export interface EmbeddedDatabase {
  /** Closes the database: PGlite writes out its data directory and frees its memory. */
  close(): Promise<void>;
  /** True once closed. */
  readonly closed: boolean;
}

/** The database handle the kit works with: drizzle over `pg` or over PGlite. */
export type AuthDatabase = Queryable & { $client: pg.Pool | EmbeddedDatabase };

/**
 * How long a PostgreSQL pool waits on the server before a request fails (and answers 503), and how
 * many requests may wait for it. PGlite runs in the process and has nothing to wait for, so it
 * ignores them.
 */
export interface DatabaseOptions {
  /** The longest wait for a connection: a new one to be made, or a busy pool to free one. @default 3000 */
  connectTimeoutMs?: number;
  /**
   * The longest a statement may take: the server cancels it then (`statement_timeout`), and a
   * connection on which the server has sent nothing for this long and half a second more is dropped
   * (a server that is gone cancels nothing). Every query on this pool is bounded so, the
   * application's own included. @default 4000
   */
  statementTimeoutMs?: number;
  /**
   * How long the server keeps a transaction that waits for its client, with its locks, before it
   * ends the session (`idle_in_transaction_session_timeout`). @default 5000
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * The longest a connection is lent, to one query or to a whole transaction: then it is dropped
   * (the server rolls back what was open) and the request answers 503. A slow server answers each
   * statement within the bounds above, but a transaction of several would otherwise take that long
   * several times over. @default statementTimeoutMs + 500
   */
  transactionTimeoutMs?: number;
  /**
   * A request's whole time on the database, counted from when its procedure began: each wait for a
   * connection and each statement or transaction gets only what is left of it, and past it the
   * request answers 503 (an open transaction is dropped, so the server rolls it back). Work outside
   * a procedure of the kit (a migration, a cleanup run, an application's own script) has no deadline
   * but the bounds above. @default 5000
   */
  requestDeadlineMs?: number;
  /**
   * How many requests may wait for a connection when every connection of the pool is lent; one more
   * answers 503 at once instead of queueing behind a database that does not keep up. @default 100
   */
  connectionQueueLimit?: number;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;
// The server's own cancel leaves its connection usable, so it gets the first chance.
const SERVER_CANCEL_GRACE_MS = 500;

function positiveMs(options: DatabaseOptions, name: keyof DatabaseOptions, fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`connectDatabase: ${name} must be a positive whole number of milliseconds, got ${value}`);
  return value;
}

function wholeNumber(options: DatabaseOptions, name: keyof DatabaseOptions, fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`connectDatabase: ${name} must be a whole number, got ${value}`);
  return value;
}

/**
 * Opens the database: a `postgres://` URL connects to PostgreSQL through a `pg` pool; anything else
 * is a PGlite data directory (`memory://`, the default, keeps it in memory).
 *
 * @example
 * const db = await connectDatabase(process.env.DATABASE_URL ?? './.data/pglite');
 * await migrate(db);
 */
export async function connectDatabase(url: string = 'memory://', options: DatabaseOptions = {}): Promise<AuthDatabase> {
  const connectTimeoutMs = positiveMs(options, 'connectTimeoutMs', 3000);
  const statementTimeoutMs = positiveMs(options, 'statementTimeoutMs', 4000);
  const idleInTransactionTimeoutMs = positiveMs(options, 'idleInTransactionTimeoutMs', 5000);
  const transactionTimeoutMs = positiveMs(options, 'transactionTimeoutMs', statementTimeoutMs + SERVER_CANCEL_GRACE_MS);
  const requestDeadlineMs = positiveMs(options, 'requestDeadlineMs', 5000);
  const connectionQueueLimit = wholeNumber(options, 'connectionQueueLimit', 100);
  if (POSTGRES_URL.test(url)) {
    const pool = new BoundedPool(
      {
        connectionString: url,
        application_name: 'trpc-auth-kit',
        connectionTimeoutMillis: connectTimeoutMs,
        statement_timeout: statementTimeoutMs,
        idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
      },
      { silenceMs: statementTimeoutMs + SERVER_CANCEL_GRACE_MS, leaseMs: transactionTimeoutMs, requestDeadlineMs, queueLimit: connectionQueueLimit },
    );
    // An idle client that loses its server must not take the process down with it.
    pool.on('error', () => {});
    return drizzleNodePostgres({ client: pool, schema });
  }
  if (!url.includes('://')) await mkdir(url, { recursive: true });
  const client = new PGlite(url);
  await client.waitReady;
  return drizzlePglite({ client, schema });
}

/** Closes the pool or the PGlite instance behind `db`. */
export async function closeDatabase(db: AuthDatabase): Promise<void> {
  const client = clientOf(db);
  if (client instanceof PGlite) await client.close();
  else await client.end();
}
