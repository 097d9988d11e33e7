/*
 * F12 (SECURITY.md §2): the database made slow under a mixed load: every byte from PostgreSQL to
 * the node arrives 2 s late (the proxy's latency toxic), for as long as the load makes a hundred
 * calls. Each call has 5 s on the database in all (the pool's `requestDeadlineMs`), however many
 * statements it runs, so each answers, 200 or 503, within that and a margin; the node must not open
 * more connections than its pool holds (the queue waits for a slot, bounded in time and length), and
 * once the latency goes every kind of call answers 200 again within 10 s.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startCluster } from './harness/cluster.js';
import type { ClusterNode } from './harness/cluster.js';
import { assertInvariantsHeld, unavailable } from './harness/fault-report.js';
import { checkInvariants } from './harness/invariants.js';
import { quantile } from './harness/latency-summary.js';
import { Ledger } from './harness/ledger.js';
import { until } from './harness/poll.js';
import { describeOnPostgres } from './harness/test-kit.js';
import { prepareClients, runWorkload } from './harness/workload.js';
import { sampleHighest } from './harness/database-sampler.js';

const LATENCY_MS = 2000;
const RECOVERY_BOUND_MS = 10_000;
/** The default `requestDeadlineMs`, and a generous margin for a loaded machine to get the answer out. */
const ANSWER_BOUND_MS = 5000 + 2000;
/**
 * pg's default pool size, the listener's connection, and as many again for connections the pool has
 * dropped whose server side still finishes its statement (at most statement_timeout) before it
 * notices: bounded, whatever the load.
 */
const MAX_CONNECTIONS = 2 * 10 + 1;
const LIVENESS = { timeout: 240_000 };

describeOnPostgres('F12: the database slows down under load', (kit) => {
  it('holds no more connections than its pool, keeps every invariant, and recovers within 10 s', LIVENESS, async (t) => {
    const url = kit().database.url as string;
    const cluster = await startCluster(url, { count: 1 });
    try {
      const node = cluster.nodes[0] as ClusterNode;
      const ledger = new Ledger();
      const clients = await prepareClients(cluster.nodes, 16, { label: 'f12' });
      let slowFrom = Number.POSITIVE_INFINITY;
      let fastFrom = Number.POSITIVE_INFINITY;
      const recovered = () => ledger.entries.filter((entry) => entry.startedAt > fastFrom + RECOVERY_BOUND_MS).length >= 100;
      const load = runWorkload({ ledger, clients, nodes: cluster.nodes, ratePerSecond: 20, done: recovered });
      await until(() => ledger.entries.length >= 60, 'the load to get going');

      const connections = sampleHighest(url, "SELECT count(*)::int AS value FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'trpc-auth-kit%'", 100);
      const endFault = ledger.fault(`database ${LATENCY_MS} ms slow`);
      node.proxy.slow(LATENCY_MS);
      slowFrom = ledger.now();
      await until(() => ledger.entries.filter((entry) => entry.startedAt > slowFrom).length >= 100, 'the load to run on while the database is slow', 120_000);
      node.proxy.slow(0);
      fastFrom = ledger.now();
      endFault();
      await load;
      const mostConnections = await connections.stop();

      const slow = ledger.entries.filter((entry) => entry.startedAt >= slowFrom && entry.startedAt < fastFrom);
      const refusedLate = ledger.entries.filter((entry) => unavailable(entry) && entry.startedAt > fastFrom + RECOVERY_BOUND_MS);
      const lastUnavailable = Math.max(0, ...ledger.entries.filter(unavailable).map((entry) => entry.endedAt - fastFrom));
      for (const op of ['whoami', 'refresh', 'login', 'logout'] as const) {
        const times = slow.filter((entry) => entry.op === op).map((entry) => entry.endedAt - entry.startedAt);
        t.diagnostic(`${op} while slow: ${times.length} calls, p50 ${Math.round(quantile(times, 0.5))} ms, max ${Math.round(Math.max(0, ...times))} ms`);
      }
      t.diagnostic(`${slow.filter((entry) => entry.status === 0).length} calls got no answer within the client's 15 s`);
      t.diagnostic(`${slow.length} calls while slow: ${slow.filter((entry) => entry.status === 200).length} answered 200, ${slow.filter(unavailable).length} 503 or unanswered; slowest ${Math.round(Math.max(...slow.map((entry) => entry.endedAt - entry.startedAt)))} ms`);
      t.diagnostic(`at most ${mostConnections} connections held; last 503 ended ${Math.round(lastUnavailable)} ms after the latency went`);
      assert.ok(mostConnections <= MAX_CONNECTIONS, `${mostConnections} connections`);
      const late = slow.filter((entry) => entry.status === 0 || entry.endedAt - entry.startedAt > ANSWER_BOUND_MS);
      assert.deepEqual(late.map((entry) => `${entry.op} ${entry.status} in ${Math.round(entry.endedAt - entry.startedAt)} ms`), [], 'a call that took longer than its deadline');
      assert.deepEqual(refusedLate.map((entry) => `${entry.op} ${entry.status}`), [], `a 503 more than ${RECOVERY_BOUND_MS} ms after the latency went`);

      const results = await checkInvariants({ ledger, clients, nodes: cluster.nodes });
      for (const client of clients) client.http.close();
      assertInvariantsHeld(t, ledger, results);
    } finally {
      await cluster.close();
    }
  });
});
