/*
 * A database that stops answering, or goes down, answers 503 within seconds and the process recovers
 * by itself (SECURITY.md A17, item 61, F12).
 *
 * PostgreSQL only: PGlite runs inside this process, so it has no connection to stall. The app under
 * test reaches the test server through a TCP proxy (harness/tcp-proxy.ts) that can stall (take bytes,
 * forward nothing) or refuse connections; its revocation listener connects directly, unless a test
 * cuts it off as well. Accounts and tokens the app has not seen come from a second node on the
 * direct connection, whose tokens are not in the app's cache.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { sql } from 'drizzle-orm';
import { PGlite } from '@electric-sql/pglite';
import { closeDatabase, connectDatabase } from '../db/index.js';
import { clientOf } from '../db/database-client.js';
import { authErrorFormatter, authTransformer, createAuth } from '../server/index.js';
import type { AuthBaseContext, Clock } from '../server/index.js';
import { startTcpProxy } from './harness/tcp-proxy.js';
import { PASSWORD, describeOnPostgres, uniqueEmail } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';
import { until } from './harness/poll.js';

const quiet = { info() {}, warn() {}, error() {} };
/** A generous bound on the time to a 503: the defaults answer within 5 s (3 s connect, 4.5 s silence). */
const ANSWER_BOUND_MS = 8000;
/** How long recovery may take once the database is back. */
const RECOVERY_BOUND_MS = 15_000;
/** A test that hangs fails instead (a leaked connection makes closing the pool wait for ever). */
const LIVENESS = { timeout: 60_000 };

interface Answer {
  status: number;
  retryAfter: string | null;
  authCode: string | null;
  data: Record<string, unknown> | undefined;
  ms: number;
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/**
 * An app on `databaseUrl`, served over HTTP, listening for revocations on `listenerUrl`; at
 * `ownInstanceUrl` the same kit mounted in an application that keeps its own tRPC instance.
 */
async function startApp(setup: { databaseUrl: string; listenerUrl: string; clock: Clock; listener?: { heartbeatIntervalMs: number; staleAfterMs: number } }) {
  const db = await connectDatabase(setup.databaseUrl);
  const auth = await createAuth({
    db,
    mail: { transport: { sendMail: () => Promise.resolve({}) }, from: 'auth@app.example.test', appUrl: 'https://app.example.test' },
    signup: { emailConfirmation: 'off' },
    // Every call of this file comes from one address, many at once: the fair share of the hashing
    // bulkhead per client is not what these tests are about.
    password: { maxHashesPerClient: 64 },
    clock: setup.clock,
    logger: quiet,
    revocationListener: { connectionString: setup.listenerUrl, ...setup.listener },
  });
  const router = auth.router({
    auth: auth.authRouter,
    demo: auth.router({
      whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id })),
      // A query that fails for a reason other than the database's availability.
      divideByZero: auth.publicProcedure.query(async () => {
        await db.execute(sql`SELECT 1 / 0`);
      }),
    }),
  });
  const t = initTRPC.context<AuthBaseContext>().create({ transformer: authTransformer, errorFormatter: authErrorFormatter });
  const ownProtectedProcedure = t.procedure.use(auth.databaseUnavailableMiddleware).use(auth.protectMiddleware);
  const ownRouter = t.router({ demo: t.router({ whoami: ownProtectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id })) }) });
  const servers = [createHTTPServer({ router, createContext: auth.createContext }), createHTTPServer({ router: ownRouter, createContext: auth.createContext })];
  const urls = await Promise.all(
    servers.map(async (server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }),
  );
  return {
    db,
    url: urls[0] as string,
    ownInstanceUrl: urls[1] as string,
    async close() {
      for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
      await closeDatabase(db);
    },
  };
}

type App = Awaited<ReturnType<typeof startApp>>;

/** Calls a procedure over HTTP as a client would (a mutation with `input`, else a query), timed. */
async function call(app: { url: string }, path: string, request: { input?: unknown; accessToken?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (request.accessToken) headers.authorization = `Bearer ${request.accessToken}`;
  const started = performance.now();
  const response =
    request.input === undefined
      ? await fetch(`${app.url}/${path}`, { headers })
      : await fetch(`${app.url}/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: request.input }) });
  const body = (await response.json()) as { result?: { data: { json: Record<string, unknown> } }; error?: { json: { data: { authCode: string | null } } } };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    authCode: body.error?.json.data.authCode ?? null,
    data: body.result?.data.json,
    ms: performance.now() - started,
  };
}

function tokensOf(answer: Answer): TokenPair {
  assert.equal(answer.status, 200, `expected 200, got ${answer.status} ${answer.authCode}`);
  return answer.data?.tokens as TokenPair;
}

/** Repeats `attempt` until it answers 200; returns that answer and how long it took to come. */
async function untilOk(attempt: () => Promise<Answer>, what: string): Promise<{ answer: Answer; ms: number }> {
  const started = performance.now();
  const answer = await until(async () => {
    const tried = await attempt();
    return tried.status === 200 ? tried : null;
  }, `${what} to answer 200`, RECOVERY_BOUND_MS);
  return { answer, ms: performance.now() - started };
}

function assertUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: expected 503, got ${answer.status} ${answer.authCode}`);
  assert.equal(answer.authCode, 'SERVICE_UNAVAILABLE', what);
  assert.ok(Number(answer.retryAfter) > 0, `${what}: Retry-After was ${answer.retryAfter}`);
  assert.ok(answer.ms < ANSWER_BOUND_MS, `${what} took ${Math.round(answer.ms)} ms`);
}

/** A proxy in front of the test server, and the URLs through it and around it. */
async function proxyToDatabase(kit: TestKit) {
  const direct = new URL(kit.database.url as string);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
  const viaProxy = new URL(direct);
  viaProxy.port = String(proxy.port);
  return { proxy, direct: direct.toString(), viaProxy: viaProxy.toString() };
}

/** A node on the direct connection: what it issues, the app under test has never cached. */
async function directNode(kit: TestKit) {
  return startApp({ databaseUrl: kit.database.url as string, listenerUrl: kit.database.url as string, clock: kit.clock });
}

async function register(app: App, email = uniqueEmail()): Promise<{ email: string; tokens: TokenPair }> {
  return { email, tokens: tokensOf(await call(app, 'auth.register', { input: { email, password: PASSWORD } })) };
}

/** The calls that must fall through to the database: each fresh, so a retry asks the same again. */
function databaseCalls(app: App, known: { email: string; refreshToken: string; uncachedAccessToken: string }) {
  return {
    login: () => call(app, 'auth.login', { input: { identifier: known.email, password: PASSWORD } }),
    refresh: () => call(app, 'auth.refresh', { input: { refreshToken: known.refreshToken } }),
    register: () => call(app, 'auth.register', { input: { email: uniqueEmail('stalled'), password: PASSWORD } }),
    uncachedBearer: () => call(app, 'demo.whoami', { accessToken: known.uncachedAccessToken }),
    ownInstanceBearer: () => call({ url: app.ownInstanceUrl }, 'demo.whoami', { accessToken: known.uncachedAccessToken }),
  };
}

describeOnPostgres('a database that stalls or goes down', (kit) => {
  it('answers 503 with Retry-After within seconds, keeps cached tokens working, and recovers by itself', LIVENESS, async (t) => {
    const { proxy, direct, viaProxy } = await proxyToDatabase(kit());
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: direct, clock: kit().clock });
    const other = await directNode(kit());
    try {
      const cached = await register(app);
      const elsewhere = await register(other);
      const calls = databaseCalls(app, { email: elsewhere.email, refreshToken: elsewhere.tokens.refreshToken, uncachedAccessToken: elsewhere.tokens.accessToken });
      const cachedBearer = () => call(app, 'demo.whoami', { accessToken: cached.tokens.accessToken });
      assert.equal((await cachedBearer()).status, 200);

      proxy.blackHole();
      const stalled = await Promise.all(Object.entries(calls).map(async ([name, attempt]) => [name, await attempt()] as const));
      for (const [name, answer] of stalled) assertUnavailable(answer, `${name} (stalled)`);
      const whileStalled = await cachedBearer();
      assert.equal(whileStalled.status, 200, 'a cached token answers from memory while the database stalls');

      proxy.restore();
      await proxy.refuse();
      const refused = await Promise.all(Object.entries(calls).map(async ([name, attempt]) => [name, await attempt()] as const));
      for (const [name, answer] of refused) assertUnavailable(answer, `${name} (refused)`);
      assert.equal((await cachedBearer()).status, 200, 'a cached token answers from memory while the database is down');

      await proxy.accept();
      const recovery: Record<string, number> = {};
      for (const [name, attempt] of Object.entries(calls)) recovery[name] = Math.round((await untilOk(attempt, name)).ms);

      const figures = (answers: typeof stalled) => answers.map(([name, answer]) => `${name} ${Math.round(answer.ms)}`).join(', ');
      t.diagnostic(`time to 503 in ms, stalled: ${figures(stalled)}; refused: ${figures(refused)}`);
      t.diagnostic(`cached token while stalled: ${whileStalled.ms.toFixed(1)} ms; first 200 after the database came back, ms: ${JSON.stringify(recovery)}`);
    } finally {
      await other.close();
      await app.close();
      await proxy.close();
    }
  });

  it('refuses a timeout that is not a positive whole number of milliseconds', async () => {
    for (const options of [{ connectTimeoutMs: 0 }, { statementTimeoutMs: -1 }, { idleInTransactionTimeoutMs: 1.5 }, { statementTimeoutMs: Number.NaN }]) {
      await assert.rejects(connectDatabase(kit().database.url as string, options), /must be a positive whole number of milliseconds/);
    }
  });

  it('answers any other unexpected failure with a generic 500 and no Retry-After', LIVENESS, async () => {
    const app = await directNode(kit());
    try {
      const answer = await call(app, 'demo.divideByZero');
      assert.equal(answer.status, 500);
      assert.equal(answer.retryAfter, null);
      assert.equal(answer.authCode, null);
    } finally {
      await app.close();
    }
  });

  it('never answers 200 for a sign-in or a refresh it could not complete, and loses no session to an outage', LIVENESS, async () => {
    const { proxy, direct, viaProxy } = await proxyToDatabase(kit());
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: direct, clock: kit().clock });
    try {
      const accounts = await Promise.all(Array.from({ length: 6 }, () => register(app)));

      await proxy.refuse();
      const answers = await Promise.all(
        accounts.flatMap(({ email, tokens }) => [
          call(app, 'auth.login', { input: { identifier: email, password: PASSWORD } }),
          call(app, 'auth.refresh', { input: { refreshToken: tokens.refreshToken } }),
        ]),
      );
      for (const answer of answers) assertUnavailable(answer, 'during the outage');

      // An outage that begins while sign-ins and refreshes are in flight: each answers 503, or 200
      // with tokens that were committed.
      await proxy.accept();
      const racing = accounts.map(({ email, tokens }) => ({
        login: call(app, 'auth.login', { input: { identifier: email, password: PASSWORD } }),
        refresh: call(app, 'auth.refresh', { input: { refreshToken: tokens.refreshToken } }),
      }));
      await proxy.refuse();
      const raced = await Promise.all(racing.map(async ({ login, refresh }) => ({ login: await login, refresh: await refresh })));
      await proxy.accept();

      for (const [index, { login, refresh }] of raced.entries()) {
        for (const answer of [login, refresh]) assert.ok(answer.status === 200 || answer.status === 503, `got ${answer.status} ${answer.authCode}`);
        if (login.status === 200) await untilOk(() => call(app, 'demo.whoami', { accessToken: tokensOf(login).accessToken }), 'a token from a sign-in');
        // Refreshed or not, the session goes on: the successor works, or the token presented again
        // (a client retrying after a 503) returns it within the grace window, never as a reuse.
        const account = accounts[index] as (typeof accounts)[number];
        const retried = () => call(app, 'auth.refresh', { input: { refreshToken: account.tokens.refreshToken } });
        const next = tokensOf(refresh.status === 200 ? refresh : (await untilOk(retried, 'a refresh retried after a 503')).answer);
        await untilOk(() => call(app, 'demo.whoami', { accessToken: next.accessToken }), 'a refreshed token');
        assert.equal((await call(app, 'auth.refresh', { input: { refreshToken: next.refreshToken } })).status, 200);
      }
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('loses no pooled connection to a stall that catches every one of them opening a transaction', LIVENESS, async () => {
    const { proxy, direct, viaProxy } = await proxyToDatabase(kit());
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: direct, clock: kit().clock });
    try {
      // As many connections at once as the pool holds (pg's default, 10), given back idle: each then
      // waits in it for a registration to open its transaction on (BEGIN is its first statement).
      const poolSize = 10;
      const pool = clientOf(app.db);
      assert.ok(!(pool instanceof PGlite), 'PostgreSQL only');
      const held = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
      for (const connection of held) connection.release();

      proxy.blackHole();
      const stalled = await Promise.all(Array.from({ length: poolSize }, () => call(app, 'auth.register', { input: { email: uniqueEmail('stalled'), password: PASSWORD } })));
      for (const answer of stalled) assertUnavailable(answer, 'a registration opening a transaction');

      proxy.restore();
      await untilOk(() => call(app, 'auth.register', { input: { email: uniqueEmail('after'), password: PASSWORD } }), 'a registration after the stall');
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('with its listener cut off too, trusts cached tokens only within the stale bound, then answers 503', LIVENESS, async () => {
    const { proxy, viaProxy } = await proxyToDatabase(kit());
    const listener = { heartbeatIntervalMs: 100, staleAfterMs: 400 };
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: viaProxy, clock: kit().clock, listener });
    try {
      const { tokens } = await register(app);
      const whoami = () => call(app, 'demo.whoami', { accessToken: tokens.accessToken });

      proxy.blackHole();
      const since = performance.now();
      let lastAcceptedMs = 0;
      let answer = await whoami();
      while (answer.status === 200 && performance.now() - since < ANSWER_BOUND_MS) {
        lastAcceptedMs = performance.now() - since;
        answer = await whoami();
      }
      assertUnavailable(answer, 'a cached token once the cache is stale');
      const bound = listener.staleAfterMs + listener.heartbeatIntervalMs;
      assert.ok(lastAcceptedMs <= bound + 200, `a cached token was accepted ${Math.round(lastAcceptedMs)} ms into the outage`);

      proxy.restore();
      await untilOk(whoami, 'the cached token after the database came back');
    } finally {
      await app.close();
      await proxy.close();
    }
  });
});
