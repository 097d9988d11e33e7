import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { hashClientSecret } from '../server/basic/client-secrets.js';
import { accepts, expectAuthError, registerConfirmed } from './harness/flows.js';
import { basicHeader, rawRequest } from './harness/raw-http.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp, TestKit } from './harness/test-kit.js';
import { userTable } from '../db/index.js';

/*
 * The account lifecycle through the public API: administrators find users, look at them, disable,
 * enable, end sessions, change roles and delete; users delete themselves. Each is tried by someone
 * who may not, and with garbage.
 */

// A sha256: secret: this suite is about the admin API, and its app hashes with the tests' fast hasher.
const basic = { clients: { admin: { ops: await hashClientSecret('secret', 'sha256') } } };

/** A signed-in user with the admin role. */
async function signedInAdmin(kit: TestKit) {
  const { user, tokens } = await registerConfirmed(kit);
  assert.equal(await kit.auth.grantRole(user.id, 'admin'), true);
  return { user, admin: kit.client(tokens.accessToken) };
}

/** A user holding every kind of token: two sessions and an API token. */
async function userWithEveryToken(kit: TestKit, app: TestApp = kit) {
  const { email, user, tokens } = await registerConfirmed(kit, app);
  const second = await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
  const apiToken = (await app.client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'script' })).token;
  return { email, user, tokens, second: second.tokens, apiToken };
}

describeOnEachDatabase(
  'the account lifecycle',
  (kit) => {
    it('admin procedures refuse a user without the admin role, a caller without a token, and an API token without users:admin', async () => {
      const { user: target, tokens } = await registerConfirmed(kit());
      const plain = kit().client(tokens.accessToken);
      const calls = (client: ReturnType<TestKit['client']>) => [
        () => client.auth.admin.users.list.query(),
        () => client.auth.admin.users.get.query({ userId: target.id }),
        () => client.auth.admin.users.disable.mutate({ userId: target.id }),
        () => client.auth.admin.users.enable.mutate({ userId: target.id }),
        () => client.auth.admin.users.endSessions.mutate({ userId: target.id }),
        () => client.auth.admin.users.grantRole.mutate({ userId: target.id, role: 'admin' }),
        () => client.auth.admin.users.revokeRole.mutate({ userId: target.id, role: 'admin' }),
        () => client.auth.admin.users.delete.mutate({ userId: target.id }),
        () => client.auth.admin.events.list.query(),
      ];
      for (const call of calls(plain)) await expectAuthError(call(), 'ROLE_REQUIRED');
      for (const call of calls(kit().client())) await expectAuthError(call(), 'TOKEN_MISSING');
      const { admin } = await signedInAdmin(kit());
      const unscoped = (await admin.auth.apiTokens.create.mutate({ name: 'invites only', scopes: ['users:invite'] })).token;
      for (const call of calls(kit().client(unscoped))) await expectAuthError(call(), 'INSUFFICIENT_SCOPE');
      // Nothing happened to the target: the refused calls changed nothing.
      assert.ok(await accepts(kit(), tokens.accessToken));
      const scoped = (await admin.auth.apiTokens.create.mutate({ name: 'admin script', scopes: ['users:admin'] })).token;
      assert.equal((await kit().client(scoped).auth.admin.users.get.query({ userId: target.id })).user.id, target.id);
    });

    it('a Basic client of the admin realm lists users (curl -u), and searches by address, username, id and ranges, a page at a time', async () => {
      const label = `search${Date.now()}`;
      const made = [];
      for (let i = 0; i < 5; i++) {
        made.push(await registerConfirmed(kit(), kit(), { email: uniqueEmail(label), username: `${label.slice(-10)}u${i}` }));
        kit().clock.advanceSeconds(1);
      }
      const input = encodeURIComponent(JSON.stringify({ json: { query: label, limit: 2 } }));
      const listed = await rawRequest(kit().url, { path: `/auth.admin.users.list?input=${input}`, headers: [basicHeader('ops', 'secret')] });
      assert.equal(listed.status, 200, listed.body);
      const page = listed.json<{ result: { data: { json: { users: Array<{ id: string; roles: string[]; disabled: boolean }>; nextCursor: string } } } }>().result.data.json;
      assert.deepEqual(
        page.users.map((user) => user.id),
        [made[4]?.user.id, made[3]?.user.id],
      );
      assert.deepEqual(page.users[0], { ...page.users[0], roles: [], disabled: false });
      assert.ok(!listed.body.includes('$argon2'), 'no password hash in the answer');

      const { admin } = await signedInAdmin(kit());
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const next = await admin.auth.admin.users.list.query({ query: label, limit: 2, cursor });
        seen.push(...next.users.map((user) => user.id));
        cursor = next.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(
        seen,
        made.map(({ user }) => user.id).reverse(),
        'every page, each user once',
      );
      assert.deepEqual(
        (await admin.auth.admin.users.list.query({ query: made[2]?.user.id })).users.map((user) => user.id),
        [made[2]?.user.id],
      );
      assert.deepEqual(
        (await admin.auth.admin.users.list.query({ query: `${label.slice(-10)}U3` })).users.map((user) => user.id),
        [made[3]?.user.id],
      );
      const created = made.map(({ user }) => user.createdAt);
      const between = await admin.auth.admin.users.list.query({ query: label, createdAfter: created[1], createdBefore: created[3] });
      assert.deepEqual(
        between.users.map((user) => user.id),
        [made[3]?.user.id, made[2]?.user.id, made[1]?.user.id],
      );
      const seenLater = await admin.auth.admin.users.list.query({ query: label, lastSeenAfter: new Date(kit().clock.now() - 1500) });
      assert.deepEqual(
        seenLater.users.map((user) => user.id),
        [made[4]?.user.id],
      );
      // LIKE's wildcards are searched for as themselves.
      assert.deepEqual((await admin.auth.admin.users.list.query({ query: '%' })).users, []);
    });

    it('get shows the live sessions and API tokens, never a token or a hash', async () => {
      const { user, tokens, apiToken } = await userWithEveryToken(kit());
      const { admin } = await signedInAdmin(kit());
      const detail = await admin.auth.admin.users.get.query({ userId: user.id });
      assert.equal(detail.user.email, user.email);
      assert.equal(detail.sessions.length, 2);
      assert.equal(detail.apiTokens.length, 1);
      assert.deepEqual(detail.identities, []);
      assert.ok(detail.user.lastSignInAt instanceof Date);
      const text = JSON.stringify(detail);
      for (const secret of [tokens.accessToken, tokens.refreshToken, apiToken]) assert.ok(!text.includes(secret.slice(-20)));
      await expectAuthError(admin.auth.admin.users.get.query({ userId: '00000000-0000-4000-8000-000000000000' }), 'USER_NOT_FOUND');
    });

    it('disable refuses every token at once and fails sign-in as a wrong password does; enable lets the user sign in again, afresh', async () => {
      const { email, user, tokens, second, apiToken } = await userWithEveryToken(kit());
      const { admin } = await signedInAdmin(kit());
      for (const token of [tokens.accessToken, second.accessToken, apiToken]) assert.ok(await accepts(kit(), token));

      assert.deepEqual(await admin.auth.admin.users.disable.mutate({ userId: user.id }), { ok: true });
      for (const token of [tokens.accessToken, second.accessToken, apiToken]) await expectAuthError(kit().client(token).auth.me.query(), 'TOKEN_REVOKED');
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: second.refreshToken }), 'TOKEN_REVOKED');
      const disabled = await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
      const wrong = await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: 'not the password' }), 'INVALID_CREDENTIALS');
      assert.deepEqual(disabled.data, wrong.data);
      // A mailed sign-in link does not get around it.
      await kit().client().auth.magicLink.request.mutate({ email });
      const link = await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your sign-in link');
      await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token: link.token as string }), 'INVALID_CREDENTIALS');
      assert.equal((await admin.auth.admin.users.get.query({ userId: user.id })).user.disabled, true);
      assert.deepEqual(
        (await admin.auth.admin.users.list.query({ query: email, disabled: true })).users.map((found) => found.id),
        [user.id],
      );

      await admin.auth.admin.users.enable.mutate({ userId: user.id });
      const again = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
      assert.ok(await accepts(kit(), again.tokens.accessToken));
      for (const token of [tokens.accessToken, apiToken]) assert.equal(await accepts(kit(), token), false, 'what disabling ended stays ended');
    });

    it('endSessions ends every session and keeps the API tokens; roles are granted and revoked', async () => {
      const { user, tokens, second, apiToken } = await userWithEveryToken(kit());
      const { admin } = await signedInAdmin(kit());
      await admin.auth.admin.users.endSessions.mutate({ userId: user.id });
      for (const token of [tokens.accessToken, second.accessToken]) assert.equal(await accepts(kit(), token), false);
      assert.ok(await accepts(kit(), apiToken));

      await admin.auth.admin.users.grantRole.mutate({ userId: user.id, role: 'support' });
      assert.deepEqual((await admin.auth.admin.users.get.query({ userId: user.id })).user.roles, ['support']);
      await admin.auth.admin.users.revokeRole.mutate({ userId: user.id, role: 'support' });
      assert.deepEqual((await admin.auth.admin.users.get.query({ userId: user.id })).user.roles, []);
      await expectAuthError(admin.auth.admin.users.grantRole.mutate({ userId: '00000000-0000-4000-8000-000000000000', role: 'support' }), 'USER_NOT_FOUND');
    });

    it('an administrator deletes a user: every token ends, a notice is mailed, the address registers again as someone new, the events stay without an address', async () => {
      const { email, user, tokens, second, apiToken } = await userWithEveryToken(kit());
      const { admin } = await signedInAdmin(kit());
      await admin.auth.admin.users.delete.mutate({ userId: user.id });
      for (const token of [tokens.accessToken, second.accessToken, apiToken]) assert.equal(await accepts(kit(), token), false);
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }), 'TOKEN_INVALID');
      await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
      await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your account was deleted');
      await expectAuthError(admin.auth.admin.users.get.query({ userId: user.id }), 'USER_NOT_FOUND');
      await expectAuthError(admin.auth.admin.users.delete.mutate({ userId: user.id }), 'USER_NOT_FOUND');

      const mailsBefore = kit().smtp.mailsTo(email).length;
      await kit().client().auth.register.mutate({ email, password: PASSWORD });
      const confirmation = await kit().smtp.waitForMail(email, (mail) => mail.token !== null && kit().smtp.mailsTo(email).indexOf(mail) >= mailsBefore);
      const reborn = await kit().client().auth.confirmEmail.mutate({ token: confirmation.token as string, password: PASSWORD });
      assert.notEqual(reborn.user.id, user.id);

      await kit().auth.settled();
      const { events } = await admin.auth.admin.events.list.query({ userId: user.id });
      assert.equal(events[0]?.type, 'user-deleted');
      assert.ok(events.length > 3);
      assert.ok(events.every((event) => event.ip === null && event.userAgent === null));
    });

    it('deleteAccount needs a session token and a recent authentication, then ends everything', async () => {
      const { email, user, tokens, second, apiToken } = await userWithEveryToken(kit());
      await expectAuthError(kit().client(apiToken).auth.deleteAccount.mutate(), 'INSUFFICIENT_SCOPE');
      kit().clock.advanceSeconds(601);
      const fresh = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
      const me = kit().client(fresh.tokens.accessToken);
      await expectAuthError(me.auth.deleteAccount.mutate(), 'RECENT_AUTH_REQUIRED');
      await expectAuthError(me.auth.deleteAccount.mutate({ password: 'not the password' }), 'INVALID_CREDENTIALS');
      assert.ok(await accepts(kit(), apiToken), 'the refused calls deleted nothing');

      assert.deepEqual(await me.auth.deleteAccount.mutate({ password: PASSWORD }), { ok: true });
      for (const token of [fresh.tokens.accessToken, second.accessToken, apiToken]) assert.equal(await accepts(kit(), token), false);
      await expectAuthError(me.auth.deleteAccount.mutate({ password: PASSWORD }), 'TOKEN_INVALID');
      await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your account was deleted');
      const { user: found } = await kit().auth.admin.users.list({ query: user.id }).then((page) => ({ user: page.users[0] }));
      assert.equal(found, undefined);

      // A session that signed in a moment ago needs no password.
      const recent = await registerConfirmed(kit());
      await kit().client(recent.tokens.accessToken).auth.deleteAccount.mutate();
      assert.equal(await accepts(kit(), recent.tokens.accessToken), false);
    });

    it('a row deleted, or a user disabled, by hand ends their cached tokens within tokenCache.maxEntryAgeSeconds', async () => {
      const app = await kit().variant({ tokenCache: { maxEntryAgeSeconds: 30 } });
      const deleted = await userWithEveryToken(kit(), app);
      const disabled = await userWithEveryToken(kit(), app);
      const cached = [deleted, disabled].flatMap(({ tokens, apiToken }) => [tokens.accessToken, apiToken]);
      for (const token of cached) assert.ok(await accepts(app, token));
      // Out of band: nothing announces these.
      await kit().database.db.execute(sql`DELETE FROM ${userTable} WHERE user_id = ${deleted.user.id}`);
      await kit().database.db.execute(sql`UPDATE ${userTable} SET disabled_at = now() WHERE user_id = ${disabled.user.id}`);
      kit().clock.advanceSeconds(31);
      for (const token of [deleted.tokens.accessToken, deleted.apiToken]) await expectAuthError(app.client(token).auth.me.query(), 'TOKEN_INVALID');
      for (const token of [disabled.tokens.accessToken, disabled.apiToken]) await expectAuthError(app.client(token).auth.me.query(), 'TOKEN_REVOKED');
    });

    it('a role outlives the session: a user administrator changes one only within a recent authentication, never with an API token', async () => {
      // Shorter than an access token's life, so an admin's live token can come from a sign-in long ago.
      const app = await kit().variant({ basic, recentAuth: { windowSeconds: 60 } });
      const { user } = await registerConfirmed(kit(), app);
      const signedIn = await registerConfirmed(kit(), app);
      assert.equal(await app.auth.grantRole(signedIn.user.id, 'admin'), true);
      const admin = app.client(signedIn.tokens.accessToken);
      const script = (await admin.auth.apiTokens.create.mutate({ name: 'admin script', scopes: ['users:admin'] })).token;
      kit().clock.advanceSeconds(61);
      try {
        // A thief holding the admin's access token, or the script's, cannot make anyone an admin for good.
        await expectAuthError(admin.auth.admin.users.grantRole.mutate({ userId: user.id, role: 'admin' }), 'RECENT_AUTH_REQUIRED');
        await expectAuthError(app.client(script).auth.admin.users.grantRole.mutate({ userId: user.id, role: 'admin' }), 'RECENT_AUTH_REQUIRED');
        await expectAuthError(app.client(script).auth.admin.users.revokeRole.mutate({ userId: signedIn.user.id, role: 'admin' }), 'RECENT_AUTH_REQUIRED');
        assert.deepEqual((await admin.auth.admin.users.get.query({ userId: user.id })).user.roles, []);
        await admin.auth.admin.users.grantRole.mutate({ userId: user.id, role: 'admin', password: PASSWORD });
        assert.deepEqual((await admin.auth.admin.users.get.query({ userId: user.id })).user.roles, ['admin']);
        // A Basic client of the admin realm is a machine with its own secret: it has no session to be recent.
        const revoked = await rawRequest(app.url, {
          path: '/auth.admin.users.revokeRole',
          headers: [basicHeader('ops', 'secret')],
          body: JSON.stringify({ json: { userId: user.id, role: 'admin' } }),
        });
        assert.equal(revoked.status, 200, revoked.body);
        assert.deepEqual((await admin.auth.admin.users.get.query({ userId: user.id })).user.roles, []);
      } finally {
        kit().clock.advanceSeconds(-61);
      }
    });

    it('garbage to every new procedure is INVALID_INPUT and changes nothing', async () => {
      const { user, tokens } = await registerConfirmed(kit());
      const { admin } = await signedInAdmin(kit());
      const users = admin.auth.admin.users;
      const garbage: Array<[string, () => Promise<unknown>]> = [];
      const as = <T>(value: unknown) => value as T;
      for (const input of [{ limit: 0 }, { limit: 101 }, { limit: 1.5 }, { cursor: 'x' }, { cursor: `1.${'a'.repeat(65)}` }, { query: 'a\u0000' }, { query: '' }, { createdAfter: 'yesterday' }, { disabled: 'yes' }, { extra: 1 }, { cursor: `${'9'.repeat(20)}.${user.id}` }, { createdAfter: new Date(-8.64e15) }, { lastSeenBefore: new Date(8.64e15) }]) {
        garbage.push([`users.list ${JSON.stringify(input)}`, () => users.list.query(as(input))]);
      }
      for (const input of [{}, { userId: '' }, { userId: 5 }, { userId: 'a'.repeat(65) }, { userId: '\ud800' }, { userId: user.id, extra: true }, null]) {
        garbage.push([`users.get ${JSON.stringify(input)}`, () => users.get.query(as(input))]);
        for (const verb of ['disable', 'enable', 'endSessions', 'delete'] as const) garbage.push([`users.${verb} ${JSON.stringify(input)}`, () => users[verb].mutate(as(input))]);
      }
      for (const input of [{ userId: user.id }, { userId: user.id, role: '' }, { userId: user.id, role: 'Admin' }, { userId: user.id, role: 'a'.repeat(33) }, { userId: user.id, role: ['admin'] }, { userId: user.id, role: 'support', password: 5 }, { userId: user.id, role: 'support', password: '' }]) {
        garbage.push([`users.grantRole ${JSON.stringify(input)}`, () => users.grantRole.mutate(as(input))]);
        garbage.push([`users.revokeRole ${JSON.stringify(input)}`, () => users.revokeRole.mutate(as(input))]);
      }
      for (const input of [{ cursor: 'abc' }, { cursor: '-1' }, { cursor: '9'.repeat(20) }, { limit: -1 }, { userId: 3 }, { extra: 1 }]) {
        garbage.push([`events.list ${JSON.stringify(input)}`, () => admin.auth.admin.events.list.query(as(input))]);
      }
      const me = kit().client(tokens.accessToken);
      for (const input of [{ password: 5 }, { password: '' }, { password: 'x'.repeat(2000) }, { extra: 1 }, 'delete']) {
        garbage.push([`deleteAccount ${JSON.stringify(input)}`, () => me.auth.deleteAccount.mutate(as(input))]);
      }
      for (const [what, call] of garbage) {
        const error = await expectAuthError(call(), 'INVALID_INPUT').catch((failure: unknown) => assert.fail(`${what}: ${String(failure)}`));
        assert.equal(error.data?.httpStatus, 400, what);
      }
      const after = await users.get.query({ userId: user.id });
      assert.deepEqual({ disabled: after.user.disabled, roles: after.user.roles, sessions: after.sessions.length }, { disabled: false, roles: [], sessions: 1 });
      assert.ok(await accepts(kit(), tokens.accessToken));
    });
  },
  { basic, audit: { store: true } },
);
