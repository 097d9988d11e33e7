import { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { AuthDatabase } from './connect.js';

/**
 * What `db` runs on, with PGlite by its own type (AuthDatabase names it EmbeddedDatabase, so that
 * the kit's declarations stay off PGlite's). Kept out of connect.ts, whose declarations are public.
 */
export function clientOf(db: AuthDatabase): PGlite | pg.Pool {
  const client = db.$client;
  if (client instanceof PGlite) return client;
  if ('totalCount' in client) return client;
  throw new TypeError('trpc-auth-kit: the database runs on neither a pg pool nor PGlite; open it with connectDatabase()');
}
