import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { it } from 'node:test';
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { accessTokenTable, deviceTable, rateLimitTable, sessionTable, userTable } from '../db/schema.js';
import { clientLimitKey } from '../server/limits/throttles.js';
import { accepts, registerConfirmed } from './harness/flows.js';
import { clientFromHeader, mutateAs } from './harness/named-clients.js';
import { until } from './harness/poll.js';
import { statementsOf } from './harness/query-counter.js';
import { createTestHasher } from './harness/test-hasher.js';
import type { TestHasher } from './harness/test-hasher.js';
import type { TestApp, TestKit } from './harness/test-kit.js';
import { PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';

/*
 * What a login sends, and what it leaves when the database refuses part of it. A login counts its
 * client in one statement, reads the account and the client's devices, counts the account in one
 * statement, gives back what succeeded in the one that counts the session, and starts the session in
 * a single statement (the user's row locked for that statement alone). Folding the counters must keep
 * each of their promises: two attempts at the last place cannot both be checked, and a statement
 * the database refuses leaves nothing half-written, with the attempt still counted.
 */


const login = (app: TestApp, client: string, input: { identifier: string; password?: string }) =>
  mutateAs(app, client, { path: 'auth.login', input: { password: PASSWORD, ...input } });

/** The hits stored under `key`, as the limiter stores it (a digest); null for no row. */
async function hitsOf(kit: TestKit, key: string): Promise<number | null> {
  const [row] = await kit.database.db.select({ hits: rateLimitTable.hits }).from(rateLimitTable).where(eq(rateLimitTable.key, hash('sha256', key, 'base64url')));
  return row?.hits ?? null;
}

/** `inner`, counting the checks it is asked for: all of them, and those against a stored hash (a locked account's is against none). */
function countingChecks(inner: TestHasher): { hasher: TestHasher; calls: () => number; checks: () => number } {
  let calls = 0;
  let checks = 0;
  const hasher: TestHasher = {
    hash: (password) => inner.hash(password),
    verify(storedHash, password) {
      calls++;
      if (storedHash !== null) checks++;
      return inner.verify(storedHash, password);
    },
    hold: () => inner.hold(),
    get held() {
      return inner.held;
    },
    resume: () => inner.resume(),
  };
  return { hasher, calls: () => calls, checks: () => checks };
}

/** `inner` with salted hashes (no two alike), asking to rehash the unsalted ones `inner` makes: a hashing upgrade. */
function rehashingHasher(inner: TestHasher): TestHasher {
  let salt = 0;
  return {
    hash: async (password) => `${await inner.hash(password)}#${++salt}`,
    async verify(storedHash, password) {
      const [unsalted = null, salted] = storedHash?.split('#') ?? [];
      const check = await inner.verify(unsalted, password);
      return { valid: check.valid, needsRehash: salted === undefined };
    },
    hold: () => inner.hold(),
    get held() {
      return inner.held;
    },
    resume: () => inner.resume(),
  };
}

/** The user's sessions not revoked, but `except`. */
async function liveSessions(kit: TestKit, userId: string, except = ''): Promise<string[]> {
  const rows = await kit.database.db
    .select({ id: sessionTable.id })
    .from(sessionTable)
    .where(and(eq(sessionTable.userId, userId), isNull(sessionTable.revokedAt), ne(sessionTable.id, except)));
  return rows.map((row) => row.id);
}

/** A login from `client` held at its password check while an administrator disables the account, and its answer. */
async function loginRacingDisable(kit: TestKit, client: string) {
  const hasher = createTestHasher();
  const app = await kit.ownApp({ passwordHasher: hasher, clientIp: clientFromHeader });
  const { email, user } = await registerConfirmed(kit, app);
  hasher.hold();
  const racing = login(app, client, { identifier: email });
  await until(() => hasher.held.some((call) => call.kind === 'verify'), 'the login checking the password');
  assert.equal(await app.auth.admin.users.disable(user.id), true);
  hasher.resume();
  return { app, email, user, answer: await racing };
}

/**
 * How many of the logins of a race against something that ends sessions got in; each of those must
 * hold a token no longer accepted (`ended` says why), every other one a plain INVALID_CREDENTIALS.
 */
async function admittedThenEnded(app: TestApp, answers: readonly Awaited<ReturnType<typeof login>>[], ended: string): Promise<number> {
  let admitted = 0;
  for (const answer of answers) {
    if (answer.status !== 200) {
      assert.equal(answer.authCode, 'INVALID_CREDENTIALS');
      continue;
    }
    admitted++;
    assert.equal(await accepts(app, accessTokenOf(answer)), false, ended);
  }
  return admitted;
}

/** The access token of a login answered 200. */
function accessTokenOf(answer: { data: unknown }): string {
  return (answer.data as { tokens: { accessToken: string } }).tokens.accessToken;
}

describeOnEachDatabase('what a login sends and what it leaves', (kit) => {
  it('a login by email and password is 6 statements and no transaction; a wrong password or an unknown account is 4, the same ones', async () => {
    const app = await kit().ownApp();
    const { email } = await registerConfirmed(kit(), app);
    const signedIn = await statementsOf(kit(), () => app.client().auth.login.mutate({ identifier: email, password: PASSWORD }));
    assert.equal(signedIn.length, 6, signedIn.join('\n'));
    assert.ok(!signedIn.some((statement) => /^(BEGIN|END|COMMIT)\b/i.test(statement)), signedIn.join('\n'));
    const wrong = await statementsOf(kit(), () => app.client().auth.login.mutate({ identifier: email, password: 'not the password' }).catch(() => null));
    const unknown = await statementsOf(kit(), () => app.client().auth.login.mutate({ identifier: `no-one-${email}`, password: 'not the password' }).catch(() => null));
    assert.equal(wrong.length, 4, wrong.join('\n'));
    assert.deepEqual(unknown, wrong);
  });

  it('two strangers with the right password at the last place of the account at once: exactly one is checked and signs in', async () => {
    const hasher = createTestHasher();
    const app = await kit().variant({
      passwordHasher: hasher,
      clientIp: clientFromHeader,
      password: { maxConcurrentHashes: 2 },
      rateLimits: { loginFailuresPerAccount: 4, loginFailuresPerAccountFromUnknownClients: 2 },
    });
    const { email } = await registerConfirmed(kit(), app);
    assert.equal((await login(app, 'stranger-0', { identifier: email, password: 'a first guess' })).authCode, 'INVALID_CREDENTIALS');
    // Both attempts are counted before either is checked: the hasher holds every check until both wait.
    hasher.hold();
    const answers = Promise.all([login(app, 'stranger-1', { identifier: email }), login(app, 'stranger-2', { identifier: email })]);
    await until(() => hasher.held.length === 2, 'both attempts waiting for their check');
    hasher.resume();
    const statuses = (await answers).map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [200, 401]);
    kit().clock.advanceSeconds(901);
  });

  it('a session statement the database refuses leaves no session, token, device or count of the sign-in, and the next login works', async () => {
    const app = await kit().ownApp();
    const { email, user } = await registerConfirmed(kit(), app);
    const { db } = kit().database;
    const before = await db.select().from(userTable).where(eq(userTable.userId, user.id));
    const sessionsBefore = await db.select({ id: sessionTable.id }).from(sessionTable).where(eq(sessionTable.userId, user.id));
    await db.execute(sql`CREATE FUNCTION auth_kit.refuse_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await db.execute(sql`CREATE TRIGGER refuse_session BEFORE INSERT ON ${sessionTable} FOR EACH ROW WHEN (NEW.user_id = ${sql.raw(`'${user.id.replace(/'/g, "''")}'`)}) EXECUTE FUNCTION auth_kit.refuse_session()`);
    try {
      const refused = await login(app, 'someone', { identifier: email });
      assert.equal(refused.status, 500);
      const after = await db.select().from(userTable).where(eq(userTable.userId, user.id));
      assert.deepEqual(after, before);
      const sessionsAfter = await db.select({ id: sessionTable.id }).from(sessionTable).where(eq(sessionTable.userId, user.id));
      assert.deepEqual(sessionsAfter, sessionsBefore);
      const tokens = await db.select({ sessionId: accessTokenTable.sessionId }).from(accessTokenTable).where(eq(accessTokenTable.userId, user.id));
      assert.ok(tokens.every((token) => sessionsBefore.some((session) => session.id === token.sessionId)));
    } finally {
      await db.execute(sql`DROP TRIGGER refuse_session ON ${sessionTable}`);
      await db.execute(sql`DROP FUNCTION auth_kit.refuse_session()`);
    }
    assert.equal((await login(app, 'someone', { identifier: email })).status, 200);
  });

  it('a login whose reads the database refuses answers 500 and stays counted against its client, and nothing of the account is counted', async () => {
    const app = await kit().variant({ clientIp: clientFromHeader });
    const { email, user } = await registerConfirmed(kit(), app);
    const client = '203.0.113.77';
    const { db } = kit().database;
    const devicesBefore = await db.select().from(deviceTable).where(eq(deviceTable.userId, user.id));
    const countersBefore = new Map((await db.select().from(rateLimitTable)).map((row) => [row.key, row.hits]));
    await db.execute(sql`ALTER TABLE ${deviceTable} RENAME TO auth_devices_away`);
    try {
      assert.equal((await login(app, client, { identifier: email })).status, 500);
    } finally {
      await db.execute(sql`ALTER TABLE auth_kit.auth_devices_away RENAME TO auth_devices`);
    }
    const counted = (await db.select().from(rateLimitTable)).filter((row) => countersBefore.get(row.key) !== row.hits).map((row) => row.key);
    const clientKeys = [clientLimitKey('failures-ip', client), clientLimitKey('hashes-ip', client)].map((key) => hash('sha256', key, 'base64url'));
    assert.deepEqual(counted.sort(), clientKeys.sort());
    assert.equal(await hitsOf(kit(), clientLimitKey('failures-ip', client)), 1);
    assert.deepEqual(await db.select().from(deviceTable).where(eq(deviceTable.userId, user.id)), devicesBefore);
    // The right password then signs in, and gives back the attempt it counted (not the one before).
    assert.equal((await login(app, client, { identifier: email })).status, 200);
    assert.equal(await hitsOf(kit(), clientLimitKey('failures-ip', client)), 1);
    assert.equal(await hitsOf(kit(), clientLimitKey('hashes-ip', client)), 1);
  });

  it("a dozen strangers' wrong passwords at once at the account's last two places: two are checked, and the owner's known address still signs in", async () => {
    const { hasher, checks } = countingChecks(createTestHasher());
    const app = await kit().ownApp({
      passwordHasher: hasher,
      clientIp: clientFromHeader,
      rateLimits: { loginFailuresPerAccount: 6, loginFailuresPerAccountFromUnknownClients: 3 },
    });
    const { email } = await registerConfirmed(kit(), app);
    // The owner signs in from an address the account then knows (no device cookie kept).
    assert.equal((await login(app, 'last-place-owner', { identifier: email })).status, 200);
    assert.equal((await login(app, 'last-place-stranger-0', { identifier: email, password: 'a first guess' })).authCode, 'INVALID_CREDENTIALS');
    const before = checks();
    const flood = await Promise.all(
      Array.from({ length: 12 }, (_, index) => login(app, `last-place-stranger-${index + 1}`, { identifier: email, password: `guess number ${index}` })),
    );
    assert.deepEqual(new Set(flood.map((answer) => answer.authCode)), new Set(['INVALID_CREDENTIALS']));
    assert.equal(checks() - before, 2, "the strangers' share is 3 and one was spent: every other guess is checked against no hash");
    // Locked for strangers, even with the right password; open for the owner's address.
    assert.equal((await login(app, 'last-place-stranger-13', { identifier: email })).authCode, 'INVALID_CREDENTIALS');
    assert.equal(checks() - before, 2);
    assert.equal((await login(app, 'last-place-owner', { identifier: email })).status, 200);
    app.clock.advanceSeconds(901);
  });

  it('a dozen logins at once from a client with five hashes left: five are hashed, seven refused before any hashing', async () => {
    const { hasher, calls } = countingChecks(createTestHasher());
    const app = await kit().ownApp({ passwordHasher: hasher, clientIp: clientFromHeader, rateLimits: { hashesPerIp: 5 }, password: { maxHashesPerClient: 16 } });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) => login(app, 'last-hashes-client', { identifier: `no-one-${index}-${process.pid}@example.test`, password: 'a guess' })),
    );
    const codes = answers.map((answer) => answer.authCode).sort();
    assert.deepEqual(codes, [...Array<string>(5).fill('INVALID_CREDENTIALS'), ...Array<string>(7).fill('RATE_LIMITED')]);
    assert.equal(calls(), 5);
    app.clock.advanceSeconds(901);
  });

  it('a login whose password was checked before the account was disabled starts no session', async () => {
    const { user, answer } = await loginRacingDisable(kit(), 'disable-racer');
    assert.equal(answer.authCode, 'INVALID_CREDENTIALS');
    assert.deepEqual(await liveSessions(kit(), user.id), []);
  });

  it(
    "a login whose password was checked before the account was disabled stays counted, as a disabled account's right password is",
    { todo: 'finding: admitSession gives the attempt back before the statement that finds the account disabled' },
    async () => {
      const { app, email, answer } = await loginRacingDisable(kit(), 'disable-racer-counted');
      assert.equal(answer.authCode, 'INVALID_CREDENTIALS');
      // What the same login answers once the account is disabled: counted against its client.
      assert.equal((await login(app, 'disabled-after', { identifier: email })).authCode, 'INVALID_CREDENTIALS');
      assert.equal(await hitsOf(kit(), clientLimitKey('failures-ip', 'disabled-after')), 1);
      assert.equal(await hitsOf(kit(), clientLimitKey('failures-ip', 'disable-racer-counted')), 1);
      assert.equal(await hitsOf(kit(), clientLimitKey('hashes-ip', 'disable-racer-counted')), 1);
    },
  );

  it('logins with the right password racing a disable: none leaves a live session, and no token one got is accepted', async (t) => {
    const app = await kit().ownApp({ clientIp: clientFromHeader });
    const { email, user } = await registerConfirmed(kit(), app);
    let admitted = 0;
    for (let round = 0; round < 3; round++) {
      await app.auth.admin.users.enable(user.id);
      let answered = 0;
      const logins = Array.from({ length: 16 }, (_, index) =>
        login(app, `disable-storm-${round}-${index}`, { identifier: email }).finally(() => {
          answered++;
        }),
      );
      // The disable goes in at once, then once a quarter of the logins, then half, have been answered.
      await until(() => answered >= round * 4, `${round * 4} logins answered`);
      const [answers] = await Promise.all([Promise.all(logins), app.auth.admin.users.disable(user.id)]);
      assert.deepEqual(await liveSessions(kit(), user.id), [], `round ${round}`);
      admitted += await admittedThenEnded(app, answers, 'a token of a login the disable ended');
    }
    t.diagnostic(`${admitted} of 48 logins got in before the disable`);
  });

  it('logins with the old password racing a password change: the change ends every session they started', async (t) => {
    const app = await kit().ownApp({ clientIp: clientFromHeader });
    const { email, user, tokens } = await registerConfirmed(kit(), app);
    const { sessionId } = await app.client(tokens.accessToken).demo.whoami.query();
    let password = PASSWORD;
    let admitted = 0;
    for (let round = 0; round < 3; round++) {
      const newPassword = `the passphrase after race number ${round}`;
      const logins = Array.from({ length: 12 }, (_, index) => login(app, `change-storm-${round}-${index}`, { identifier: email, password }));
      const change = app.client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: password, newPassword });
      const [answers] = await Promise.all([Promise.all(logins), change]);
      password = newPassword;
      assert.deepEqual(await liveSessions(kit(), user.id, sessionId), [], `round ${round}`);
      admitted += await admittedThenEnded(app, answers, 'a token of a login the change ended');
    }
    assert.equal((await login(app, 'change-storm-after', { identifier: email, password })).status, 200);
    t.diagnostic(`${admitted} of 36 logins got in before the change`);
  });

  it(
    'two logins at once with the right password, due for a rehash, both sign in',
    { todo: "finding: the first login's rehash changes password_hash, so the second's gate (password_hash = the hash it verified) refuses it as credentials-changed" },
    async () => {
      const hasher = rehashingHasher(createTestHasher());
      const app = await kit().ownApp({ passwordHasher: hasher, clientIp: clientFromHeader, password: { maxConcurrentHashes: 2 } });
      const { email, user } = await registerConfirmed(kit(), app);
      // The account's hash predates the upgrade.
      await kit().database.db.update(userTable).set({ passwordHash: await createTestHasher().hash(PASSWORD) }).where(eq(userTable.userId, user.id));
      hasher.hold();
      const both = Promise.all([login(app, 'rehash-phone', { identifier: email }), login(app, 'rehash-laptop', { identifier: email })]);
      await until(() => hasher.held.filter((call) => call.kind === 'verify').length === 2, 'both logins checking the old hash');
      hasher.resume();
      assert.deepEqual((await both).map((answer) => answer.authCode ?? answer.status), [200, 200]);
    },
  );
});
