import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import * as schema from './schema.js';

/** What queries run on: the database itself or a transaction in it. */
export type Queryable = PgDatabase<PgQueryResultHKT, typeof schema>;

/** The database handle the kit works with: drizzle over `pg` or over PGlite. */
export type AuthDatabase = Queryable & { $client: pg.Pool | PGlite };

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * Opens the database: a `postgres://` URL connects to PostgreSQL through a `pg` pool; anything else
 * is a PGlite data directory (`memory://`, the default, keeps it in memory).
 *
 * @example
 * const db = await connectDatabase(process.env.DATABASE_URL ?? './.data/pglite');
 * await migrate(db);
 */
export async function connectDatabase(url: string = 'memory://'): Promise<AuthDatabase> {
  if (POSTGRES_URL.test(url)) {
    const pool = new pg.Pool({ connectionString: url, application_name: 'trpc-auth-kit' });
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
  const client = db.$client;
  if (client instanceof PGlite) await client.close();
  else await client.end();
}
