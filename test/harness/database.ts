import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closeDatabase, connectDatabase, migrate } from '../../db/index.js';
import type { AuthDatabase } from '../../db/index.js';

/** The two databases every flow runs on. */
export const DATABASE_KINDS = ['pglite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

export interface TestDatabase {
  db: AuthDatabase;
  /** A `postgres://` URL for this database, or null on PGlite. */
  url: string | null;
  close(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/**
 * A new database: an in-memory PGlite, or a fresh database on the test PostgreSQL server; migrated
 * unless `migrated` is false.
 */
export async function openTestDatabase(kind: DatabaseKind, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const { migrated = true } = options;
  if (kind === 'pglite') {
    const db = await connectDatabase('memory://');
    if (migrated) await migrate(db);
    return { db, url: null, close: () => closeDatabase(db) };
  }
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const db = await connectDatabase(url.toString());
  if (migrated) await migrate(db);
  return {
    db,
    url: url.toString(),
    async close() {
      await closeDatabase(db);
      const dropper = new pg.Client({ connectionString: serverUrl() });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}
