import { sql } from 'drizzle-orm';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import type { Queryable } from './connect.js';
import { AUTH_KIT_SCHEMA } from './schema.js';

/*
 * Until 0.2 the kit kept its tables in `public` and its migrations' journal in drizzle's shared
 * `drizzle.__drizzle_migrations`. Both collide with an application's own: a `users` table of its
 * own stopped the first migration, and an application's drizzle migrations, sharing the journal,
 * could make the kit's newer ones look applied. Such a database is moved, once, into `auth_kit`.
 */

const LEGACY_TABLES = ['users', 'auth_sessions', 'auth_access_tokens', 'auth_link_tokens', 'auth_api_tokens', 'auth_rate_limits', 'auth_devices'];

/** When each migration of the old layout was generated: how its rows in drizzle's journal are told from the application's. */
const LEGACY_MIGRATIONS = [1795426830207, 1795431976131, 1795433837363, 1796135528345];

/**
 * Moves the old layout's tables and function into the kit's schema and records there that the
 * first migration of the new layout (which builds the same tables) has run. Does nothing to a
 * database that has no old layout. Runs inside the caller's transaction: it moves all or nothing.
 */
export async function moveLegacyLayout(tx: Queryable, firstMigration: MigrationMeta): Promise<void> {
  const found = await tx.execute(sql`
    SELECT to_regclass('public.auth_sessions')::text AS legacy,
           to_regclass(${`${AUTH_KIT_SCHEMA}.auth_sessions`})::text AS current,
           to_regclass('public.auth_devices')::text AS newest`);
  // Both drivers answer `{ rows }`; the shared database type leaves the result unknown.
  const [{ legacy, current, newest }] = (found as { rows: [{ legacy: string | null; current: string | null; newest: string | null }] }).rows;
  if (!legacy || current) return;
  if (!newest) {
    throw new Error('migrate: this database holds the tables of a trpc-auth-kit older than 0.1.0; migrate it with 0.1.0 first');
  }
  const schema = sql.identifier(AUTH_KIT_SCHEMA);
  await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  for (const table of LEGACY_TABLES) await tx.execute(sql`ALTER TABLE ${sql.identifier('public')}.${sql.identifier(table)} SET SCHEMA ${schema}`);
  await tx.execute(sql`ALTER FUNCTION public.auth_username_key(text) SET SCHEMA ${schema}`);
  await tx.execute(sql`CREATE TABLE IF NOT EXISTS ${schema}.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
  await tx.execute(sql`INSERT INTO ${schema}.__drizzle_migrations (hash, created_at) VALUES (${firstMigration.hash}, ${firstMigration.folderMillis})`);
  await tx.execute(sql`DELETE FROM drizzle.__drizzle_migrations WHERE created_at IN (${sql.join(LEGACY_MIGRATIONS.map((when) => sql`${when}`), sql`, `)})`);
}
