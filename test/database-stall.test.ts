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
import { and, eq, inArray, notExists, sql } from 'drizzle-orm';
import { PGlite } from '@electric-sql/pglite';
import { accessTokenTable, closeDatabase, connectDatabase, sessionTable, userTable } from '../db/index.js';
import type { DatabaseOptions } from '../db/index.js';
import { clientOf } from '../db/database-client.js';
import { authErrorFormatter, authTransformer, createAuth } from '../server/index.js';
import type { AuthBaseContext, Clock } from '../server/index.js';
import { startTcpProxy } from './harness/tcp-proxy.js';
import { PASSWORD, describeOnPostgres, uniqueEmail } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';
import { until } from './harness/poll.js';
import pg from 'pg';

const quiet = { info() {}, warn() {}, error() {} };
/** A generous bound on the time to a 503: the defaults answer within 5 s (3 s connect, 4.5 s silence). */
const ANSWER_BOUND_MS = 8000;
/** How long recovery may take once the database is back. */
const RECOVERY_BOUND_MS = 15_000;
/** A request's time on the database by default (`requestDeadlineMs`). */
const DEADLINE_MS = 5000;
/** A generous allowance past the deadline, for a loaded machine to get the answer out. */
const DEADLINE_MARGIN_MS = 2000;
/** The proxy's latency, per byte from the server: every round trip takes at least this long. */
const SLOW_MS = 2000;
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
async function startApp(setup: { databaseUrl: string; listenerUrl: string; clock: Clock; listener?: { heartbeatIntervalMs: number; staleAfterMs: number }; database?: DatabaseOptions }) {
  const db = await connectDatabase(setup.databaseUrl, setup.database);
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
      ping: auth.publicProcedure.query(async () => {
        await db.execute(sql`SELECT 1`);
        return 'pong';
      }),
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
    for (const options of [{ connectTimeoutMs: 0 }, { statementTimeoutMs: -1 }, { idleInTransactionTimeoutMs: 1.5 }, { statementTimeoutMs: Number.NaN }, { requestDeadlineMs: 0 }]) {
      await assert.rejects(connectDatabase(kit().database.url as string, options), /must be a positive whole number of milliseconds/);
    }
    await assert.rejects(connectDatabase(kit().database.url as string, { connectionQueueLimit: -1 }), /connectionQueueLimit must be a whole number/);
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

  it('answers a sign-in, a refresh and a register within its deadline on a database 2 s slow per round trip, half-writes nothing and recovers', LIVENESS, async (t) => {
    const { proxy, direct, viaProxy } = await proxyToDatabase(kit());
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: direct, clock: kit().clock });
    const db = kit().database.db;
    try {
      const [signingIn, refreshing, cached] = (await Promise.all(Array.from({ length: 3 }, () => register(app)))) as [Awaited<ReturnType<typeof register>>, Awaited<ReturnType<typeof register>>, Awaited<ReturnType<typeof register>>];
      const newEmails = [uniqueEmail('slow'), uniqueEmail('slow')];
      const calls = {
        login: () => call(app, 'auth.login', { input: { identifier: signingIn.email, password: PASSWORD } }),
        refresh: () => call(app, 'auth.refresh', { input: { refreshToken: refreshing.tokens.refreshToken } }),
        register: (email: string) => call(app, 'auth.register', { input: { email, password: PASSWORD } }),
      };

      proxy.slow(SLOW_MS);
      let slowAnswered = 0;
      const counted = (answer: Promise<Answer>) => answer.finally(() => slowAnswered++);
      const slow = Promise.all([
        counted(calls.login()).then((answer) => ['login', answer] as const),
        counted(calls.refresh()).then((answer) => ['refresh', answer] as const),
        ...newEmails.map((email) => counted(calls.register(email)).then((answer) => ['register', answer] as const)),
      ]);
      const whileSlow = await call(app, 'demo.whoami', { accessToken: cached.tokens.accessToken });
      assert.equal(whileSlow.status, 200, 'a cached token answers from memory while the database is slow');
      assert.equal(slowAnswered, 0, 'the cached token waited for none of the slow calls');
      for (const [name, answer] of await slow) {
        // A refresh is one statement: on a connection already open it fits in the deadline even at
        // 2 s a round trip, and answers 200; one that had to open a connection answers 503.
        if (name !== 'refresh' || answer.status !== 200) assertUnavailable(answer, `${name} (slow)`);
        assert.ok(answer.ms < DEADLINE_MS + DEADLINE_MARGIN_MS, `${name} answered after ${Math.round(answer.ms)} ms`);
      }

      proxy.slow(0);
      const fastFrom = performance.now();
      const recovery: Record<string, number> = {};
      await untilOk(calls.login, 'a sign-in');
      recovery.login = performance.now() - fastFrom;
      // Refreshed under the latency or not, the client's retry of its token finds the session whole.
      const refreshed = tokensOf((await untilOk(calls.refresh, 'a refresh')).answer);
      recovery.refresh = performance.now() - fastFrom;
      await untilOk(() => calls.register(uniqueEmail('after')), 'a registration');
      recovery.register = performance.now() - fastFrom;
      for (const [name, ms] of Object.entries(recovery)) assert.ok(ms < 10_000, `${name} answered 200 only ${Math.round(ms)} ms after the latency went`);
      assert.equal((await call(app, 'demo.whoami', { accessToken: refreshed.accessToken })).status, 200);
      assert.equal((await call(app, 'auth.refresh', { input: { refreshToken: refreshed.refreshToken } })).status, 200);

      // Nothing by halves: each transaction cut at the deadline was rolled back by the server...
      await until(async () => {
        const [open] = await db
          .select({ count: sql<number>`count(*)::int` })
          .from(sql`pg_stat_activity`)
          .where(sql`datname = current_database() AND state LIKE 'idle in transaction%'`);
        return open?.count === 0;
      }, 'no transaction left open');
      // ...no session lacks its access token, and an account a registration made signs in.
      const emails = [signingIn.email, refreshing.email, ...newEmails];
      const bare = await db
        .select({ id: sessionTable.id })
        .from(sessionTable)
        .innerJoin(userTable, eq(userTable.userId, sessionTable.userId))
        .where(and(inArray(userTable.email, emails), notExists(db.select().from(accessTokenTable).where(eq(accessTokenTable.sessionId, sessionTable.id)))));
      assert.deepEqual(bare, [], 'a session without its access token');
      for (const email of newEmails) {
        const made = await db.select({ userId: userTable.userId }).from(userTable).where(eq(userTable.email, email));
        if (made.length > 0) assert.equal((await call(app, 'auth.login', { input: { identifier: email, password: PASSWORD } })).status, 200, `${email} was made but cannot sign in`);
      }
      const figures = (await slow).map(([name, answer]) => `${name} ${Math.round(answer.ms)}`).join(', ');
      t.diagnostic(`ms to 503 with ${SLOW_MS} ms latency: ${figures}; cached token ${whileSlow.ms.toFixed(1)} ms; first 200 after the latency went, ms: ${JSON.stringify(Object.fromEntries(Object.entries(recovery).map(([name, ms]) => [name, Math.round(ms)])))}`);
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('answers 503 at once to a request that would wait past the pool\'s queue limit', LIVENESS, async () => {
    const queueLimit = 2;
    const poolSize = 10;
    const { proxy, direct, viaProxy } = await proxyToDatabase(kit());
    const app = await startApp({ databaseUrl: viaProxy, listenerUrl: direct, clock: kit().clock, database: { connectionQueueLimit: queueLimit } });
    try {
      const pool = app.db.$client;
      assert.ok(pool instanceof pg.Pool);
      // Every connection of the pool open, then each lent to a request the stalled server never answers.
      await Promise.all(Array.from({ length: poolSize }, () => app.db.execute(sql`SELECT pg_sleep(0.05)`)));
      proxy.blackHole();
      let heldAnswered = 0;
      const held = Array.from({ length: poolSize + queueLimit }, () => call(app, 'demo.ping').finally(() => heldAnswered++));
      await until(() => pool.waitingCount >= queueLimit, 'the queue to fill');

      const refused = await Promise.all(Array.from({ length: 5 }, () => call(app, 'demo.ping')));
      assert.equal(heldAnswered, 0, 'a request past the queue limit waited for the ones ahead of it');
      for (const answer of refused) assertUnavailable(answer, 'a request past the queue limit');
      for (const answer of await Promise.all(held)) assertUnavailable(answer, 'a request the stalled database held');

      proxy.restore();
      await untilOk(() => call(app, 'demo.ping'), 'a request after the stall');
    } finally {
      await app.close();
      await proxy.close();
    }
  });
});
