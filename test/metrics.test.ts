/*
 * Metrics (issue #14 part 3): `auth.metrics()` and the Prometheus text of `auth.metricsRegistry`
 * move when the thing they count happens: a refused token raises the refused count, a revocation
 * heard from another node its propagation histogram, a full mail queue its drops.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createAuth } from '../server/index.js';
import { createHashingBulkhead } from '../server/passwords/hashing-bulkhead.js';
import type { Auth } from '../server/index.js';
import { formatToken } from '../shared/token-format.js';
import { generateTokenParts } from '../server/tokens/secrets.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { until } from './harness/poll.js';
import { describeOnEachDatabase, describeOnPostgres, uniqueEmail } from './harness/test-kit.js';

/** The value of one sample in Prometheus text, or undefined when it is absent. */
async function sample(auth: Auth, line: string): Promise<number | undefined> {
  const text = await auth.metricsRegistry.metrics();
  const found = text.split('\n').find((each) => each.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const madeUpToken = () => formatToken('access', generateTokenParts((length) => randomBytes(length)));

describeOnEachDatabase('auth.metrics()', (kit) => {
  it('counts token checks by outcome and by where they were answered, and cache hits and misses', async () => {
    const app = await kit().variant({});
    try {
      const { tokens } = await registerConfirmed(kit(), app);
      const before = app.auth.metrics();
      await app.client(tokens.accessToken).demo.whoami.query();
      const madeUp = madeUpToken();
      await expectAuthError(app.client(madeUp).demo.whoami.query(), 'TOKEN_INVALID');
      await expectAuthError(app.client(madeUp).demo.whoami.query(), 'TOKEN_INVALID');
      await expectAuthError(app.client('at_not-even-well-formed').demo.whoami.query(), 'TOKEN_INVALID');
      await app.client(tokens.accessToken).auth.logout.mutate();
      await expectAuthError(app.client(tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
      const after = app.auth.metrics();

      const moved = (read: (metrics: typeof after) => number) => read(after) - read(before);
      assert.equal(moved((m) => m.tokenChecks.memory.ok), 2, 'whoami and logout, answered from the cache');
      assert.equal(moved((m) => m.tokenChecks.database.TOKEN_INVALID), 1, 'the made-up token, looked up once');
      assert.equal(moved((m) => m.tokenChecks.memory.TOKEN_INVALID), 2, 'the same again (negative cache), and the malformed one');
      assert.equal(moved((m) => m.tokenChecks.database.TOKEN_REVOKED), 1);
      assert.equal(moved((m) => m.tokenCache.hits), 2);
      assert.equal(moved((m) => m.tokenCache.misses), 3, 'the made-up token twice, the revoked one once');
      assert.equal(after.tokenCache.trusted, true);

      assert.equal(await sample(app.auth, 'auth_token_checks_total{outcome="TOKEN_INVALID",source="database"}'), after.tokenChecks.database.TOKEN_INVALID);
      assert.equal(await sample(app.auth, 'auth_token_cache_lookups_total{result="hit"}'), after.tokenCache.hits);
      assert.equal(await sample(app.auth, 'auth_token_cache_trusted'), 1);
    } finally {
      await app.close();
    }
  });

  it('counts rate-limit refusals by kind of limit, and password hashes and their waits', async () => {
    const app = await kit().variant({ rateLimits: { failuresPerIp: 2 } });
    try {
      const { email } = await registerConfirmed(kit(), app);
      const before = app.auth.metrics();
      let refused = false;
      for (let i = 0; i < 5 && !refused; i++) {
        refused = await app
          .client()
          .auth.login.mutate({ identifier: email, password: 'not the password at all' })
          .then(
            () => assert.fail('a wrong password signed in'),
            (error: Error) => error.message === 'RATE_LIMITED',
          );
      }
      assert.ok(refused, 'the client was never refused');
      const after = app.auth.metrics();
      assert.ok((after.rateLimitRefusals['failures-ip'] ?? 0) > (before.rateLimitRefusals['failures-ip'] ?? 0));
      assert.ok(after.hashing.waitSeconds.count > before.hashing.waitSeconds.count, 'each checked password waited for its slot, if only 0 s');
      assert.deepEqual([after.hashing.running, after.hashing.waiting], [0, 0]);
      assert.equal(await sample(app.auth, 'auth_rate_limit_refusals_total{limit="failures-ip"}'), after.rateLimitRefusals['failures-ip']);
      assert.equal(await sample(app.auth, 'auth_password_hash_wait_seconds_count'), after.hashing.waitSeconds.count);
      assert.equal(await sample(app.auth, 'auth_password_hash_wait_seconds_bucket{le="+Inf"}'), after.hashing.waitSeconds.count);
    } finally {
      await app.close();
    }
  });

  it('counts mail queued, sent and dropped', async () => {
    let deliver: () => void = () => {};
    const held = new Promise<void>((resolve) => (deliver = resolve));
    const auth = await createAuth({
      db: kit().database.db,
      mail: { transport: { sendMail: () => held }, from: 'auth@app.example.test', appUrl: 'https://app.example.test', delivery: { maxQueuedPerKind: 1, concurrency: 1, spreadMs: 0 } },
      cleanup: { intervalMs: 0 },
      logger: { info() {}, warn() {}, error() {} },
      clock: kit().clock,
    });
    try {
      await auth.invite({ email: uniqueEmail('invited') });
      await until(() => auth.metrics().mail.sending === 1, 'the first invitation to be sending');
      await auth.invite({ email: uniqueEmail('invited') });
      await until(() => auth.metrics().mail.dropped === 1, 'the second invitation to be dropped: its kind fills its share');
      assert.equal(auth.metrics().mail.queued, 1);
      deliver();
      await auth.settled();
      assert.deepEqual(auth.metrics().mail, { queued: 0, sending: 0, retrying: 0, sent: 1, failed: 0, dropped: 1 });
      assert.equal(await sample(auth, 'auth_mail_dropped_total'), 1);
    } finally {
      await auth.close();
    }
  });
});

describe('the hashing bulkhead', () => {
  it('counts the places it refuses', () => {
    const bulkhead = createHashingBulkhead({ maxRunning: 1, maxQueued: 0, maxPerClient: 1 });
    const place = bulkhead.enter('10.0.0.1');
    assert.ok(place);
    assert.equal(bulkhead.enter('10.0.0.2'), null, 'every place is taken');
    assert.equal(bulkhead.stats().refused, 1);
    place.leave();
    assert.ok(bulkhead.enter('10.0.0.2'));
    assert.equal(bulkhead.stats().refused, 1);
  });
});

describeOnPostgres('revocation listener metrics', (kit) => {
  it('a revocation made on another node is heard here, with the time it took', async () => {
    const other = await kit().variant({});
    const here = await kit().variant({});
    try {
      const { tokens } = await registerConfirmed(kit(), other, { email: uniqueEmail('heard') });
      await here.client(tokens.accessToken).demo.whoami.query();
      const before = here.auth.metrics().revocationListener;
      assert.ok(before?.connected, 'the listener listens');
      await other.client(tokens.accessToken).auth.logout.mutate();
      const after = await until(() => {
        const listener = here.auth.metrics().revocationListener;
        return listener && listener.propagationSeconds.count > before.propagationSeconds.count ? listener : null;
      }, 'the revocation to be heard');
      assert.ok(after.revocationsHeard > before.revocationsHeard);
      assert.ok(after.silenceSeconds !== null && after.silenceSeconds >= 0);
      assert.ok(after.propagationSeconds.sum >= before.propagationSeconds.sum);
      await expectAuthError(here.client(tokens.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');

      assert.equal(await sample(here.auth, 'auth_revocation_listener_connected'), 1);
      assert.ok(((await sample(here.auth, 'auth_revocation_propagation_seconds_count')) ?? 0) >= after.propagationSeconds.count);
      assert.ok((await sample(here.auth, 'auth_revocation_listener_silence_seconds')) !== undefined);
    } finally {
      await here.close();
      await other.close();
    }
  });
});

describeOnEachDatabase('the metrics registry', (kit) => {
  it("is the kit's own: nothing lands in prom-client's global registry, and two kits in one process do not collide", async () => {
    const { register } = await import('prom-client');
    const second = await kit().variant({});
    try {
      assert.equal(register.getSingleMetric('auth_token_checks_total'), undefined);
      assert.notEqual(second.auth.metricsRegistry, kit().auth.metricsRegistry);
      assert.match(await second.auth.metricsRegistry.metrics(), /^# HELP auth_token_checks_total /m);
    } finally {
      await second.close();
    }
  });
});
