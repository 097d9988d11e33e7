/*
 * F9 (SECURITY.md §2): clock skew. Three nodes on one PostgreSQL, whose own clocks stand right, two
 * minutes ahead and two minutes behind (the database is right); later one is stepped back ten
 * minutes. The kit judges time by the database's clock (docs/time.md), so whichever node answers:
 * a refresh retried within the grace window is in grace, an access token dies at its expiry (plus
 * the documented bound), a mailed link expires at one moment, a rate-limit window runs from when it
 * started, and stepping a clock back brings nothing back to life. I1–I6 are checked afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { CLOCK_SKEW_BOUND_MS } from '../server/index.js';
import { assertInvariantsHeld } from './harness/fault-report.js';
import { checkInvariants } from './harness/invariants.js';
import { Ledger } from './harness/ledger.js';
import type { Operation, TokenPair } from './harness/ledger.js';
import { clientAddress, loopbackClient } from './harness/loopback-client.js';
import { until } from './harness/poll.js';
import { startSkewedNodes } from './harness/skewed-nodes.js';
import type { SkewedNode } from './harness/skewed-nodes.js';
import { describeOnPostgres, uniqueEmail } from './harness/test-kit.js';
import { prepareClients, WORKLOAD_PASSWORD } from './harness/workload.js';
import type { WorkloadClient } from './harness/workload.js';

const MINUTE_MS = 60_000;
const ACCESS_TTL_SECONDS = 4;
const LINK_TTL_SECONDS = 4;
const GRACE_SECONDS = 30;
const FAILURES_PER_IP = 3;
/** Every wait here is for real time to pass (the database's clock is not the test's to move). */
const LIVENESS = { timeout: 120_000 };

describeOnPostgres('F9: nodes whose clocks are off judge time by the database', (kit) => {
  let nodes: SkewedNode[] = [];
  let clients: WorkloadClient[] = [];
  const ledger = new Ledger();
  const node = (name: string) => nodes.find((candidate) => candidate.name === name) as SkewedNode;

  before(async () => {
    nodes = await startSkewedNodes(kit(), [0, 2 * MINUTE_MS, -2 * MINUTE_MS], {
      tokens: { accessTokenTtlSeconds: ACCESS_TTL_SECONDS, refreshGraceSeconds: GRACE_SECONDS },
      magicLink: { linkTtlSeconds: LINK_TTL_SECONDS },
      passwordReset: { linkTtlSeconds: LINK_TTL_SECONDS },
      signup: { emailConfirmation: 'off' },
      rateLimits: { failuresPerIp: FAILURES_PER_IP, windowSeconds: 60 },
    });
    clients = await prepareClients(nodes, 4, { label: 'f9' });
  });
  after(async () => {
    for (const client of clients) client.http.close();
    for (const each of nodes) await each.close();
  });

  async function call(client: WorkloadClient, on: SkewedNode, request: { op: Operation; path: string; input?: unknown; accessToken?: string; presented?: Partial<TokenPair> }) {
    const startedAt = ledger.now();
    const answer = await client.http.call(on.url, request.path, request);
    return ledger.record({ op: request.op, node: on.name, client: client.index, startedAt, presented: request.presented }, answer);
  }

  async function refresh(client: WorkloadClient, on: SkewedNode, refreshToken: string) {
    return call(client, on, { op: 'refresh', path: 'auth.refresh', input: { refreshToken }, presented: { refreshToken } });
  }

  it('each node measured its own offset from the database', (t) => {
    for (const [name, skewMs] of [['A', 0], ['B', 2 * MINUTE_MS], ['C', -2 * MINUTE_MS]] as const) {
      const measured = node(name).auth.metrics().clock;
      assert.ok(measured, `${name} runs on the database clock`);
      t.diagnostic(`${name}: clock ${skewMs / 1000} s off, measured offset ${measured.offsetMs} ms ± ${measured.uncertaintyMs} ms`);
      assert.ok(Math.abs(measured.offsetMs + skewMs) <= CLOCK_SKEW_BOUND_MS, `${name}: offset ${measured.offsetMs} ms for a clock ${skewMs} ms off`);
    }
  });

  it('a refresh retried 5 s later on a node four minutes apart counts as in-grace, both ways', LIVENESS, async () => {
    for (const [first, second, client] of [['C', 'B', clients[0]], ['B', 'C', clients[1]]] as const) {
      const owner = client as WorkloadClient;
      const presented = (owner.tokens as TokenPair).refreshToken;
      const rotated = await refresh(owner, node(first), presented);
      assert.equal(rotated.status, 200, `the refresh on ${first}: ${rotated.authCode}`);
      // The answer is "lost": the client retries the same token on the other node 5 s later.
      const retryAt = Date.now() + 5000;
      await until(() => Date.now() >= retryAt, '5 s to pass');
      const retried = await refresh(owner, node(second), presented);
      assert.equal(retried.authCode, null, `the retry on ${second} was taken for theft`);
      assert.equal(retried.status, 200);
      assert.equal(retried.issued?.refreshToken, rotated.issued?.refreshToken, 'the retry got another successor');
      owner.tokens = retried.issued;
    }
  });

  it('no node accepts an access token past its life plus the bound, and each refuses it once expired', LIVENESS, async () => {
    const owner = clients[2] as WorkloadClient;
    // Issued by the node ahead: its stamp must not give the token two more minutes on the one behind.
    const answer = await call(owner, node('B'), { op: 'login', path: 'auth.login', input: { identifier: owner.email, password: WORKLOAD_PASSWORD } });
    const issuedBy = Date.now();
    assert.equal(answer.status, 200);
    const token = (answer.issued as TokenPair).accessToken;
    const refusedBy = new Set<string>();
    await until(
      async () => {
        for (const each of nodes) {
          if (refusedBy.has(each.name)) continue;
          const startedAt = Date.now();
          const check = await call(owner, each, { op: 'whoami', path: 'demo.whoami', accessToken: token, presented: { accessToken: token } });
          if (check.status === 200) {
            assert.ok(startedAt <= issuedBy + ACCESS_TTL_SECONDS * 1000 + CLOCK_SKEW_BOUND_MS, `${each.name} accepted the token ${startedAt - issuedBy} ms after it was issued`);
          } else {
            assert.equal(check.authCode, 'TOKEN_EXPIRED', `${each.name}: ${check.status} ${check.authCode}`);
            refusedBy.add(each.name);
          }
        }
        return refusedBy.size === nodes.length;
      },
      'every node to refuse the expired token',
      (ACCESS_TTL_SECONDS + 30) * 1000,
    );
    owner.tokens = null;
    // Stepping a clock back ten minutes gives the expired token no second life, from memory or the database.
    node('A').local.skewMs -= 10 * MINUTE_MS;
    for (const each of nodes) assert.equal((await call(owner, each, { op: 'whoami', path: 'demo.whoami', accessToken: token, presented: { accessToken: token } })).authCode, 'TOKEN_EXPIRED');
    node('A').local.skewMs += 10 * MINUTE_MS;
  });

  it('a mailed link (reset, magic) works on the node ahead before its expiry, and on none after it, stepped clock included', LIVENESS, async () => {
    const owner = clients[3] as WorkloadClient;
    const seen = new Set<string>();
    const requestLink = async (kind: { path: string; subject: string }) => {
      const requested = await owner.http.call(node('A').url, kind.path, { input: { email: owner.email } });
      assert.equal(requested.status, 200);
      const mail = await kit().smtp.waitForMail(owner.email, (received) => received.subject === kind.subject && !seen.has(received.token ?? ''));
      seen.add(mail.token as string);
      return { token: mail.token as string, mailedBy: Date.now() };
    };
    const reset = { path: 'auth.forgotPassword', subject: 'Reset your password' };
    const magic = { path: 'auth.magicLink.request', subject: 'Your sign-in link' };
    const resetWith = (token: string) => ({ input: { token, password: `a new passphrase for f9 ${token.slice(-6)}` } });

    // The node two minutes ahead would call a 4 s link expired at once if it judged by its own clock.
    const freshReset = await requestLink(reset);
    const changed = await owner.http.call(node('B').url, 'auth.resetPassword', resetWith(freshReset.token));
    assert.equal(changed.status, 200, `the reset link on B: ${changed.authCode}`);
    const freshMagic = await requestLink(magic);
    const spent = await owner.http.call(node('B').url, 'auth.magicLink.verify', { input: { token: freshMagic.token } });
    assert.equal(spent.status, 200, `the magic link on B: ${spent.authCode}`);
    // The reset ended the sessions from before: the client goes on with the one the link started.
    const signedIn = spent.data?.tokens as TokenPair;
    owner.tokens = { accessToken: signedIn.accessToken, refreshToken: signedIn.refreshToken };

    const staleReset = await requestLink(reset);
    const staleMagic = await requestLink(magic);
    const expiredAt = staleReset.mailedBy + LINK_TTL_SECONDS * 1000 + CLOCK_SKEW_BOUND_MS;
    await until(() => Date.now() > expiredAt, 'the links to expire');
    // The node behind, and the node stepped back ten minutes, see them expired as well.
    node('A').local.skewMs -= 10 * MINUTE_MS;
    for (const name of ['C', 'A', 'B']) {
      const lateReset = await owner.http.call(node(name).url, 'auth.resetPassword', resetWith(staleReset.token));
      assert.equal(lateReset.authCode, 'LINK_EXPIRED', `${name} took a reset link past its expiry: ${lateReset.status}`);
      const lateMagic = await owner.http.call(node(name).url, 'auth.magicLink.verify', { input: { token: staleMagic.token } });
      assert.equal(lateMagic.authCode, 'LINK_EXPIRED', `${name} took a magic link past its expiry: ${lateMagic.status}`);
    }
    node('A').local.skewMs += 10 * MINUTE_MS;
  });

  it('a rate-limit window started on one node is not restarted by a node whose clock is ahead or behind', async () => {
    const stranger = loopbackClient(clientAddress(200));
    try {
      const email = uniqueEmail('f9-limit');
      const wrong = () => ({ input: { identifier: email, password: 'not the password at all' } });
      for (let attempt = 0; attempt < FAILURES_PER_IP; attempt++) {
        const startedAt = ledger.now();
        ledger.record({ op: 'badLogin', node: 'A', client: 200, startedAt }, await stranger.call(node('A').url, 'auth.login', wrong()));
      }
      for (const name of ['B', 'C', 'A']) {
        const startedAt = ledger.now();
        const answer = ledger.record({ op: 'badLogin', node: name, client: 200, startedAt }, await stranger.call(node(name).url, 'auth.login', wrong()));
        assert.equal(answer.authCode, 'RATE_LIMITED', `${name} answered ${answer.status} ${answer.authCode}: the window restarted`);
      }
    } finally {
      stranger.close();
    }
  });

  it('a clock stepped back is measured, and I1–I6 hold', LIVENESS, async (t) => {
    node('A').local.skewMs -= 10 * MINUTE_MS;
    await until(() => Math.abs((node('A').auth.metrics().clock?.offsetMs ?? 0) - 10 * MINUTE_MS) <= CLOCK_SKEW_BOUND_MS, "A's stepped clock to be measured");
    // Every client holds a live access token for the final probes (the short life here ends them fast).
    for (const client of clients) {
      if (client.tokens) {
        const renewed = await refresh(client, nodes[client.index % nodes.length] as SkewedNode, client.tokens.refreshToken);
        client.tokens = renewed.issued;
      } else {
        const signedIn = await call(client, node('A'), { op: 'login', path: 'auth.login', input: { identifier: client.email, password: WORKLOAD_PASSWORD } });
        client.tokens = signedIn.issued;
      }
      assert.ok(client.tokens, `client ${client.index} holds tokens again`);
    }
    const results = await checkInvariants({ ledger, clients, nodes });
    assertInvariantsHeld(t, ledger, results);
  });
});
