import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { migrate, sessionTable, userTable } from '../db/index.js';
import type { AuthDatabase } from '../db/index.js';
import { createAuth } from '../server/index.js';
import { DATABASE_KINDS, openTestDatabase } from './harness/database.js';
import type { DatabaseKind, TestDatabase } from './harness/database.js';

/*
 * The kit's tables sit in their own schema, `auth_kit`, with their own migrations' journal, so a
 * database that already belongs to an application takes them as it is.
 */

const transport = { sendMail: () => Promise.resolve({}) };

async function run(db: AuthDatabase, statement: string) {
  await db.execute(sql.raw(statement));
}

async function rows<T>(db: AuthDatabase, query: string): Promise<T[]> {
  return ((await db.execute(sql.raw(query))) as { rows: T[] }).rows;
}

async function tablesIn(db: AuthDatabase, schema: string): Promise<string[]> {
  const found = await rows<{ name: string }>(db, `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = '${schema}' ORDER BY 1`);
  return found.map(({ name }) => name);
}

/**
 * A database laid out by 0.1.0: the same tables, which 0.1.0's four migrations made in `public`,
 * recorded in drizzle's shared journal.
 */
async function layOutAsVersion010(db: AuthDatabase) {
  const script = (await readFile(new URL('../db/migrations/0000_auth_kit.sql', import.meta.url), 'utf8')).replaceAll('"auth_kit".', '"public".').replaceAll('auth_kit.', 'public.');
  for (const statement of script.split('--> statement-breakpoint')) {
    if (!statement.includes('CREATE SCHEMA')) await run(db, statement);
  }
  await run(db, 'CREATE SCHEMA drizzle');
  await run(db, 'CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)');
  // The kit's four migrations, and one of the application's own, in the journal they shared.
  await run(db, "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('a', 1795426830207), ('b', 1795431976131), ('c', 1795433837363), ('d', 1796135528345), ('app', 1796000000000)");
}

for (const kind of DATABASE_KINDS) {
  describe(`the kit's tables beside an application's (${kind})`, () => {
    const open: TestDatabase[] = [];
    after(async () => {
      for (const database of open) await database.close();
    });
    async function blankDatabase(which: DatabaseKind) {
      const database = await openTestDatabase(which, { migrated: false });
      open.push(database);
      return database.db;
    }

    it('migrates a database that has its own users table and its own drizzle journal, leaving both as they were', async () => {
      const db = await blankDatabase(kind);
      await run(db, 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)');
      await run(db, "INSERT INTO users (name) VALUES ('the application''s own')");
      // An application migrated later than any kit migration: in a shared journal the kit's would look applied.
      await run(db, 'CREATE SCHEMA drizzle');
      await run(db, 'CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)');
      await run(db, "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('app', 9999999999999)");

      await migrate(db);

      assert.deepEqual(await tablesIn(db, 'public'), ['users']);
      assert.deepEqual(await rows(db, 'SELECT name FROM public.users'), [{ name: "the application's own" }]);
      assert.deepEqual(await rows(db, 'SELECT hash FROM drizzle.__drizzle_migrations'), [{ hash: 'app' }]);
      assert.ok((await tablesIn(db, 'auth_kit')).includes('users'));
      const auth = await createAuth({ db, mail: { transport, from: 'app@example.test', appUrl: 'https://app.example.test' } });
      await auth.close();
    });

    it('moves a database laid out by 0.1.0 into auth_kit, with its accounts and sessions, once', async () => {
      const db = await blankDatabase(kind);
      await layOutAsVersion010(db);
      await run(db, "INSERT INTO users (user_id, email, confirmed) VALUES ('u1', 'ada@example.test', true)");
      await run(db, "INSERT INTO users (user_id, username, email) VALUES ('u2', 'admin', 'bob@example.test')");
      await run(db, "INSERT INTO auth_sessions (id, user_id, refresh_selector, refresh_verifier_hash, created_at, last_used_at) VALUES ('s1', 'u1', 'sel', 'hash', now(), now())");

      await migrate(db);
      await migrate(db);

      assert.deepEqual(await tablesIn(db, 'public'), []);
      assert.deepEqual(
        (await db.select({ email: userTable.email }).from(userTable).orderBy(userTable.email)).map(({ email }) => email),
        ['ada@example.test', 'bob@example.test'],
      );
      assert.equal((await db.select().from(sessionTable).where(eq(sessionTable.userId, 'u1'))).length, 1);
      // The username key moved with its table: a name that looks like a taken one is still refused.
      await assert.rejects(run(db, "UPDATE auth_kit.users SET username = 'Adm1n' WHERE user_id = 'u1'"), (error: Error & { cause?: Error }) =>
        /users_username_key_unique/.test(String(error.cause?.message)),
      );
      // Only the application's row is left in drizzle's journal; the kit's own journal has its first migration, once.
      assert.deepEqual(await rows(db, 'SELECT hash FROM drizzle.__drizzle_migrations'), [{ hash: 'app' }]);
      assert.equal((await rows(db, 'SELECT 1 FROM auth_kit.__drizzle_migrations')).length >= 1, true);
      const auth = await createAuth({ db, mail: { transport, from: 'app@example.test', appUrl: 'https://app.example.test' } });
      await auth.close();
    });

    it('says in one line what is in the way when the auth_kit schema holds a table the kit did not make', async () => {
      const db = await blankDatabase(kind);
      await run(db, 'CREATE SCHEMA auth_kit');
      await run(db, 'CREATE TABLE auth_kit.auth_sessions (id int)');

      const failure = await migrate(db).then(
        () => assert.fail('migrate succeeded over a foreign table'),
        (error: Error) => error,
      );
      assert.match(failure.message, /^migrate: .*already exists in schema auth_kit, made by something other than trpc-auth-kit/);
      assert.doesNotMatch(failure.message, /\n/);
      // Nothing half-made: the migration's transaction left no kit table behind.
      assert.equal((await tablesIn(db, 'auth_kit')).includes('users'), false);
    });
  });
}
