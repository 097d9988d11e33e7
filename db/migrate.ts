import { PGlite } from '@electric-sql/pglite';
import { fileURLToPath } from 'node:url';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import pg from 'pg';
import type { AuthDatabase, Queryable } from './connect.js';
import { clientOf } from './database-client.js';
import { moveLegacyLayout } from './legacy-layout.js';
import * as schema from './schema.js';
import { AUTH_KIT_SCHEMA } from './schema.js';

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
// The journal lives beside the tables: an application's own drizzle migrations keep theirs apart.
const migrationConfig = { migrationsFolder, migrationsSchema: AUTH_KIT_SCHEMA };

// Any constant works; it only has to be the same on every node that migrates this database.
const MIGRATION_LOCK_KEY = 0x7472_7063;

/**
 * Brings the kit's tables, all in the `auth_kit` schema, up to date (a database laid out by 0.1.0,
 * in `public`, is moved there first: legacy-layout.ts). On PostgreSQL the migration runs on one
 * connection holding an advisory lock, so several nodes starting at once migrate once, one after
 * the other. That connection is its own, outside the pool: the pool's timeouts bound requests,
 * while a migration may rightly wait for another node's lock, or build an index, for longer.
 */
export async function migrate(db: AuthDatabase): Promise<void> {
  try {
    await migrateInPlace(db);
  } catch (error) {
    throw explainInTheWay(error);
  }
}

async function migrateInPlace(db: AuthDatabase): Promise<void> {
  const client = clientOf(db);
  if (client instanceof PGlite) {
    await moveLegacyLayoutOnce(db);
    await migratePglite(drizzlePglite({ client }), migrationConfig);
    return;
  }
  // The pool keeps its password out of enumeration (and so out of a spread).
  const { password } = client.options;
  const connection = new pg.Client({ ...client.options, password, statement_timeout: false, idle_in_transaction_session_timeout: 0 });
  // A connection lost between two statements is an `error` event; the statement that fails says so.
  connection.on('error', () => {});
  await connection.connect();
  try {
    await connection.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await moveLegacyLayoutOnce(drizzleNodePostgres({ client: connection, schema }));
    await migrateNodePostgres(drizzleNodePostgres({ client: connection }), migrationConfig);
  } finally {
    // Ending the session releases the advisory lock.
    await connection.end().catch(() => {});
  }
}

async function moveLegacyLayoutOnce(db: Queryable): Promise<void> {
  const [first] = readMigrationFiles(migrationConfig);
  if (first) await db.transaction((tx) => moveLegacyLayout(tx, first));
}

const DUPLICATE_TABLE = '42P07';
const DUPLICATE_OBJECT = '42710';

/** A table (or function) of the kit's that something else already made: one line that says so. */
function explainInTheWay(error: unknown): unknown {
  const failure = error as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const cause = failure.cause?.code ? failure.cause : failure;
  if (cause.code !== DUPLICATE_TABLE && cause.code !== DUPLICATE_OBJECT) return error;
  return new Error(`migrate: ${String(cause.message)} in schema ${AUTH_KIT_SCHEMA}, made by something other than trpc-auth-kit; the kit keeps every table in that schema: drop or rename what is in the way`, { cause: error });
}
