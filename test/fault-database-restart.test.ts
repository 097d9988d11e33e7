/*
 * F1 (SECURITY.md §2): PostgreSQL restarted in the middle of a mixed load on two reference-server
 * nodes. The database is shared by the test files running beside this one, so it is restarted as the
 * nodes see it: their proxies cut every connection (pool and listener) and refuse new ones, as a
 * `pg_ctl restart -m fast` does, until they accept again. `npm run load -- --fault restart` restarts
 * a real server instead.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startCluster } from './harness/cluster.js';
import type { Cluster } from './harness/cluster.js';
import { assertInvariantsHeld, unavailable } from './harness/fault-report.js';
import { checkInvariants } from './harness/invariants.js';
import { Ledger } from './harness/ledger.js';
import type { TokenPair } from './harness/ledger.js';
import { clientAddress, loopbackClient } from './harness/loopback-client.js';
import { until } from './harness/poll.js';
import { describeOnPostgres } from './harness/test-kit.js';
import { WORKLOAD_PASSWORD, prepareClients, runWorkload } from './harness/workload.js';

/** How long after the database accepts connections again a node may still answer 5xx. */
const RECOVERY_BOUND_MS = 10_000;
const LIVENESS = { timeout: 240_000 };

/** A client of its own (an address no workload client uses) with a fresh account signed in on `node`. */
async function signedIn(cluster: Cluster, index: number): Promise<{ http: ReturnType<typeof loopbackClient>; tokens: TokenPair }> {
  const http = loopbackClient(clientAddress(1000 + index));
  const node = cluster.nodes[0] as Cluster['nodes'][number];
  const answer = await http.call(node.url, 'auth.register', { input: { email: `f1-${process.pid}-${index}@example.test`, password: WORKLOAD_PASSWORD } });
  assert.equal(answer.status, 200, `register: ${answer.status} ${answer.authCode}`);
  return { http, tokens: answer.data?.tokens as TokenPair };
}

async function refusedEverywhere(cluster: Cluster, who: Awaited<ReturnType<typeof signedIn>>): Promise<boolean> {
  for (const node of cluster.nodes) {
    if ((await who.http.call(node.url, 'demo.whoami', { accessToken: who.tokens.accessToken })).status === 200) return false;
  }
  return true;
}

describeOnPostgres('F1: the database restarts under load on two nodes', (kit) => {
  it('answers 5xx only while it is down and shortly after; every invariant holds; both nodes hear revocations again', LIVENESS, async (t) => {
    const cluster = await startCluster(kit().database.url as string, { count: 2 });
    try {
      const ledger = new Ledger();
      const clients = await prepareClients(cluster.nodes, 24, { label: 'f1' });
      // Revoked just before the restart, on A, while both nodes hold them in their caches.
      const victims = await Promise.all([0, 1, 2].map((index) => signedIn(cluster, index)));
      for (const victim of victims) for (const node of cluster.nodes) assert.equal((await victim.http.call(node.url, 'demo.whoami', { accessToken: victim.tokens.accessToken })).status, 200);

      // The load runs on until it has made 300 calls after the database came back.
      let upAt = Number.POSITIVE_INFINITY;
      const load = runWorkload({ ledger, clients, nodes: cluster.nodes, ratePerSecond: 40, done: () => ledger.entries.filter((entry) => entry.startedAt > upAt).length >= 300 });
      await until(() => ledger.entries.length >= 100, 'the load to get going');
      const nodeA = cluster.nodes[0] as Cluster['nodes'][number];
      for (const victim of victims) assert.equal((await victim.http.call(nodeA.url, 'auth.logout', { input: {}, accessToken: victim.tokens.accessToken })).status, 200);

      const downAt = ledger.now();
      const endFault = ledger.fault('database restart');
      await cluster.refuseAll();
      await until(() => ledger.entries.filter((entry) => entry.startedAt > downAt).length >= 60, 'the load to run on through the outage');
      await cluster.acceptAll();
      upAt = ledger.now();
      endFault();
      await load;

      const early = ledger.entries.filter((entry) => unavailable(entry) && entry.endedAt < downAt);
      const late = ledger.entries.filter((entry) => unavailable(entry) && entry.startedAt > upAt + RECOVERY_BOUND_MS);
      const lastUnavailable = Math.max(0, ...ledger.entries.filter(unavailable).map((entry) => entry.endedAt - upAt));
      t.diagnostic(`outage ${Math.round(upAt - downAt)} ms; last 5xx or unanswered call ended ${Math.round(lastUnavailable)} ms after the database came back`);
      assert.deepEqual(early.map((entry) => `${entry.op} ${entry.status}`), [], 'a 5xx before the restart');
      assert.deepEqual(late.map((entry) => `${entry.op} ${entry.status} at +${Math.round(entry.startedAt - upAt)} ms`), [], `a 5xx more than ${RECOVERY_BOUND_MS} ms after the database came back`);

      for (const victim of victims) assert.ok(await refusedEverywhere(cluster, victim), 'a token revoked just before the restart is accepted again');
      // Both listeners are back: a revocation on A reaches B's cache.
      const after = await signedIn(cluster, 3);
      const nodeB = cluster.nodes[1] as Cluster['nodes'][number];
      assert.equal((await after.http.call(nodeB.url, 'demo.whoami', { accessToken: after.tokens.accessToken })).status, 200);
      assert.equal((await after.http.call(nodeA.url, 'auth.logout', { input: {}, accessToken: after.tokens.accessToken })).status, 200);
      await until(() => refusedEverywhere(cluster, after), 'B to hear a revocation made on A after the restart', 2000);

      const results = await checkInvariants({ ledger, clients, nodes: cluster.nodes });
      for (const client of [...clients, ...victims, after]) client.http.close();
      assertInvariantsHeld(t, ledger, results);
    } finally {
      await cluster.close();
    }
  });
});
