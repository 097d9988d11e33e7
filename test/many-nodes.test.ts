import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from '../db/schema.js';
import { sessionTable } from '../db/schema.js';
import { parseToken } from '../shared/index.js';
import { createAuth } from '../server/index.js';
import { encodeRevocation, readRevocationNotice } from '../server/cache/revocation-notice.js';
import { getAuthErrorCode } from '../client/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { until } from './harness/poll.js';
import { countQueries } from './harness/query-counter.js';
import type { TestApp, TestKit } from './harness/test-kit.js';
import { PASSWORD, describeOnPostgres } from './harness/test-kit.js';
import { startTcpProxy } from './harness/tcp-proxy.js';
import { call, startServer } from './harness/reference-server.js';
import { openTestDatabase } from './harness/database.js';

/** Whether `app` accepts `accessToken` right now. */
async function accepts(app: TestApp, accessToken: string): Promise<boolean> {
  try {
    await app.client(accessToken).demo.whoami.query();
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `app` with a revoked token until it refuses it and keeps refusing; returns how long after
 * `since` it last accepted it (0 when it never did).
 */
async function lastAcceptanceAfter(app: TestApp, accessToken: string, watch: { since: number; forMs: number }): Promise<number> {
  const { since, forMs: watchMs } = watch;
  let last = 0;
  while (Date.now() - since < watchMs) {
    if (await accepts(app, accessToken)) last = Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return last;
}

/** Resolves once `app` refuses `accessToken`: the revocation has reached it. */
async function untilRefused(app: TestApp, accessToken: string, what: string): Promise<void> {
  await until(async () => !(await accepts(app, accessToken)), what);
}

/**
 * Resolves once `app` accepts `accessToken` from its cache, without a query: it trusts its cache
 * again, which it does only once its listener is back (a cache it cannot keep current is not read).
 */
async function untilCacheTrusted(app: TestApp, kit: TestKit, accessToken: string): Promise<void> {
  await until(async () => {
    const counter = countQueries(kit.database.db);
    try {
      return (await accepts(app, accessToken)) && counter.queries === 0;
    } finally {
      counter.stop();
    }
  }, 'the node to listen again and trust its cache');
}

async function terminateListeners(url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const { rowCount } = await admin.query(
    // Only this test's database: the server is shared with the test files running beside this one.
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'trpc-auth-kit-listener' AND datname = current_database() AND pid <> pg_backend_pid()",
  );
  await admin.end();
  return rowCount ?? 0;
}

/**
 * Runs `calls` so that they meet at the row of the session `refreshToken` names, in that order: a
 * transaction of the test's own holds the row's lock while each call is started once the one before
 * waits for a lock, then lets go. PostgreSQL hands a row's lock to its waiters in the order they came.
 */
async function queuedOnSessionRow<T>(kit: TestKit, refreshToken: string, calls: ReadonlyArray<() => Promise<T>>): Promise<PromiseSettledResult<T>[]> {
  const holder = new pg.Client({ connectionString: kit.database.url as string });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    const selector = parseToken('refresh', refreshToken)?.selector as string;
    await holder.query(`SELECT 1 FROM auth_kit.auth_sessions WHERE refresh_selector = $1 FOR UPDATE`, [selector]);
    const waiting = async () => {
      const { rows } = await holder.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return rows[0]?.count ?? 0;
    };
    const answers: Array<Promise<PromiseSettledResult<T>>> = [];
    for (const [index, call] of calls.entries()) {
      answers.push(call().then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const));
      await until(async () => (await waiting()) > index, `call ${index + 1} to wait for the session's row`);
    }
    await holder.query('COMMIT');
    return await Promise.all(answers);
  } finally {
    await holder.end();
  }
}

describeOnPostgres('several nodes on one database', (kit) => {
  it('a token issued on A works on B, and logout on A is refused on B within milliseconds', async () => {
    const b = await kit().variant({});
    const { tokens } = await registerConfirmed(kit());
    assert.ok(await accepts(b, tokens.accessToken));
    assert.ok(await accepts(b, tokens.accessToken));

    await kit().client(tokens.accessToken).auth.logout.mutate();
    const revokedAt = Date.now();
    let refusedAfter = -1;
    while (refusedAfter < 0) {
      if (!(await accepts(b, tokens.accessToken))) refusedAfter = Date.now() - revokedAt;
      assert.ok(Date.now() - revokedAt < 2000, 'B still accepts the token 2 s after logout');
    }
    assert.ok(refusedAfter < 1000, `B refused after ${refusedAfter} ms`);
  });

  it('session revoke, password change and refresh reuse on A end the tokens cached on B', async () => {
    const b = await kit().variant({});
    const first = await registerConfirmed(kit());
    const second = await kit().client().auth.login.mutate({ identifier: first.email, password: PASSWORD });
    const third = await kit().client().auth.login.mutate({ identifier: first.email, password: PASSWORD });
    for (const tokens of [first.tokens, second.tokens, third.tokens]) assert.ok(await accepts(b, tokens.accessToken));

    const { sessionId } = await kit().client(second.tokens.accessToken).demo.whoami.query();
    await kit().client(first.tokens.accessToken).auth.sessions.revoke.mutate({ sessionId });
    await kit().client(first.tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'another long passphrase' });
    await untilRefused(b, third.tokens.accessToken, 'B to hear of the password change');
    await expectAuthError(b.client(second.tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    await expectAuthError(b.client(third.tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
    assert.ok(await accepts(b, first.tokens.accessToken));

    const { tokens: next } = await kit().client().auth.refresh.mutate({ refreshToken: first.tokens.refreshToken });
    assert.ok(await accepts(b, next.accessToken));
    kit().clock.advanceSeconds(11);
    await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: first.tokens.refreshToken }), 'REFRESH_TOKEN_REUSED');
    await untilRefused(b, next.accessToken, 'B to hear of the reuse');
    await expectAuthError(b.client(next.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
  });

  it('a thief replaying a spent refresh token on B as the owner refreshes on A: the session ends whichever reaches the row first, and nothing the owner got lives on', async () => {
    const b = await kit().variant({});
    for (const first of ['owner', 'thief'] as const) {
      const { tokens: r0 } = await registerConfirmed(kit());
      const { tokens: r1 } = await kit().client().auth.refresh.mutate({ refreshToken: r0.refreshToken });
      // Past the grace window the thief's copy of r0 is spent; the owner holds the current r1.
      kit().clock.advanceSeconds(11);
      const ownerRefresh = () => kit().client().auth.refresh.mutate({ refreshToken: r1.refreshToken });
      const thiefRefresh = () => b.client().auth.refresh.mutate({ refreshToken: r0.refreshToken });
      const calls = first === 'owner' ? [ownerRefresh, thiefRefresh] : [thiefRefresh, ownerRefresh];
      const [firstAnswer, secondAnswer] = await queuedOnSessionRow(kit(), r0.refreshToken, calls);
      const [owner, thief] = first === 'owner' ? [firstAnswer, secondAnswer] : [secondAnswer, firstAnswer];
      assert.equal(thief?.status, 'rejected', 'the thief never gets tokens');
      assert.equal(getAuthErrorCode(thief.reason), 'REFRESH_TOKEN_REUSED');
      if (first === 'owner') {
        // The owner rotated, then the reuse ended the session: the successor and its access token
        // (cached on A as it was issued) die with it, on both nodes.
        assert.equal(owner?.status, 'fulfilled');
        const r2 = owner.value.tokens;
        for (const node of [kit(), b]) {
          await expectAuthError(node.client().auth.refresh.mutate({ refreshToken: r2.refreshToken }), 'TOKEN_REVOKED');
          await untilRefused(node, r2.accessToken, 'the successor access token to be refused');
        }
      } else {
        // The owner's rotation waited on the row while the reuse revoked the session, then judged the row again.
        assert.equal(owner?.status, 'rejected');
        assert.equal(getAuthErrorCode(owner.reason), 'TOKEN_REVOKED');
      }
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: r1.refreshToken }), 'TOKEN_REVOKED');
      const selector = parseToken('refresh', r0.refreshToken)?.selector as string;
      const [session] = await kit().database.db.select().from(sessionTable).where(eq(sessionTable.refreshSelector, selector));
      assert.equal(session?.revokeReason, 'refresh-token-reused');
    }
  });

  it('two refreshes of the current token on A and B that meet at the row converge on one successor', async () => {
    const b = await kit().variant({});
    const { tokens } = await registerConfirmed(kit());
    const answers = await queuedOnSessionRow(kit(), tokens.refreshToken, [
      () => kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }),
      () => b.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken }),
    ]);
    const successors = answers.map((answer) => (answer.status === 'fulfilled' ? answer.value.tokens.refreshToken : String(answer.reason)));
    assert.equal(successors[0], successors[1]);
    const [onA, onB] = answers.map((answer) => (answer.status === 'fulfilled' ? answer.value.tokens.accessToken : ''));
    assert.ok((await accepts(kit(), onA ?? '')) && (await accepts(b, onB ?? '')));
    await b.client().auth.refresh.mutate({ refreshToken: successors[0] });
  });

  it('a listener killed by pg_terminate_backend leaves no revoked token accepted, and listens again', async () => {
    const b = await kit().variant({ revocationListener: { heartbeatIntervalMs: 100, staleAfterMs: 300 } });
    const { tokens } = await registerConfirmed(kit());
    const other = await registerConfirmed(kit());
    assert.ok(await accepts(b, tokens.accessToken));
    assert.ok(await accepts(b, other.tokens.accessToken));

    assert.ok((await terminateListeners(kit().database.url as string)) >= 2);
    await kit().client(tokens.accessToken).auth.logout.mutate();
    const last = await lastAcceptanceAfter(b, tokens.accessToken, { since: Date.now(), forMs: 1000 });
    assert.ok(last <= 400, `B accepted the revoked token ${last} ms after its revocation`);

    // Listening again: a later revocation reaches B's cache as before.
    await untilCacheTrusted(b, kit(), other.tokens.accessToken);
    assert.ok(await accepts(b, other.tokens.accessToken));
    await kit().client(other.tokens.accessToken).auth.logout.mutate();
    await untilRefused(b, other.tokens.accessToken, 'B to hear of the later logout');
    assert.equal(await accepts(b, other.tokens.accessToken), false);
  });

  it('a listener whose connection goes silent stops trusting its cache within the documented bound', async () => {
    const url = new URL(kit().database.url as string);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    try {
      const viaProxy = new URL(url);
      viaProxy.port = String(proxy.port);
      const heartbeatIntervalMs = 100;
      const staleAfterMs = 400;
      const b = await kit().variant({ revocationListener: { connectionString: viaProxy.toString(), heartbeatIntervalMs, staleAfterMs } });
      const { tokens } = await registerConfirmed(kit());
      assert.ok(await accepts(b, tokens.accessToken));

      proxy.blackHole();
      await kit().client(tokens.accessToken).auth.logout.mutate();
      const last = await lastAcceptanceAfter(b, tokens.accessToken, { since: Date.now(), forMs: 1500 });
      assert.ok(last <= staleAfterMs + heartbeatIntervalMs + 100, `B accepted the revoked token ${last} ms after its revocation`);

      proxy.restore();
      const later = await registerConfirmed(kit());
      await untilCacheTrusted(b, kit(), later.tokens.accessToken);
      assert.ok(await accepts(b, later.tokens.accessToken));
      await kit().client(later.tokens.accessToken).auth.logout.mutate();
      await untilRefused(b, later.tokens.accessToken, 'B to hear of the later logout');
      assert.equal(await accepts(b, later.tokens.accessToken), false);
    } finally {
      await proxy.close();
    }
  });

  it('crafted notices on the channel crash nothing and un-revoke nothing', async () => {
    const b = await kit().variant({});
    const live = await registerConfirmed(kit());
    const revoked = await registerConfirmed(kit());
    const marker = await registerConfirmed(kit());
    await kit().client(revoked.tokens.accessToken).auth.logout.mutate();
    assert.ok(await accepts(b, live.tokens.accessToken));
    assert.ok(await accepts(b, marker.tokens.accessToken));

    const attacker = new pg.Client({ connectionString: kit().database.url as string });
    await attacker.connect();
    const payloads = ['garbage', '{', 'null', '[]', '{"s":[]}', '{"u":123}', '{"s":[1,2]}', '{"unrevoke":"everything"}', 'x'.repeat(7999), JSON.stringify({ s: [live.user.id] })];
    for (const payload of payloads) await attacker.query('SELECT pg_notify($1, $2)', ['trpc_auth_kit_revocations', payload]);
    await attacker.end();
    // A real revocation after them: once B has heard it, it has heard the crafted notices before it.
    await kit().client(marker.tokens.accessToken).auth.logout.mutate();
    await untilRefused(b, marker.tokens.accessToken, 'B to hear the revocation sent after the crafted notices');

    assert.ok(await accepts(b, live.tokens.accessToken));
    assert.equal(await accepts(b, revoked.tokens.accessToken), false);
  });
});

describeOnPostgres('starting against PostgreSQL', (kit) => {
  const mail = { transport: { sendMail: () => Promise.resolve({}) }, from: 'a@example.test', appUrl: 'https://app.example.test' };
  const quiet = { info() {}, warn() {}, error() {} };

  it('a pool made without a connection string needs revocationListener.connectionString', async () => {
    const url = new URL(kit().database.url as string);
    const pool = new pg.Pool({ host: url.hostname, port: Number(url.port), user: url.username, password: url.password, database: url.pathname.slice(1) });
    const db = drizzle({ client: pool, schema });
    try {
      await assert.rejects(createAuth({ db, mail, logger: quiet }), /revocationListener\.connectionString is required/);
      const auth = await createAuth({ db, mail, logger: quiet, revocationListener: { connectionString: url.toString() } });
      await auth.close();
    } finally {
      await pool.end();
    }
  });

  it('fails within startTimeoutMs when it cannot listen, leaving nothing running', async () => {
    const unreachable = new URL(kit().database.url as string);
    const probe = await startTcpProxy({ host: unreachable.hostname, port: Number(unreachable.port) });
    unreachable.port = String(probe.port);
    await probe.close();
    const started = Date.now();
    await assert.rejects(
      createAuth({ db: kit().database.db, mail, logger: quiet, revocationListener: { connectionString: unreachable.toString(), startTimeoutMs: 1000 } }),
      /could not listen for revocations within 1000 ms/,
    );
    assert.ok(Date.now() - started < 5000);
  });
});

describeOnPostgres('revocation notices', () => {
  it('split a bulk revocation into payloads under the PostgreSQL limit, losing no id', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const payloads = encodeRevocation({ sessionIds: ids });
    assert.ok(payloads.length > 1);
    assert.ok(payloads.every((payload) => Buffer.byteLength(payload) < 8000));
    assert.deepEqual(payloads.flatMap((payload) => (readRevocationNotice(payload)?.revocation as { sessionIds: string[] }).sessionIds), ids);
    assert.deepEqual(encodeRevocation({ userId: 'u-1' }), ['{"u":"u-1"}']);
  });
});

describeOnPostgres('reference-server processes on one database', (kit) => {
  it('a token from process A works on process B, and logout on A is refused on B within a second', async () => {
    const url = kit().database.url as string;
    const env = { DATABASE_URL: url, AUTH_EMAIL_CONFIRMATION: 'off' };
    const [a, b] = await Promise.all([startServer(env), startServer(env)]);
    try {
      const registered = await call(a, 'auth.register', { input: { email: 'two-nodes@example.test', password: PASSWORD } });
      const { accessToken } = registered.data?.tokens as unknown as { accessToken: string };
      assert.equal((await call(b, 'demo.whoami', { accessToken })).status, 200);
      assert.equal((await call(b, 'demo.whoami', { accessToken })).status, 200);

      assert.equal((await call(a, 'auth.logout', { input: {}, accessToken })).status, 200);
      const revokedAt = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 2000) status = (await call(b, 'demo.whoami', { accessToken })).status;
      assert.equal(status, 401);
      assert.ok(Date.now() - revokedAt < 1000, `B refused after ${Date.now() - revokedAt} ms`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describeOnPostgres('a node started while PostgreSQL is unreachable', (kit) => {
  it('waits, serving nothing, and becomes ready once it can migrate and listen', async () => {
    const real = new URL(kit().database.url as string);
    const probe = await startTcpProxy({ host: real.hostname, port: Number(real.port) });
    const port = probe.port;
    await probe.close();
    const unreachable = new URL(real);
    unreachable.port = String(port);

    let ready = false;
    let waiting = false;
    const env = { DATABASE_URL: unreachable.toString(), AUTH_EMAIL_CONFIRMATION: 'off' };
    const starting = startServer(env, (output) => (waiting ||= output.includes('waiting for the database'))).then((server) => {
      ready = true;
      return server;
    });
    await until(() => waiting, 'the server to say it waits for the database');
    // Where the database will be, something that hangs up on every connection: the server, still
    // trying, is not ready after it has been turned away twice.
    let turnedAway = 0;
    const refuser = createServer((socket) => {
      turnedAway++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(port, '127.0.0.1', resolve));
    await until(() => turnedAway >= 2, 'the server to try the database again');
    assert.equal(ready, false);
    await new Promise((resolve) => refuser.close(resolve));

    const proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port) }, port);
    try {
      const server = await starting;
      try {
        assert.equal((await call(server, 'demo.whoami')).authCode, 'TOKEN_MISSING');
      } finally {
        await server.stop();
      }
    } finally {
      await proxy.close();
    }
  });
});

describeOnPostgres('nodes starting together on a new database', () => {
  it('three processes migrate it once between them and all serve', async () => {
    const database = await openTestDatabase('postgres', { migrated: false });
    try {
      const env = { DATABASE_URL: database.url as string, AUTH_EMAIL_CONFIRMATION: 'off' };
      const nodes = await Promise.all([startServer(env), startServer(env), startServer(env)]);
      try {
        const registered = await call(nodes[0], 'auth.register', { input: { email: 'three@example.test', password: PASSWORD } });
        const { accessToken } = registered.data?.tokens as unknown as { accessToken: string };
        for (const node of nodes) assert.equal((await call(node, 'demo.whoami', { accessToken })).status, 200);
        await call(nodes[1], 'auth.logout', { input: { scope: 'all' }, accessToken });
        for (const node of nodes) await until(async () => (await call(node, 'demo.whoami', { accessToken })).status !== 200, 'every node to refuse the token');
        for (const node of nodes) assert.equal((await call(node, 'demo.whoami', { accessToken })).status, 401);
      } finally {
        await Promise.all(nodes.map((node) => node.stop()));
      }
      const admin = new pg.Client({ connectionString: database.url as string });
      await admin.connect();
      const { rows } = await admin.query<{ hash: string; n: string }>('SELECT hash, count(*) AS n FROM auth_kit.__drizzle_migrations GROUP BY hash');
      await admin.end();
      assert.ok(rows.length > 0);
      assert.ok(rows.every((row) => row.n === '1'));
    } finally {
      await database.close();
    }
  });
});
