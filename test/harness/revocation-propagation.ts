/*
 * How long a revocation takes to reach the other nodes' caches, measured from outside: a revoked
 * token first cached on every node, then polled on each other node until it is refused (an upper
 * bound on the real lag, by the polling interval); and the nodes' own histogram of a notice's
 * sending to its arrival (`auth_revocation_propagation_seconds`). Used by the F4/F5 fault test and
 * by `npm run load -- --fault revocation-storm`.
 */
import assert from 'node:assert/strict';
import { CLUSTER_METRICS_TOKEN } from './cluster.js';
import type { ClusterNode } from './cluster.js';
import { clientAddress, loopbackClient } from './loopback-client.js';
import type { LoopbackClient } from './loopback-client.js';
import { paced } from './paced.js';
import { until } from './poll.js';
import type { SeededSession } from './seed-sessions.js';

let probers = 0;

/** About `count` of `items`, spread evenly over them. */
export function every<T>(items: readonly T[], count: number): T[] {
  const step = Math.max(1, Math.floor(items.length / count));
  return items.filter((_, index) => index % step === 0).slice(0, count);
}

/** Caches each session's access token on every node (each answers 200 once), through `clients`. */
export async function warm(sessions: readonly SeededSession[], nodes: readonly ClusterNode[], clients: readonly LoopbackClient[]): Promise<void> {
  await paced(sessions, { ratePerSecond: 2000, concurrency: 16 }, async (session, index) => {
    for (const node of nodes) {
      const answer = await (clients[index % clients.length] as LoopbackClient).call(node.url, 'demo.whoami', { accessToken: session.accessToken });
      assert.equal(answer.status, 200, `warming on ${node.name}: ${answer.status} ${answer.authCode}`);
    }
  });
}

/** How long after `since` (ms, performance.now()) every node in `nodes` refused the token, polled. */
export async function refusedAfter(session: SeededSession, nodes: readonly ClusterNode[], since: number): Promise<number> {
  let latest = 0;
  await Promise.all(
    nodes.map(async (node) => {
      // A prober of its own: polls queued behind other polls would measure the queue.
      const prober = loopbackClient(clientAddress(4000 + (probers++ % 10_000)));
      try {
        let last = '';
        await until(
          async () => {
            const answer = await prober.call(node.url, 'demo.whoami', { accessToken: session.accessToken });
            last = `${answer.status} ${answer.authCode ?? answer.failure} in ${answer.ms.toFixed(0)} ms`;
            return answer.status === 401;
          },
          `${node.name} to refuse a revoked token`,
          10_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; it last answered ${last}`);
        });
        latest = Math.max(latest, performance.now() - since);
      } finally {
        prober.close();
      }
    }),
  );
  return latest;
}

/** The nodes' propagation histograms (a notice's sending to its arrival), summed: the cumulative count under each bound. */
export async function propagationBuckets(nodes: readonly ClusterNode[]): Promise<Map<string, number>> {
  const buckets = new Map<string, number>();
  for (const node of nodes) {
    const answer = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${CLUSTER_METRICS_TOKEN}` } });
    assert.equal(answer.status, 200, `GET /metrics on ${node.name}`);
    const text = await answer.text();
    for (const [, le, count] of text.matchAll(/^auth_revocation_propagation_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)$/gm)) {
      buckets.set(le as string, (buckets.get(le as string) ?? 0) + Number(count));
    }
  }
  return buckets;
}

/** How many notices arrived between two readings of the histograms. */
export function noticesHeard(before: Map<string, number>, after: Map<string, number>): number {
  return (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
}

/** The smallest bucket bound under which a `q` share of the notices heard between two readings arrived. */
export function bucketQuantile(before: Map<string, number>, after: Map<string, number>, q: number): string {
  const heard = noticesHeard(before, after);
  for (const [le, count] of after) if (count - (before.get(le) ?? 0) >= q * heard) return `≤ ${le} s`;
  return 'none heard';
}
