import { PGlite } from '@electric-sql/pglite';
import { fileURLToPath } from 'node:url';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import type { AuthDatabase } from './connect.js';

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

// Any constant works; it only has to be the same on every node that migrates this database.
const MIGRATION_LOCK_KEY = 0x7472_7063;

/**
 * Brings the kit's tables up to date. On PostgreSQL the migration runs on one connection holding an
 * advisory lock, so several nodes starting at once migrate once, one after the other. That
 * connection is its own, outside the pool: the pool's timeouts bound requests, while a migration may
 * rightly wait for another node's lock, or build an index, for longer.
 */
export async function migrate(db: AuthDatabase): Promise<void> {
  const client = db.$client;
  if (client instanceof PGlite) {
    await migratePglite(drizzlePglite({ client }), { migrationsFolder });
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
    await migrateNodePostgres(drizzleNodePostgres({ client: connection }), { migrationsFolder });
  } finally {
    // Ending the session releases the advisory lock.
    await connection.end().catch(() => {});
  }
}
