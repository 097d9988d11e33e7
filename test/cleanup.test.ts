/*
 * The cleaner (issue #14 part 4): revoked and expired sessions and API tokens, expired access tokens and links,
 * rate-limit counters whose window is over and expired OAuth flows (issue #13) are deleted in bounded batches, one node at a time,
 * by the kit's clock; under a steady load the tables stop growing, and nothing still of use goes.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { count, like } from 'drizzle-orm';
import pg from 'pg';
import { accessTokenTable, apiTokenTable, linkTokenTable, oauthFlowTable, rateLimitTable, sessionTable } from '../db/schema.js';
import type { AuthDatabase } from '../db/index.js';
import { createAuth } from '../server/index.js';
import type { AuthOptions } from '../server/index.js';
import { createManualClock } from './harness/clock.js';
import type { ManualClock } from './harness/clock.js';
import { openTestDatabase } from './harness/database.js';
import type { DatabaseKind, TestDatabase } from './harness/database.js';
import { browserAt } from './harness/kit-browser.js';
import { until } from './harness/poll.js';
import { API_CLIENT, startProviderApis } from './harness/provider-apis.js';
import type { ProviderApis } from './harness/provider-apis.js';
import { PASSWORD, describeOnEachDatabase, describeOnPostgres } from './harness/test-kit.js';

const quiet = { info() {}, warn() {}, error() {} };
const HOUR = 3600;

// A GitHub-shaped provider on loopback, so that the apps can start (and finish) OAuth flows.
let apis: ProviderApis;
before(async () => {
  apis = await startProviderApis();
});
after(() => apis.close());

/** An app on its own database, whose client address is the `x-client-ip` header, and whose mail is kept. */
async function startApp(kind: DatabaseKind, options: Partial<AuthOptions> = {}, shared?: { database: TestDatabase; clock: ManualClock }) {
  const database = shared?.database ?? (await openTestDatabase(kind));
  const clock = shared?.clock ?? createManualClock();
  const sent: Array<{ to: string; text: string }> = [];
  const auth = await createAuth({
    db: database.db,
    mail: { transport: { sendMail: (message) => Promise.resolve(sent.push(message)) }, from: 'auth@app.example.test', appUrl: 'https://app.example.test', delivery: { spreadMs: 0 } },
    signup: { emailConfirmation: 'optional', confirmationLinkTtlSeconds: HOUR },
    tokens: { refreshIdleTimeoutSeconds: 2 * HOUR },
    cleanup: { intervalMs: 0, keepEndedSeconds: 2 * HOUR },
    password: { maxHashesPerClient: 64 },
    oauth: { providers: { github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') } } },
    clientIp: ({ req }) => (req.headers instanceof Headers ? req.headers.get('x-client-ip') : String(req.headers['x-client-ip'] ?? '127.0.0.1')),
    clock,
    logger: quiet,
    ...options,
  });
  const router = auth.router({
    auth: auth.authRouter,
    demo: auth.router({ whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id })) }),
  });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** Calls `path` (a query when there is no input) as the client at `ip`; its status, auth code and data. */
  async function rpc(path: string, request: { input?: unknown; ip?: string; accessToken?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-client-ip': request.ip ?? '127.0.0.1' };
    if (request.accessToken) headers.authorization = `Bearer ${request.accessToken}`;
    const response =
      request.input === undefined
        ? await fetch(`${url}/${path}`, { headers })
        : await fetch(`${url}/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: request.input }) });
    const body = (await response.json()) as { result?: { data: { json: Record<string, unknown> } }; error?: { json: { data: { authCode?: string } } } };
    return { status: response.status, authCode: body.error?.json.data.authCode, data: body.result?.data.json };
  }

  return {
    auth,
    clock,
    database,
    sent,
    url,
    rpc,
    async signIn(email: string, ip?: string) {
      const answer = await rpc('auth.login', { input: { identifier: email, password: PASSWORD }, ip });
      assert.equal(answer.status, 200, `sign-in of ${email}: ${answer.authCode}`);
      return answer.data?.tokens as { accessToken: string; refreshToken: string };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
      if (!shared) await database.close();
    },
  };
}

type App = Awaited<ReturnType<typeof startApp>>;

async function rowCounts(db: AuthDatabase) {
  const [sessions] = await db.select({ n: count() }).from(sessionTable);
  const [accessTokens] = await db.select({ n: count() }).from(accessTokenTable);
  const [links] = await db.select({ n: count() }).from(linkTokenTable);
  const [apiTokens] = await db.select({ n: count() }).from(apiTokenTable);
  const [rateLimits] = await db.select({ n: count() }).from(rateLimitTable);
  const [oauthFlows] = await db.select({ n: count() }).from(oauthFlowTable);
  return { sessions: sessions?.n ?? 0, accessTokens: accessTokens?.n ?? 0, links: links?.n ?? 0, apiTokens: apiTokens?.n ?? 0, rateLimits: rateLimits?.n ?? 0, oauthFlows: oauthFlows?.n ?? 0 };
}

/** The token of the last mail to `to`. */
function lastToken(app: App, to: string): string {
  const mail = app.sent.filter((each) => each.to === to).at(-1);
  const token = mail && /token=([^\s&"]+)/.exec(mail.text)?.[1];
  assert.ok(token, `no mail with a token to ${to}`);
  return decodeURIComponent(token);
}

/** Stale counters inserted straight into the table, as a busy past would have left them. */
/** An app of its own on the suite's database and clock, so that its cleaning sees the suite's rows. */
function startSharedApp(kit: () => { kind: DatabaseKind; database: TestDatabase; clock: ManualClock }, options: Partial<AuthOptions> = {}) {
  return startApp(kit().kind, options, { database: kit().database, clock: kit().clock });
}

/** Registers `email` (confirmation is off) and answers a fresh sign-in's tokens. */
async function signedUp(app: App, email: string) {
  assert.equal((await app.rpc('auth.register', { input: { email, password: PASSWORD } })).status, 200);
  return app.signIn(email);
}

async function insertStaleCounters(app: App, howMany: number): Promise<void> {
  const longAgo = new Date(app.clock.now() - 2 * HOUR * 1000);
  const rows = Array.from({ length: howMany }, (_, i) => ({ key: `stale-${i}`, windowStartedAt: longAgo, hits: 1 }));
  for (let i = 0; i < rows.length; i += 500) await app.database.db.insert(rateLimitTable).values(rows.slice(i, i + 500));
}

describeOnEachDatabase('the cleaner', (kit) => {
  it('keeps every table from growing under a steady load', { timeout: 120_000 }, async () => {
    const app = await startApp(kit().kind);
    try {
      const regulars = ['steady@example.test'];
      for (const email of regulars) assert.equal((await app.rpc('auth.register', { input: { email, password: PASSWORD } })).status, 200);
      const history: Array<Awaited<ReturnType<typeof rowCounts>>> = [];
      const deleted = { sessions: 0, accessTokens: 0, links: 0, apiTokens: 0, rateLimits: 0, oauthFlows: 0 };
      for (let hour = 0; hour < 9; hour++) {
        // An hour of traffic: sign-ins that refresh and sign out, sign-ins left to idle out,
        // sign-ups whose confirmation is never used, reset links, wrong passwords from new addresses,
        // an API token made and revoked, OAuth sign-ins abandoned at the provider.
        for (const email of regulars) {
          const kept = await app.signIn(email);
          const apiToken = await app.rpc('auth.apiTokens.create', { input: { name: `hour ${hour}` }, accessToken: kept.accessToken });
          assert.equal((await app.rpc('auth.apiTokens.revoke', { input: { id: apiToken.data?.id }, accessToken: kept.accessToken })).status, 200);
          const refreshed = (await app.rpc('auth.refresh', { input: { refreshToken: kept.refreshToken } })).data?.tokens as { accessToken: string };
          assert.equal((await app.rpc('auth.logout', { input: {}, accessToken: refreshed.accessToken })).status, 200);
          await app.signIn(email);
          await app.rpc('auth.forgotPassword', { input: { email }, ip: `10.1.${hour}.1` });
        }
        for (let i = 0; i < 2; i++) await app.rpc('auth.register', { input: { email: `steady-${hour}-${i}@example.test`, password: PASSWORD }, ip: `10.2.${hour}.${i}` });
        for (let i = 0; i < 2; i++) await app.rpc('auth.login', { input: { identifier: regulars[0], password: 'not the password at all' }, ip: `10.3.${hour}.${i}` });
        for (let i = 0; i < 2; i++) await app.rpc('auth.oauth.start', { input: { provider: 'github' }, ip: `10.4.${hour}.${i}` });
        await app.auth.settled();
        const run = await app.auth.cleanUp();
        assert.equal(run.yielded, false);
        for (const table of Object.keys(deleted) as Array<keyof typeof deleted>) deleted[table] += run.deleted[table];
        history.push(await rowCounts(app.database.db));
        app.clock.advanceSeconds(HOUR);
      }
      // Rows live an hour or two, then are kept two more: by the fifth hour what goes equals what comes.
      const settledAt = history[5] as (typeof history)[number];
      for (const counts of history.slice(6)) {
        for (const table of Object.keys(deleted) as Array<keyof typeof deleted>) {
          assert.ok(counts[table] <= settledAt[table], `${table} grew from ${settledAt[table]} to ${counts[table]}: ${JSON.stringify(history)}`);
        }
      }
      for (const table of Object.keys(deleted) as Array<keyof typeof deleted>) assert.ok(deleted[table] > 0, `nothing was deleted from ${table}`);
      // No anonymous accounts in this traffic: none to delete.
      assert.deepEqual(app.auth.metrics().cleanup.deleted, { ...deleted, anonymousUsers: 0 });
    } finally {
      await app.close();
    }
  });

  it('deletes nothing still of use: a live session, a valid link, a current window’s counter, an ended row being kept', async () => {
    const app = await startSharedApp(kit);
    try {
      const email = 'keeper@example.test';
      const live = await signedUp(app, email);
      const ended = await app.signIn(email);
      assert.equal((await app.rpc('auth.logout', { input: {}, accessToken: ended.accessToken })).status, 200);
      // The address's mail allowance spent: 5 an hour.
      for (let i = 0; i < 6; i++) await app.rpc('auth.forgotPassword', { input: { email }, ip: `10.9.0.${i}` });
      await app.auth.settled();
      assert.equal(app.sent.filter((mail) => mail.to === email && /reset/i.test(mail.text)).length, 5);
      const link = lastToken(app, email);

      // 50 minutes on: past the 15-minute windows, inside the hour of the mail limit and the link's hour.
      app.clock.advanceSeconds(50 * 60);
      await app.auth.cleanUp();
      await app.auth.cleanUp();
      assert.equal((await app.rpc('demo.whoami', { accessToken: live.accessToken })).status, 401, 'the access token has expired');
      const refreshed = await app.rpc('auth.refresh', { input: { refreshToken: live.refreshToken } });
      assert.equal(refreshed.status, 200, 'the live session still refreshes');
      const revoked = await app.rpc('auth.refresh', { input: { refreshToken: ended.refreshToken } });
      assert.equal(revoked.authCode, 'TOKEN_REVOKED', 'an ended session is kept, and still says so');
      await app.rpc('auth.forgotPassword', { input: { email }, ip: '10.9.1.1' });
      await app.auth.settled();
      assert.equal(app.sent.filter((mail) => mail.to === email && /reset/i.test(mail.text)).length, 5, 'the mail counter of this hour survived');
      const reset = await app.rpc('auth.resetPassword', { input: { token: link, password: `${PASSWORD} again` } });
      assert.equal(reset.status, 200, `the valid link still works: ${reset.authCode}`);

      // Past the hour and the time ended rows are kept: now they go.
      const before = await rowCounts(app.database.db);
      app.clock.advanceSeconds(3 * HOUR);
      await app.auth.cleanUp();
      const after = await rowCounts(app.database.db);
      assert.ok(after.sessions < before.sessions && after.rateLimits < before.rateLimits, `${JSON.stringify(before)} → ${JSON.stringify(after)}`);
      assert.equal((await app.rpc('auth.refresh', { input: { refreshToken: ended.refreshToken } })).authCode, 'TOKEN_INVALID');
    } finally {
      await app.close();
    }
  });

  it('deletes OAuth flows once expired, and only those: a flow still under way finishes after the run', async () => {
    const app = await startSharedApp(kit);
    try {
      const abandoned = await Promise.all(['10.5.0.1', '10.5.0.2', '10.5.0.3'].map((ip) => app.rpc('auth.oauth.start', { input: { provider: 'github' }, ip })));
      for (const start of abandoned) assert.equal(start.status, 200, `oauth.start: ${start.authCode}`);
      // Five minutes on, a browser starts the flow it will finish; six more, the first three are past their ten minutes.
      app.clock.advanceSeconds(5 * 60);
      const browser = browserAt(app.url);
      const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'github' });
      app.clock.advanceSeconds(6 * 60);
      assert.equal((await rowCounts(app.database.db)).oauthFlows, 4);

      const run = await app.auth.cleanUp();
      assert.equal(run.deleted.oauthFlows, 3);
      assert.equal((await rowCounts(app.database.db)).oauthFlows, 1);
      const query = apis.authorize('github', url, { id: '4242', email: 'flows@example.test', verified: true });
      const signedIn = await browser.client.auth.oauth.callback.mutate({ provider: 'github', code: query.get('code') ?? '', state: query.get('state') ?? '' });
      assert.equal(signedIn.user.email, 'flows@example.test');
      assert.equal((await rowCounts(app.database.db)).oauthFlows, 0, 'the callback spent its flow');
    } finally {
      await app.close();
    }
  });

  it('deletes a revoked or expired API token once it has been kept as long as the other ended rows, and never a live one', async () => {
    const app = await startSharedApp(kit);
    try {
      const session = await signedUp(app, 'api-tokens@example.test');
      const create = async (name: string, expiresInDays: number) => {
        const made = await app.rpc('auth.apiTokens.create', { input: { name, expiresInDays }, accessToken: session.accessToken });
        assert.equal(made.status, 200, `creating ${name}: ${made.authCode}`);
        return made.data as { id: string; token: string };
      };
      const live = await create('live', 365);
      const expiring = await create('expiring', 1);
      const revoked = await create('revoked', 365);
      assert.equal((await app.rpc('auth.apiTokens.revoke', { input: { id: revoked.id }, accessToken: session.accessToken })).status, 200);
      const left = async () => (await app.database.db.select({ id: apiTokenTable.id }).from(apiTokenTable)).map(({ id }) => id).sort();
      const whoami = async (token: string) => (await app.rpc('demo.whoami', { accessToken: token })).status;

      // Within the 2 hours ended rows are kept: the revoked token stays, and still says it was revoked.
      app.clock.advanceSeconds(HOUR);
      assert.equal((await app.auth.cleanUp()).deleted.apiTokens, 0);
      assert.equal((await app.rpc('demo.whoami', { accessToken: revoked.token })).authCode, 'TOKEN_REVOKED');
      // Past them it goes; the others stay, and the live ones still work.
      app.clock.advanceSeconds(2 * HOUR);
      assert.equal((await app.auth.cleanUp()).deleted.apiTokens, 1);
      assert.deepEqual(await left(), [expiring.id, live.id].sort());
      assert.equal(await whoami(revoked.token), 401);
      assert.equal(await whoami(expiring.token), 200);

      // A day after it was made the expiring token has expired: kept 2 hours, then gone.
      app.clock.advanceSeconds(24 * HOUR - 3 * HOUR + HOUR);
      assert.equal((await app.rpc('demo.whoami', { accessToken: expiring.token })).authCode, 'TOKEN_EXPIRED');
      assert.equal((await app.auth.cleanUp()).deleted.apiTokens, 0);
      app.clock.advanceSeconds(2 * HOUR);
      assert.equal((await app.auth.cleanUp()).deleted.apiTokens, 1);
      assert.deepEqual(await left(), [live.id]);
      assert.equal(await whoami(live.token), 200, 'the live token still works');
    } finally {
      await app.close();
    }
  });

  it('deletes in batches of batchSize, at most maxBatchesPerRun per table in a run, and runs on its schedule', async () => {
    const app = await startSharedApp(kit, { cleanup: { intervalMs: 0, batchSize: 100, maxBatchesPerRun: 3 } });
    try {
      await insertStaleCounters(app, 450);
      assert.equal((await app.auth.cleanUp()).deleted.rateLimits, 300);
      assert.equal((await app.auth.cleanUp()).deleted.rateLimits, 150);
      assert.equal((await app.auth.cleanUp()).deleted.rateLimits, 0);
    } finally {
      await app.close();
    }
    const scheduled = await startSharedApp(kit, { cleanup: { intervalMs: 100, keepEndedSeconds: 0 } });
    try {
      await insertStaleCounters(scheduled, 50);
      const staleLeft = async () => (await scheduled.database.db.select({ n: count() }).from(rateLimitTable).where(like(rateLimitTable.key, 'stale-%')))[0]?.n;
      await until(async () => (await staleLeft()) === 0 && scheduled.auth.metrics().cleanup.runs >= 2, 'the scheduled runs to clean');
    } finally {
      await scheduled.close();
    }
  });
});

describeOnPostgres('the cleaner on several nodes', () => {
  it('cleans on one node at a time: a node that finds another cleaning leaves the run to it', async () => {
    const a = await startApp('postgres', { cleanup: { intervalMs: 0, batchSize: 100 } });
    const b = await startApp('postgres', { cleanup: { intervalMs: 0, batchSize: 100 } }, { database: a.database, clock: a.clock });
    const other = new pg.Client({ connectionString: a.database.url as string });
    await other.connect();
    try {
      await insertStaleCounters(a, 250);
      // Another node in the middle of a batch holds the lock.
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1, 0)', [0x636c]);
      assert.deepEqual(await a.auth.cleanUp(), { yielded: true, deleted: { sessions: 0, accessTokens: 0, links: 0, apiTokens: 0, rateLimits: 0, oauthFlows: 0, anonymousUsers: 0 } });
      await other.query('COMMIT');

      const [first, second] = await Promise.all([a.auth.cleanUp(), b.auth.cleanUp()]);
      const [left] = await a.database.db.select({ n: count() }).from(rateLimitTable);
      assert.equal(first.deleted.rateLimits + second.deleted.rateLimits + (left?.n ?? 0), 250);
      await a.auth.cleanUp();
      assert.equal((await rowCounts(a.database.db)).rateLimits, 0);
    } finally {
      await other.end();
      await b.close();
      await a.close();
    }
  });
});
