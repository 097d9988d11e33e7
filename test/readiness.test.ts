/*
 * Readiness (F13, SECURITY.md item 69): a node is ready only while its database answers and its
 * token cache is trusted, which on PostgreSQL means its listener listens and flushed the cache after
 * it last connected. The reference server serves it as `GET /readyz`, beside `GET /healthz`, from
 * the moment it starts, while it still waits for its database.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { closeDatabase, connectDatabase } from '../db/index.js';
import { createAuth } from '../server/index.js';
import { generateTokenParts } from '../server/tokens/secrets.js';
import { formatToken } from '../shared/token-format.js';
import { until } from './harness/poll.js';
import { call, startServer } from './harness/reference-server.js';
import type { RunningServer } from './harness/reference-server.js';
import { startTcpProxy } from './harness/tcp-proxy.js';
import { PASSWORD, describeOnEachDatabase, describeOnPostgres } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';

const quiet = { info() {}, warn() {}, error() {} };
const mail = { transport: { sendMail: () => Promise.resolve({}) }, from: 'auth@app.example.test', appUrl: 'https://app.example.test' };
/** A broken run fails instead of hanging. */
const LIVENESS = { timeout: 90_000 };

/** The test server's database, behind a proxy the test can cut, and the proxied URL. */
async function proxied(kit: TestKit) {
  const direct = new URL(kit.database.url as string);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
  const viaProxy = new URL(direct);
  viaProxy.port = String(proxy.port);
  return { proxy, direct: direct.toString(), viaProxy: viaProxy.toString() };
}

describeOnEachDatabase('readiness()', (kit) => {
  it('is ready once createAuth resolves, and no longer once closed', async () => {
    const app = await kit().variant({});
    assert.deepEqual(await app.auth.readiness(), { ready: true, database: true, tokenCache: true });
    await app.close();
    assert.equal((await app.auth.readiness()).ready, false);
  });
});

describeOnPostgres('readiness() on PostgreSQL', (kit) => {
  it('is not ready while the listener cannot hear, and ready again once it listens and flushed', LIVENESS, async () => {
    const { proxy, viaProxy } = await proxied(kit());
    const auth = await createAuth({
      db: kit().database.db,
      mail,
      logger: quiet,
      clock: kit().clock,
      cleanup: { intervalMs: 0 },
      revocationListener: { connectionString: viaProxy, heartbeatIntervalMs: 100, staleAfterMs: 300 },
    });
    try {
      // Polled: a heartbeat 100 ms apart can already be late on a loaded machine.
      await until(async () => (await auth.readiness()).ready, 'readiness once started');
      await proxy.refuse();
      const deaf = await until(async () => {
        const readiness = await auth.readiness();
        return readiness.tokenCache ? null : readiness;
      }, 'readiness to see the listener gone');
      assert.deepEqual(deaf, { ready: false, database: true, tokenCache: false });

      await proxy.accept();
      await until(async () => (await auth.readiness()).ready, 'readiness once the listener is back');
      const listener = auth.metrics().revocationListener;
      assert.ok(listener && listener.connected && listener.connects >= 2 && listener.losses >= 1, JSON.stringify(listener));
    } finally {
      await auth.close();
      await proxy.close();
    }
  });

  it('is not ready while the database does not answer, refused or stalled, and answers within its bound either way', LIVENESS, async () => {
    const { proxy, direct, viaProxy } = await proxied(kit());
    const db = await connectDatabase(viaProxy);
    const auth = await createAuth({ db, mail, logger: quiet, clock: kit().clock, cleanup: { intervalMs: 0 }, revocationListener: { connectionString: direct } });
    try {
      assert.equal((await auth.readiness()).ready, true);

      proxy.blackHole();
      const startedAt = Date.now();
      // Probes that pile up on a stalled database share one query.
      const stalled = await Promise.all(Array.from({ length: 20 }, () => auth.readiness()));
      assert.ok(Date.now() - startedAt < 5000, `a stalled database still answered the probe in ${Date.now() - startedAt} ms`);
      assert.ok(stalled.every((readiness) => !readiness.ready && !readiness.database && readiness.tokenCache));

      proxy.restore();
      await proxy.refuse();
      await until(async () => !(await auth.readiness()).database, 'readiness to see the database refuse');
      const failedBefore = auth.metrics().tokenChecks.failed;
      await assert.rejects(auth.verifyAccessToken(formatToken('access', generateTokenParts((length) => randomBytes(length)))));
      assert.equal(auth.metrics().tokenChecks.failed, failedBefore + 1, 'a lookup the database could not answer is counted');

      await proxy.accept();
      await until(async () => (await auth.readiness()).ready, 'readiness once the database is back', 20_000);
    } finally {
      await auth.close();
      await closeDatabase(db);
      await proxy.close();
    }
  });
});

/** GET `path` on a node: its status and JSON body. */
async function probe(url: string, path: '/healthz' | '/readyz'): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describeOnPostgres('GET /healthz and /readyz on the reference server', (kit) => {
  it('a node started while PostgreSQL is unreachable is live, not ready, then ready, and serves no entry from before its restart', LIVENESS, async () => {
    const direct = kit().database.url as string;
    const env = { AUTH_EMAIL_CONFIRMATION: 'off', METRICS_TOKEN: 'scrape-secret' };
    const a = await startServer({ ...env, DATABASE_URL: direct });
    const { proxy, viaProxy } = await proxied(kit());
    let b: RunningServer | null = await startServer({ ...env, DATABASE_URL: viaProxy });
    let restarted: RunningServer | null = null;
    try {
      const live = (await call(a, 'auth.register', { input: { email: 'ready-live@example.test', password: PASSWORD } })).data?.tokens as unknown as { accessToken: string };
      const doomed = (await call(a, 'auth.register', { input: { email: 'ready-doomed@example.test', password: PASSWORD } })).data?.tokens as unknown as { accessToken: string };
      // B caches the token it is about to be restarted with.
      assert.equal((await call(b, 'demo.whoami', { accessToken: doomed.accessToken })).status, 200);
      assert.equal((await call(b, 'demo.whoami', { accessToken: doomed.accessToken })).status, 200);
      assert.equal((await probe(b.url, '/readyz')).status, 200);

      await b.stop();
      b = null;
      await proxy.refuse();
      // Revoked while B is away: no notice of it will ever reach B.
      assert.equal((await call(a, 'auth.logout', { input: {}, accessToken: doomed.accessToken })).status, 200);

      let startingUrl: string | null = null;
      const starting = startServer({ ...env, DATABASE_URL: viaProxy }, (output) => {
        startingUrl ??= /starting on (http:\/\/\S+)/.exec(output)?.[1] ?? null;
      });
      const url = await until(() => startingUrl, 'the restarted node to answer probes');
      await until(async () => (await probe(url, '/healthz')).status === 200, 'GET /healthz while the database is unreachable');
      const notReady = await probe(url, '/readyz');
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body.ready, false);
      const early = await fetch(`${url}/trpc/demo.whoami`, { headers: { authorization: `Bearer ${live.accessToken}` } });
      assert.equal(early.status, 503, 'a node that is not built answers nothing but its probes');

      await proxy.accept();
      restarted = await starting;
      const ready = await until(async () => {
        const answer = await probe(restarted?.url as string, '/readyz');
        return answer.status === 200 ? answer : null;
      }, 'GET /readyz once the database is back');
      assert.deepEqual(ready.body, { ready: true, database: true, tokenCache: true });

      const stale = await call(restarted, 'demo.whoami', { accessToken: doomed.accessToken });
      assert.equal(stale.status, 401);
      assert.equal(stale.authCode, 'TOKEN_REVOKED');
      assert.equal((await call(restarted, 'demo.whoami', { accessToken: live.accessToken })).status, 200);
      // The metrics tell which addresses have accounts (mails sent): only the token's bearer reads them.
      assert.equal((await fetch(`${restarted.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${restarted.url}/metrics`, { headers: { authorization: 'Bearer scrape-secreT' } })).status, 401);
      const metrics = await fetch(`${restarted.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await metrics.text();
      assert.match(text, /^auth_token_checks_total\{outcome="TOKEN_REVOKED",source="database"\} 1$/m, 'the stale token was refused by the database');
      assert.match(text, /^auth_revocation_listener_connected 1$/m);

      await proxy.refuse();
      await until(async () => (await probe(restarted?.url as string, '/readyz')).status === 503, 'GET /readyz to say 503 when the database goes');
      assert.equal((await probe(restarted.url, '/healthz')).status, 200, 'a node that is not ready is still alive');
      await proxy.accept();
    } finally {
      await Promise.all([a.stop(), b?.stop(), restarted?.stop()]);
      await proxy.close();
    }
  });
});

