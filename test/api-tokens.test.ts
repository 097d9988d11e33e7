import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { eq, sql } from 'drizzle-orm';
import superjson from 'superjson';
import { apiTokenTable } from '../db/index.js';
import { parseToken } from '../shared/index.js';
import type { Auth } from '../server/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { until } from './harness/poll.js';
import { PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';

function appRouterOf(auth: Auth) {
  const scoped = (...scopes: string[]) => auth.protectedProcedure.use(auth.requireScopes(...scopes));
  return auth.router({
    auth: auth.authRouter,
    todos: auth.router({
      open: auth.protectedProcedure.query(({ ctx }) => ({ scopes: ctx.session.scopes })),
      read: scoped('todos:read').query(() => 'read'),
      write: scoped('todos:write').mutation(() => 'written'),
      both: scoped('todos:read', 'todos:write').query(() => 'both'),
    }),
  });
}

describeOnEachDatabase('personal API tokens', (kit) => {
  let url = '';
  let close: () => Promise<void> = () => Promise.resolve();
  before(async () => {
    const server = createHTTPServer({ router: appRouterOf(kit().auth), createContext: kit().auth.createContext });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  });
  after(() => close());

  const client = (token?: string) =>
    createTRPCClient<ReturnType<typeof appRouterOf>>({
      links: [httpLink({ url, transformer: superjson, headers: (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}) })],
    });

  async function signedIn() {
    const { tokens, user, email } = await registerConfirmed(kit());
    return { session: tokens.accessToken, refreshToken: tokens.refreshToken, userId: user.id, email };
  }

  it('a token is shown once, stored as a hash, listed without its secret, and works as Bearer', async () => {
    const { session, userId } = await signedIn();
    const response = await fetch(`${url}/auth.apiTokens.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
      body: JSON.stringify({ json: { name: 'deploy script', scopes: ['todos:read'] } }),
    });
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const { id, token } = ((await response.json()) as { result: { data: { json: { id: string; token: string } } } }).result.data.json;
    assert.match(token, /^pat_[A-Za-z0-9_-]{65}$/);
    assert.ok(parseToken('apiToken', token));

    const listed = await client(session).auth.apiTokens.list.query();
    assert.deepEqual(
      listed.map(({ id: listedId, name, scopes }) => ({ id: listedId, name, scopes })),
      [{ id, name: 'deploy script', scopes: ['todos:read'] }],
    );
    assert.doesNotMatch(JSON.stringify(listed), /pat_/);
    const verifier = parseToken('apiToken', token)?.verifier as string;
    const rows = await kit().database.db.execute(sql`SELECT * FROM ${apiTokenTable} WHERE user_id = ${userId}`);
    assert.doesNotMatch(JSON.stringify(rows), new RegExp(`${token}|${verifier}`));

    assert.equal((await client(token).auth.me.query()).id, userId);
    assert.deepEqual(await client(token).todos.open.query(), { scopes: ['todos:read'] });
    const [expires] = listed;
    const days = ((expires?.expiresAt.getTime() ?? 0) - (expires?.createdAt.getTime() ?? 0)) / 86_400_000;
    assert.equal(days, 365);
  });

  it('the scopes matrix: a token reaches what its scopes allow, never what changes the account', async () => {
    const { session } = await signedIn();
    const make = (scopes: string[]) => client(session).auth.apiTokens.create.mutate({ name: scopes.join(',') || 'none', scopes }).then((made) => made.token);
    // The session comes last: its own logout ends it.
    const callers = {
      none: await make([]),
      read: await make(['todos:read']),
      readWrite: await make(['todos:read', 'todos:write', 'user:write']),
      session,
    };
    type Caller = keyof typeof callers;
    const calls: Record<string, (token: string) => Promise<unknown>> = {
      me: (token) => client(token).auth.me.query(),
      open: (token) => client(token).todos.open.query(),
      read: (token) => client(token).todos.read.query(),
      write: (token) => client(token).todos.write.mutate(),
      both: (token) => client(token).todos.both.query(),
      updateUser: (token) => client(token).auth.updateUser.mutate({ meta: { touched: true } }),
      listTokens: (token) => client(token).auth.apiTokens.list.query(),
      listSessions: (token) => client(token).auth.sessions.list.query(),
      createToken: (token) => client(token).auth.apiTokens.create.mutate({ name: 'minted' }),
      revokeToken: (token) => client(token).auth.apiTokens.revoke.mutate({ id: 'unknown' }),
      revokeSession: (token) => client(token).auth.sessions.revoke.mutate({ sessionId: 'unknown' }),
      changePassword: (token) => client(token).auth.changePassword.mutate({ currentPassword: 'wrong password!', newPassword: 'another long passphrase' }),
      logoutOthers: (token) => client(token).auth.logout.mutate({ scope: 'others' }),
      logoutAll: (token) => client(token).auth.logout.mutate({ scope: 'all' }),
    };
    // What each caller may do; everything else answers INSUFFICIENT_SCOPE (changePassword with a
    // session's token gets past the scope check and fails on the wrong current password).
    const allowed: Record<Caller, string[]> = {
      session: ['me', 'open', 'read', 'write', 'both', 'updateUser', 'listTokens', 'listSessions', 'createToken', 'revokeToken', 'revokeSession', 'logoutOthers', 'logoutAll'],
      none: ['me', 'open', 'listTokens', 'listSessions'],
      read: ['me', 'open', 'read', 'listTokens', 'listSessions'],
      readWrite: ['me', 'open', 'read', 'write', 'both', 'updateUser', 'listTokens', 'listSessions'],
    };
    for (const caller of Object.keys(callers) as Caller[]) {
      // Nothing the tokens tried ended the session.
      if (caller === 'session') await client(session).auth.me.query();
      for (const [name, call] of Object.entries(calls)) {
        const outcome = await call(callers[caller]).then(
          () => 'ok',
          (error: { data?: { authCode?: string } }) => error.data?.authCode ?? 'unknown',
        );
        const expected = allowed[caller].includes(name) ? 'ok' : caller === 'session' && name === 'changePassword' ? 'INVALID_CREDENTIALS' : 'INSUFFICIENT_SCOPE';
        assert.equal(outcome, expected, `${caller} → ${name}`);
      }
    }
  });

  it('a refused scope is HTTP 403 with the RFC 6750 insufficient_scope challenge naming the scopes', async () => {
    const { session } = await signedIn();
    const { token } = await client(session).auth.apiTokens.create.mutate({ name: 'reader', scopes: ['todos:read'] });
    const response = await fetch(`${url}/todos.both`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="todos:read todos:write"');
    const body = (await response.json()) as { error: { json: { data: { authCode: string } } } };
    assert.equal(body.error.json.data.authCode, 'INSUFFICIENT_SCOPE');
  });

  it('verifyAccessToken gives an API token its scopes and a session token none', async () => {
    const { session, userId } = await signedIn();
    const { id, token } = await client(session).auth.apiTokens.create.mutate({ name: 'ci', scopes: ['b:two', 'a:one', 'a:one'] });
    for (let round = 0; round < 2; round++) {
      // Round 0 reads the database and fills the cache; round 1 is a cache hit.
      const authorization = await kit().auth.verifyAccessToken(token);
      assert.deepEqual({ ...authorization, expiresAt: undefined }, { userId, sessionId: id, scopes: ['a:one', 'b:two'], expiresAt: undefined });
    }
    assert.equal((await kit().auth.verifyAccessToken(session))?.scopes, null);
    assert.equal(await kit().auth.verifyAccessToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), null);
  });

  it('revoking a token refuses it at once, cached or not, on this node and on another', async () => {
    const { session } = await signedIn();
    const { id, token } = await client(session).auth.apiTokens.create.mutate({ name: 'to revoke' });
    const otherNode = await kit().variant({});
    await client(token).auth.me.query();
    await otherNode.client(token).auth.me.query();
    await client(session).auth.apiTokens.revoke.mutate({ id });
    await expectAuthError(client(token).auth.me.query(), 'TOKEN_REVOKED');
    assert.deepEqual(await client(session).auth.apiTokens.list.query(), []);
    if (kit().kind === 'postgres') {
      // The other node hears the revocation on its listener.
      await until(() => otherNode.client(token).auth.me.query().then(() => false, () => true), 'the other node to refuse the revoked token');
      await expectAuthError(otherNode.client(token).auth.me.query(), 'TOKEN_REVOKED');
    }
  });

  it("another user's token id changes nothing; a token's own logout revokes that token only", async () => {
    const alice = await signedIn();
    const bob = await signedIn();
    const bobs = await client(bob.session).auth.apiTokens.create.mutate({ name: 'bob' });
    await client(alice.session).auth.apiTokens.revoke.mutate({ id: bobs.id });
    await client(bobs.token).auth.me.query();

    assert.deepEqual(await client(bobs.token).auth.logout.mutate(), { ok: true });
    await expectAuthError(client(bobs.token).auth.me.query(), 'TOKEN_REVOKED');
    await client(bob.session).auth.me.query();
  });

  it('a password change or reset ends the API tokens; with endWithCredentialChange off they live on', async () => {
    const { session, email } = await signedIn();
    const { token } = await client(session).auth.apiTokens.create.mutate({ name: 'ends' });
    await client(token).auth.me.query();
    await client(session).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'a second passphrase' });
    await expectAuthError(client(token).auth.me.query(), 'TOKEN_REVOKED');

    const second = await client(session).auth.apiTokens.create.mutate({ name: 'ends on reset' });
    await client(second.token).auth.me.query();
    await kit().client().auth.forgotPassword.mutate({ email });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    await kit().client().auth.resetPassword.mutate({ token: mail.token as string, password: 'a third passphrase!' });
    await expectAuthError(client(second.token).auth.me.query(), 'TOKEN_REVOKED');

    const keeps = await kit().variant({ apiTokens: { endWithCredentialChange: false } });
    const { tokens } = await keeps.client().auth.login.mutate({ identifier: email, password: 'a third passphrase!' });
    const kept = await keeps.client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'kept' });
    await keeps.client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: 'a third passphrase!', newPassword: 'a fourth passphrase' });
    assert.ok(await keeps.client(kept.token).auth.me.query());
  });

  it('a token expires: 365 days by default, or as asked, and answers TOKEN_EXPIRED from the cache', async () => {
    const { session } = await signedIn();
    const { token } = await client(session).auth.apiTokens.create.mutate({ name: 'short', expiresInDays: 2 });
    await client(token).auth.me.query();
    kit().clock.advanceSeconds(2 * 86_400 + 1);
    await expectAuthError(client(token).auth.me.query(), 'TOKEN_EXPIRED');
  });

  it('a token of the wrong kind, or a mistyped one, is refused and costs no lookup', async () => {
    const { session, refreshToken } = await signedIn();
    const { token } = await client(session).auth.apiTokens.create.mutate({ name: 'kinds' });
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: token }), 'TOKEN_INVALID');
    await expectAuthError(client(refreshToken).auth.me.query(), 'TOKEN_INVALID');
    await expectAuthError(client(`pat_${'A'.repeat(65)}`).auth.me.query(), 'TOKEN_INVALID');
    // The refused uses did not spend the token.
    await client(token).auth.me.query();
  });

  it('records when a token was last used, to the minute, without a write per call', async () => {
    const { session } = await signedIn();
    const { id, token } = await client(session).auth.apiTokens.create.mutate({ name: 'used' });
    const lastUsed = async () => (await kit().database.db.select().from(apiTokenTable).where(eq(apiTokenTable.id, id)))[0]?.lastUsedAt ?? null;
    assert.equal(await lastUsed(), null);
    await client(token).auth.me.query();
    // Recorded in the background, after the answer: settled() waits for it.
    await kit().auth.settled();
    const recorded = await lastUsed();
    assert.equal(recorded?.getTime(), kit().clock.now());
    kit().clock.advanceSeconds(10);
    await client(token).auth.me.query();
    await kit().auth.settled();
    assert.equal((await lastUsed())?.getTime(), recorded?.getTime());
  });

  it('bad input is a typed error and writes nothing', async () => {
    const { session } = await signedIn();
    const bad: Array<Record<string, unknown>> = [
      { name: '' },
      { name: 'x', scopes: ['has space'] },
      { name: 'x', scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) },
      { name: 'x', expiresInDays: 0 },
      { name: 'x', expiresInDays: 3651 },
      { name: 'x', admin: true },
    ];
    for (const input of bad) {
      await expectAuthError(client(session).auth.apiTokens.create.mutate(input as { name: string }), 'INVALID_INPUT');
    }
    assert.deepEqual(await client(session).auth.apiTokens.list.query(), []);
  });
});
