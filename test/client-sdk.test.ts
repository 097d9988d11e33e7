import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTRPCClient, httpBatchLink, httpLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
import { SKIP_AUTH, authHeaders, authLink, createAuthClient, createAuthSession, getAuthErrorCode, memoryStore } from '../client/index.js';
import type { AuthChange, AuthClient, CreateAuthClientOptions } from '../client/index.js';
import { fileStore } from '../client/node/index.js';
import { readConfig } from '../reference-server/config.js';
import { startReferenceServer } from '../reference-server/server.js';
import type { ReferenceRouter } from '../reference-server/server.js';
import { createRunningClock } from './harness/clock.js';
import { openTestDatabase } from './harness/database.js';
import type { TestDatabase } from './harness/database.js';
import { PASSWORD, uniqueEmail } from './harness/test-kit.js';

type Server = Awaited<ReturnType<typeof startReferenceServer>>;

/** Every request the client sends, by procedure path, so a test can count refreshes. */
function countingFetch() {
  const paths: string[] = [];
  const counted: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    paths.push(...decodeURIComponent(url.pathname.replace(/^\/trpc\//, '')).split(','));
    return fetch(input, init);
  };
  return { fetch: counted, count: (path: string) => paths.filter((each) => each === path).length };
}

function nextChange(auth: AuthClient<ReferenceRouter>, type: AuthChange['type']): Promise<AuthChange> {
  return new Promise((resolve) => {
    const stop = auth.onChange((_, change) => {
      if (change.type !== type) return;
      stop();
      resolve(change);
    });
  });
}

describe('the client SDK against the reference server', () => {
  let database: TestDatabase;
  let server: Server;
  let dataDir: string;
  // The server's time, which the clients read too unless a test makes one lag.
  const clock = createRunningClock();
  /** A client clock an hour behind: it believes its tokens fresh and sends them. */
  const lagging = () => clock.now() - 3_600_000;
  const clients: Array<AuthClient<ReferenceRouter>> = [];

  before(async () => {
    database = await openTestDatabase('postgres');
    dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-client-'));
    const config = readConfig({
      PORT: '0',
      DATABASE_URL: database.url ?? '',
      AUTH_DATA_DIR: dataDir,
      AUTH_EMAIL_CONFIRMATION: 'off',
      // One-second access tokens, so the refresh timer fires within a test; expiry is the clock's move.
      AUTH_ACCESS_TTL: '1',
      AUTH_REFRESH_GRACE: '0',
    });
    server = await startReferenceServer(config, () => {}, { clock });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function client(options: Partial<CreateAuthClientOptions> = {}) {
    const auth = createAuthClient<ReferenceRouter>({ url: `${server.url}/trpc`, now: () => clock.now(), ...options });
    clients.push(auth);
    return auth;
  }

  async function signedUp(options: Partial<CreateAuthClientOptions> = {}) {
    const counter = countingFetch();
    const auth = client({ fetch: counter.fetch, ...options });
    const { user } = await auth.register({ email: uniqueEmail('sdk'), password: PASSWORD });
    assert.ok(user, 'the server confirms nothing first (AUTH_EMAIL_CONFIRMATION=off)');
    return { auth, user, counter };
  }

  /** Moves the server's time past the client's access token. */
  function expire(auth: AuthClient<ReferenceRouter>): void {
    const expiresAt = auth.getState().accessTokenExpiresAt;
    assert.ok(expiresAt);
    clock.advanceSeconds(Math.max(0, expiresAt.getTime() - clock.now()) / 1000 + 1);
  }

  for (const batch of [true, false]) {
    it(`100 concurrent calls with an expired token cause one refresh, and all succeed (${batch ? 'batched' : 'one request each'})`, async () => {
      // The client's clock lags, so it believes the token fresh and sends it: the server's
      // TOKEN_EXPIRED is what starts the refresh.
      const { auth, user, counter } = await signedUp({ batch, now: lagging });
      expire(auth);
      const answers = await Promise.all(Array.from({ length: 100 }, () => auth.trpc.demo.whoami.query()));
      assert.ok(answers.every((answer) => answer.userId === user.id));
      assert.equal(counter.count('auth.refresh'), 1);
      assert.equal(auth.getState().status, 'signed-in');
    });
  }

  it('a token the client knows to be expired is refreshed once before the calls go out', async () => {
    const { auth, counter } = await signedUp();
    expire(auth);
    const before = counter.count('demo.whoami');
    await Promise.all(Array.from({ length: 100 }, () => auth.trpc.demo.whoami.query()));
    assert.equal(counter.count('auth.refresh'), 1);
    assert.equal(counter.count('demo.whoami') - before, 100, 'no call was sent twice');
  });

  it('a refresh answered REFRESH_TOKEN_REUSED signs out, and nothing tries to refresh again', async () => {
    const store = memoryStore();
    const { auth, counter } = await signedUp({ store, now: lagging });
    // A thief spends the refresh token first; the grace window is 0, so the client's turn is reuse.
    const stolen = (await store.get())?.refreshToken;
    assert.ok(stolen);
    const thief = client();
    await thief.session.ready;
    await thief.trpc.auth.refresh.mutate({ refreshToken: stolen });
    expire(auth);

    const signedOut = nextChange(auth, 'signed-out');
    await assert.rejects(auth.trpc.demo.whoami.query(), (error) => getAuthErrorCode(error) === 'TOKEN_EXPIRED');
    assert.deepEqual(await signedOut, { type: 'signed-out', reason: 'refresh-rejected', code: 'REFRESH_TOKEN_REUSED' });
    assert.equal(auth.getState().status, 'signed-out');

    await assert.rejects(auth.trpc.demo.whoami.query(), (error) => getAuthErrorCode(error) === 'TOKEN_MISSING');
    assert.equal(counter.count('auth.refresh'), 1);
  });

  it('a call refused because its session was revoked signs out without a refresh', async () => {
    // The client's clock lags, so its timer does not refresh the one-second token while the test
    // signs in elsewhere: the refusal is what this test is about.
    const { auth, counter } = await signedUp({ now: lagging });
    const elsewhere = client();
    await elsewhere.login({ identifier: auth.getState().user?.email ?? '', password: PASSWORD });
    await elsewhere.logout('all');

    const signedOut = nextChange(auth, 'signed-out');
    await assert.rejects(auth.trpc.demo.whoami.query(), (error) => getAuthErrorCode(error) === 'TOKEN_REVOKED');
    assert.deepEqual(await signedOut, { type: 'signed-out', reason: 'session-ended', code: 'TOKEN_REVOKED' });
    assert.equal(counter.count('auth.refresh'), 0);
  });

  it('logout after the session was ended elsewhere resolves, and signs out here', async () => {
    const { auth } = await signedUp();
    const elsewhere = client();
    await elsewhere.login({ identifier: auth.getState().user?.email ?? '', password: PASSWORD });
    await elsewhere.logout('all');
    await auth.logout();
    assert.equal(auth.getState().status, 'signed-out');
  });

  it('a call failing for another reason is not retried', async () => {
    const { auth, counter } = await signedUp();
    await assert.rejects(auth.trpc.auth.updateUser.mutate({ username: 'no spaces allowed' }), (error) => getAuthErrorCode(error) === 'INVALID_INPUT');
    assert.equal(counter.count('auth.updateUser'), 1);
  });

  it('the timer refreshes before the access token expires, with no call made', async () => {
    const { auth, counter } = await signedUp();
    const firstExpiry = auth.getState().accessTokenExpiresAt?.getTime() ?? 0;
    await nextChange(auth, 'refreshed');
    assert.ok(clock.now() < firstExpiry, 'refreshed ahead of expiry');
    assert.equal(counter.count('auth.refresh'), 1);
    assert.ok((auth.getState().accessTokenExpiresAt?.getTime() ?? 0) > firstExpiry);
  });

  it('logout ends the session on the server and clears the client; a second logout is harmless', async () => {
    const store = memoryStore();
    const { auth } = await signedUp({ store });
    const refreshToken = (await store.get())?.refreshToken;
    await auth.logout();
    assert.equal(auth.getState().status, 'signed-out');
    assert.equal(auth.getState().user, null);
    await auth.logout();
    const other = client();
    await assert.rejects(other.trpc.auth.refresh.mutate({ refreshToken: refreshToken ?? '' }), (error) => getAuthErrorCode(error) === 'TOKEN_REVOKED');
  });

  it('the parts compose with splitLink: batched queries and single mutations share one refresh', async () => {
    const { auth, user } = await signedUp();
    const counter = countingFetch();
    const url = `${server.url}/trpc`;
    const session = createAuthSession({
      now: lagging,
      refresh: async (refreshToken) => (await client.auth.refresh.mutate({ refreshToken }, { context: SKIP_AUTH })).tokens,
    });
    const headers = authHeaders(session);
    const client = createTRPCClient<ReferenceRouter>({
      links: [
        authLink(session),
        splitLink({
          condition: (op) => op.type === 'query',
          true: httpBatchLink({ url, transformer: superjson, headers, fetch: counter.fetch }),
          false: httpLink({ url, transformer: superjson, headers, fetch: counter.fetch }),
        }),
      ],
    });
    const { tokens } = await client.auth.login.mutate({ identifier: auth.getState().user?.email ?? '', password: PASSWORD }, { context: SKIP_AUTH });
    await session.signIn(tokens);
    clock.advanceSeconds((tokens.accessTokenExpiresAt.getTime() - clock.now()) / 1000 + 1);

    const [queries, updated] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => client.demo.whoami.query())),
      client.auth.updateUser.mutate({ meta: { theme: 'dark' } }),
    ]);
    assert.ok(queries.every((answer) => answer.userId === user.id));
    assert.deepEqual(updated.meta, { theme: 'dark' });
    assert.equal(counter.count('auth.refresh'), 1);
    await session.close();
  });

  it('the file store keeps the sign-in across a restart, readable by its owner only', async () => {
    const path = join(dataDir, 'cli', 'tokens.json');
    const { auth, user } = await signedUp({ store: fileStore(path) });
    await auth.close();
    assert.equal((await stat(path)).mode & 0o777, 0o600);

    const restarted = client({ store: fileStore(path) });
    await restarted.ready;
    assert.equal(restarted.getState().status, 'signed-in');
    assert.equal((await restarted.trpc.demo.whoami.query()).userId, user.id);
    await restarted.logout();
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });
});
