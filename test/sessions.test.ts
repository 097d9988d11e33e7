import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq, sql } from 'drizzle-orm';
import { sessionTable } from '../db/schema.js';
import { expectAuthError, registerConfirmed, withBodyRefreshToken } from './harness/flows.js';
import { until } from './harness/poll.js';
import { APP_URL, PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';
import { createTestHasher } from './harness/test-hasher.js';
import type { HeldCall, TestHasher } from './harness/test-hasher.js';

describeOnEachDatabase('sessions and the signed-in user', (kit) => {
  /** One user signed in three times: three sessions. */
  async function threeSessions() {
    const first = await registerConfirmed(kit());
    const login = () => kit().client().auth.login.mutate({ identifier: first.email, password: PASSWORD });
    const second = await login();
    const third = await login();
    return { email: first.email, user: first.user, sessions: [first.tokens, second.tokens, third.tokens] };
  }

  it('sessions.list shows each sign-in once, marks the current one, and holds no secret', async () => {
    const { sessions } = await threeSessions();
    const [a, b, c] = sessions;
    const list = await kit().client(b?.accessToken).auth.sessions.list.query();
    assert.equal(list.length, 3);
    assert.equal(list.filter((session) => session.current).length, 1);
    assert.deepEqual(Object.keys(list[0] ?? {}).sort(), ['createdAt', 'current', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent']);
    assert.ok(list.every((session) => session.ip === '127.0.0.1'));
    const text = JSON.stringify(list);
    for (const tokens of [a, b, c]) assert.ok(!text.includes(tokens?.refreshToken?.slice(3, 19) as string));
  });

  it("logout ends the current session only, and is safe to repeat", async () => {
    const { sessions } = await threeSessions();
    const [a, b] = sessions;
    await kit().client(a?.accessToken).auth.logout.mutate();
    await expectAuthError(kit().client(a?.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: a?.refreshToken }), 'TOKEN_REVOKED');
    await kit().client(b?.accessToken).demo.whoami.query();
    assert.equal((await kit().client(b?.accessToken).auth.sessions.list.query()).length, 2);
    // A second logout (a retry after a lost answer) is done, not an error; no token at all still is.
    assert.deepEqual(await kit().client(a?.accessToken).auth.logout.mutate(), { ok: true });
    await expectAuthError(kit().client().auth.logout.mutate(), 'TOKEN_MISSING');
  });

  it("logout 'others' keeps the caller; 'all' ends every session", async () => {
    const { sessions } = await threeSessions();
    const [a, b, c] = sessions;
    await kit().client(a?.accessToken).auth.logout.mutate({ scope: 'others' });
    await kit().client(a?.accessToken).demo.whoami.query();
    await expectAuthError(kit().client(b?.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client(c?.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');

    const more = await kit().client().auth.refresh.mutate({ refreshToken: a?.refreshToken });
    await kit().client(more.tokens.accessToken).auth.logout.mutate({ scope: 'all' });
    await expectAuthError(kit().client(more.tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: more.tokens.refreshToken }), 'TOKEN_REVOKED');
  });

  it("sessions.revoke ends one of the caller's sessions; another user's id changes nothing", async () => {
    const mine = await threeSessions();
    const theirs = await registerConfirmed(kit());
    const [a, b, c] = mine.sessions;
    const { sessionId } = await kit().client(c?.accessToken).demo.whoami.query();
    await kit().client(a?.accessToken).auth.sessions.revoke.mutate({ sessionId });
    await expectAuthError(kit().client(c?.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    assert.equal((await kit().client(a?.accessToken).auth.sessions.list.query()).length, 2);

    const [theirSession] = await kit().client(theirs.tokens.accessToken).auth.sessions.list.query();
    const answer = await kit().client(b?.accessToken).auth.sessions.revoke.mutate({ sessionId: theirSession?.id as string });
    const unknown = await kit().client(b?.accessToken).auth.sessions.revoke.mutate({ sessionId: 'no-such-session' });
    assert.deepEqual(answer, unknown);
    await kit().client(theirs.tokens.accessToken).demo.whoami.query();
  });

  it('a logout whose statement the database refuses fails, and the session goes on: the caller is not told it ended', async () => {
    const { tokens } = await registerConfirmed(kit());
    const { sessionId } = await kit().client(tokens.accessToken).demo.whoami.query();
    const { db } = kit().database;
    // Only the revocation of this one session is refused; its other writes (its last use) go through.
    await db.execute(sql`CREATE FUNCTION auth_kit.refuse_logout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await db.execute(
      sql`CREATE TRIGGER refuse_logout BEFORE UPDATE ON ${sessionTable} FOR EACH ROW WHEN (OLD.id = ${sql.raw(`'${sessionId.replace(/'/g, "''")}'`)} AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION auth_kit.refuse_logout()`,
    );
    try {
      const failed = await kit().client(tokens.accessToken).auth.logout.mutate().then(
        () => assert.fail('the logout answered ok'),
        (error: unknown) => error,
      );
      assert.ok(failed instanceof TRPCClientError);
      const status = (failed.data as { httpStatus?: number } | undefined)?.httpStatus ?? 0;
      assert.ok(status >= 500, `answered ${status}`);
      await kit().client(tokens.accessToken).demo.whoami.query();
      const [row] = await db.select({ revokedAt: sessionTable.revokedAt }).from(sessionTable).where(eq(sessionTable.id, sessionId));
      assert.equal(row?.revokedAt, null);
    } finally {
      await db.execute(sql`DROP TRIGGER refuse_logout ON ${sessionTable}`);
      await db.execute(sql`DROP FUNCTION auth_kit.refuse_logout()`);
    }
    assert.deepEqual(await kit().client(tokens.accessToken).auth.logout.mutate(), { ok: true });
    await expectAuthError(kit().client(tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
  });

  it('me returns the user; updateUser changes username and meta, and refuses a taken username', async () => {
    const { tokens, user } = await registerConfirmed(kit());
    const other = await registerConfirmed(kit(), kit(), { username: 'taken_name' });
    const me = await kit().client(tokens.accessToken).auth.me.query();
    assert.deepEqual(me, user);

    kit().clock.advanceSeconds(1);
    const updated = await kit().client(tokens.accessToken).auth.updateUser.mutate({ username: 'New.Name', meta: { theme: 'dark' } });
    assert.equal(updated.username, 'New.Name');
    assert.deepEqual(updated.meta, { theme: 'dark' });
    assert.ok(updated.updatedAt > user.updatedAt);
    await expectAuthError(kit().client(tokens.accessToken).auth.updateUser.mutate({ username: 'TAKEN_NAME' }), 'USERNAME_TAKEN');
    await expectAuthError(
      kit().client(tokens.accessToken).auth.updateUser.mutate({ email: 'x@example.test', emailConfirmed: true } as never),
      'INVALID_INPUT',
    );
    assert.equal((await kit().client(tokens.accessToken).auth.me.query()).username, 'New.Name');
    assert.notEqual(other.user.id, user.id);
  });

  it('changePassword needs the current password, ends the other sessions and mails a notice', async () => {
    const { email, sessions } = await threeSessions();
    const [a, b] = sessions;
    const newPassword = 'an entirely new passphrase';
    await expectAuthError(kit().client(a?.accessToken).auth.changePassword.mutate({ currentPassword: 'wrong password', newPassword }), 'INVALID_CREDENTIALS');
    await expectAuthError(kit().client(a?.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'short' }), 'WEAK_PASSWORD');
    await kit().client(b?.accessToken).demo.whoami.query();

    await kit().client(a?.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword });
    await kit().client(a?.accessToken).demo.whoami.query();
    await expectAuthError(kit().client(b?.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    await kit().client().auth.login.mutate({ identifier: email, password: newPassword });
    const notice = await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your password was changed');
    assert.ok(!notice.body.includes(newPassword));
    assert.match(notice.text, /your other sessions were signed out/);
    assert.ok(notice.html.includes(`href="${APP_URL}/reset-password"`), notice.html);
  });

  /** Lets the held call `matches` finds finish, once it is there. */
  async function letGo(hasher: TestHasher, what: string, matches: (call: HeldCall) => boolean): Promise<void> {
    (await until(() => hasher.held.find(matches), what)).release();
  }

  /**
   * An app whose hashing the test holds and lets go step by step: two hashes at once, one for each
   * side of the race, and no client address, so that each call is a client of its own (one client
   * may hash in only half of the slots).
   */
  async function raceApp() {
    const hasher = createTestHasher();
    const app = await kit().ownApp({ passwordHasher: hasher, password: { maxConcurrentHashes: 2 }, clientIp: () => null });
    return { hasher, app, ...(await registerConfirmed(kit(), app)) };
  }

  it('a sign-in that checked the old password while it was being changed is refused once the change is in', async () => {
    const { hasher, app, email, tokens } = await raceApp();
    const newPassword = 'the password after the race';
    hasher.hold();
    const signIn = app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    const signInCheck = await until(() => hasher.held.find((call) => call.kind === 'verify'), 'the sign-in checking the old password');
    const change = app.client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword });
    await letGo(hasher, "the change's check of the current password", (call) => call !== signInCheck && call.kind === 'verify');
    await letGo(hasher, 'the hashing of the new password', (call) => call.kind === 'hash' && call.password === newPassword);
    await change;
    signInCheck.release();
    hasher.resume();
    await expectAuthError(signIn, 'INVALID_CREDENTIALS');
    assert.equal((await app.client(tokens.accessToken).auth.sessions.list.query()).length, 1);
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
  });

  it('a sign-in that got in while the password was being changed is signed out by the change', async () => {
    const { hasher, app, email, tokens } = await raceApp();
    const newPassword = 'the password after the race';
    hasher.hold();
    const change = app.client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword });
    await letGo(hasher, "the change's check of the current password", (call) => call.kind === 'verify');
    const newHash = await until(() => hasher.held.find((call) => call.kind === 'hash'), 'the hashing of the new password');
    const signIn = app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    await letGo(hasher, "the sign-in's check of the old password", (call) => call.kind === 'verify');
    const stolen = withBodyRefreshToken((await signIn).tokens);
    newHash.release();
    hasher.resume();
    await change;
    await expectAuthError(app.client(stolen.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: stolen.refreshToken }), 'TOKEN_REVOKED');
    assert.equal((await app.client(tokens.accessToken).auth.sessions.list.query()).length, 1);
  });

  it('protected procedures refuse a missing token with TOKEN_MISSING', async () => {
    await expectAuthError(kit().client().auth.me.query(), 'TOKEN_MISSING');
    await expectAuthError(kit().client().auth.logout.mutate(), 'TOKEN_MISSING');
    await expectAuthError(kit().client().auth.sessions.list.query(), 'TOKEN_MISSING');
  });
});
