import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, ClusterNode } from '../test/harness/cluster.js';
import type { Ledger } from '../test/harness/ledger.js';
import { clientAddress, loopbackClient } from '../test/harness/loopback-client.js';
import { quantile } from '../test/harness/latency-summary.js';
import { paced } from '../test/harness/paced.js';
import { bucketQuantile, every, noticesHeard, propagationBuckets, refusedAfter, warm } from '../test/harness/revocation-propagation.js';
import { seedSessions } from '../test/harness/seed-sessions.js';
import type { EmbeddedPostgresServer } from '../scripts/embedded-postgres.mjs';
import { NOTIFICATION_QUEUE_USAGE, NOTIFY_COMMIT_WAITERS, sampleHighest } from '../test/harness/database-sampler.js';

/** The faults `npm run load` can inject, named after SECURITY.md's table. */
export const FAULTS = {
  none: 'no fault',
  restart: 'F1: PostgreSQL restarted (a real restart when the load run started the server, else every connection cut and refused)',
  'kill-node': 'F7: node A killed (SIGKILL); its clients retry on the others',
  'slow-db': 'F12: every byte from PostgreSQL 2 s late',
  'revocation-storm': 'F4: a storm of revocations (--storm sessions signed out over the fault window)',
} as const;

export type FaultName = keyof typeof FAULTS;

export interface FaultSetting {
  cluster: Cluster;
  database: EmbeddedPostgresServer | null;
  databaseUrl: string;
  ledger: Ledger;
  /** How long the fault lasts, where it has a length. */
  forMs: number;
  stormSize: number;
}

/** The p99 of the whoami calls that started between `from` and `to` (the ledger's ms). */
function whoamiP99(ledger: Ledger, from: number, to: number): string {
  const ms = ledger.entries.filter((entry) => entry.op === 'whoami' && entry.startedAt >= from && entry.startedAt <= to).map((entry) => entry.endedAt - entry.startedAt);
  return `${quantile(ms, 0.99).toFixed(1)} ms (${ms.length} calls)`;
}

/**
 * Signs `stormSize` seeded sessions out over the fault window. A sample of them is first cached on
 * every node, and each sampled revocation is timed from its 200 to the other nodes' refusal.
 */
async function revocationStorm(setting: FaultSetting): Promise<string> {
  const { cluster, ledger, databaseUrl } = setting;
  const sessions = await seedSessions(databaseUrl, { users: Math.ceil(setting.stormSize / 10), sessionsPerUser: 10, label: 'storm' });
  const revokers = Array.from({ length: 32 }, (_, index) => loopbackClient(clientAddress(20_000 + index)));
  const sample = new Set(every(sessions, 100));
  await warm([...sample], cluster.nodes, revokers);
  const queue = sampleHighest(databaseUrl, NOTIFICATION_QUEUE_USAGE, 100);
  const commitQueue = sampleHighest(databaseUrl, NOTIFY_COMMIT_WAITERS, 20);
  const heardBefore = await propagationBuckets(cluster.nodes);
  const endFault = ledger.fault(`${sessions.length} revocations`);
  const stormStart = ledger.now();
  const started = performance.now();
  const lags: Array<Promise<number>> = [];
  let retried = 0;
  const statuses = await paced(sessions, { ratePerSecond: sessions.length / (setting.forMs / 1000), concurrency: 32 }, async (session, index) => {
    const node = cluster.nodes[index % cluster.nodes.length] as ClusterNode;
    const revoker = revokers[index % revokers.length] as ReturnType<typeof loopbackClient>;
    for (let attempt = 0; ; attempt++) {
      const answer = await revoker.call(node.url, 'auth.logout', { input: {}, accessToken: session.accessToken });
      if (answer.status === 200 && sample.has(session)) lags.push(refusedAfter(session, cluster.nodes.filter((other) => other !== node), performance.now()));
      if (answer.status !== 503 || attempt === 10) return answer.status;
      retried++;
    }
  });
  const propagation = await Promise.all(lags);
  endFault();
  const seconds = (performance.now() - started) / 1000;
  const highest = await queue.stop();
  const waitersAtMost = await commitQueue.stop();
  const heardAfter = await propagationBuckets(cluster.nodes);
  for (const revoker of revokers) revoker.close();
  const failed = statuses.filter((status) => status !== 200).length;
  return [
    `${sessions.length} revocations in ${seconds.toFixed(1)} s (${failed} failed, ${retried} sent again after a 503); pg_notification_queue_usage() at most ${(highest * 100).toFixed(4)} %`,
    `  revoking call's 200 → refused on the other nodes (${propagation.length} sampled, polled): p50 ${quantile(propagation, 0.5).toFixed(0)} ms, p99 ${quantile(propagation, 0.99).toFixed(0)} ms, max ${Math.max(0, ...propagation).toFixed(0)} ms`,
    `  notice sent → heard, every node's listener (${noticesHeard(heardBefore, heardAfter)} notices): p50 ${bucketQuantile(heardBefore, heardAfter, 0.5)}, p99 ${bucketQuantile(heardBefore, heardAfter, 0.99)}`,
    `  transactions waiting to commit behind another's NOTIFY: at most ${waitersAtMost} (sampled every 20 ms)`,
    `  whoami p99 before the storm ${whoamiP99(ledger, 0, stormStart)}, during it ${whoamiP99(ledger, stormStart, ledger.now())}`,
  ].join('\n');
}

/** Injects the fault and resolves, once it is over, with what happened, in a line. */
export async function injectFault(name: FaultName, setting: FaultSetting): Promise<string> {
  const { cluster, database, ledger, forMs } = setting;
  if (name === 'none') return 'no fault';
  if (name === 'restart') {
    const endFault = ledger.fault('PostgreSQL restart');
    const started = performance.now();
    if (database) await database.restart();
    else {
      await cluster.refuseAll();
      await sleep(forMs);
      await cluster.acceptAll();
    }
    endFault();
    return `PostgreSQL ${database ? 'restarted' : 'unreachable'} for ${((performance.now() - started) / 1000).toFixed(1)} s`;
  }
  if (name === 'kill-node') {
    const victim = cluster.nodes[0] as ClusterNode;
    const endFault = ledger.fault(`node ${victim.name} killed`);
    await victim.kill();
    endFault();
    return `node ${victim.name} (pid ${victim.pid}) killed with SIGKILL`;
  }
  if (name === 'slow-db') {
    const endFault = ledger.fault('database 2 s slow');
    for (const node of cluster.nodes) node.proxy.slow(2000);
    await sleep(forMs);
    for (const node of cluster.nodes) node.proxy.slow(0);
    endFault();
    return `every byte from PostgreSQL 2 s late for ${(forMs / 1000).toFixed(0)} s`;
  }
  return revocationStorm(setting);
}
