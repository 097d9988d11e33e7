/*
 * How long a revocation takes to reach the other nodes' caches, measured from outside: a revoked
 * token first cached on every node, then polled on each other node until it is refused (an upper
 * bound on the real lag, by the polling interval); and the nodes' own histogram of a notice's
 * sending to its arrival (`auth_revocation_propagation_seconds`). Used by the F4/F5 fault test and
 * by `npm run load -- --fault revocation-storm`.
 *
 * The polling must not be the load it measures. One revocation at a time (F4) polls its token
 * alone. Hundreds of tokens revoked at once (F5) are polled by a few probers per node that take
 * turns over the tokens still accepted (`probeRefusals`): a poller per token and node, 600 of them
 * every 10 ms, kept
 * three nodes on a 2-core machine so busy that the last sampled token was refused ~9 s after the
 * call, though the node's table had forgotten them all within milliseconds of the notice.
 */
import assert from 'node:assert/strict';
import { CLUSTER_METRICS_TOKEN } from './cluster.js';
import type { ClusterNode } from './cluster.js';
import { clientAddress, loopbackClient } from './loopback-client.js';
import type { LoopbackClient } from './loopback-client.js';
import { paced } from './paced.js';
import { CHECK_EVERY_MS, until } from './poll.js';
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

/** Probers per node for {@link probeRefusals}: enough to go round hundreds of tokens in a few tens of ms. */
const PROBERS_PER_NODE = 4;
/** How long a node may go on accepting a revoked token before the measurement gives up on it. */
const GIVE_UP_MS = 10_000;

/** What {@link RefusalProbe.finish} measured. */
export interface RefusalFigures {
  lags: number[];
  roundMs: number;
  /** How many polls answered each status; `401 first` counts tokens refused on a node the first time asked. */
  answers: Record<string, number>;
  /** The latest a poll was still answered 200, after its token's `since` (0 if none was): a lower bound on the slowest lag. */
  lastAcceptedMs: number;
}

/** Revoked tokens polled on every node by a few probers, for revocations that come in bulk. */
export interface RefusalProbe {
  /** Polls `session`'s token, revoked at `since` (performance.now(): the revoking call's 200), until every node refuses it. */
  add(session: SeededSession, since: number): void;
  /**
   * Resolves, once every token added is refused on every node, with how long after its `since` the
   * last node refused each (in the order added), and the longest a token waited between two polls
   * on one node: each lag is an upper bound on the real one by about that. A token counts as
   * refused on a node at its first 401 or 503: the node let it through no longer, and since a cached
   * token is answered from memory, never the database, a 503 also shows the cache had forgotten it.
   * `answers` counts what the polls got by status (`401 first`: refused on a node the first time
   * asked, which says no more than that the poll came late); a 200 is a revocation not yet in force.
   */
  finish(): Promise<RefusalFigures>;
}

/**
 * Starts polling for tokens revoked together (F5), on each of `nodes`, by {@link PROBERS_PER_NODE}
 * probers per node that take turns over the tokens that node still accepts.
 */
export function probeRefusals(nodes: readonly ClusterNode[]): RefusalProbe {
  const lags: number[] = [];
  let roundMs = 0;
  let finishing = false;
  const answers: Record<string, number> = {};
  let lastAcceptedMs = 0;
  const queues = nodes.map(() => [] as Array<{ session: SeededSession; index: number; since: number; askedAt: number }>);
  const polling = Promise.all(
    nodes.flatMap((node, n) =>
      Array.from({ length: PROBERS_PER_NODE }, async () => {
        const accepted = queues[n] as (typeof queues)[number];
        const prober = loopbackClient(clientAddress(4000 + (probers++ % 10_000)));
        try {
          for (;;) {
            const next = accepted.shift();
            if (!next) {
              if (finishing) return;
              await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
              continue;
            }
            const sinceAsked = performance.now() - next.askedAt;
            const first = !Number.isFinite(sinceAsked);
            if (!first) roundMs = Math.max(roundMs, sinceAsked);
            // A token asked about moments ago waits its turn, as `until` does.
            if (sinceAsked < CHECK_EVERY_MS) await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS - sinceAsked));
            next.askedAt = performance.now();
            const answer = await prober.call(node.url, 'demo.whoami', { accessToken: next.session.accessToken });
            const kind = answer.status === 401 && first ? '401 first' : String(answer.status);
            answers[kind] = (answers[kind] ?? 0) + 1;
            if (answer.status === 200) lastAcceptedMs = Math.max(lastAcceptedMs, next.askedAt - next.since);
            if (answer.status === 401 || answer.status === 503) {
              lags[next.index] = Math.max(lags[next.index] as number, performance.now() - next.since);
            } else if (performance.now() - next.since > GIVE_UP_MS) {
              throw new Error(`${node.name} had not refused a revoked token ${GIVE_UP_MS} ms on; it last answered ${answer.status} ${answer.authCode ?? answer.failure}`);
            } else {
              accepted.push(next);
            }
          }
        } finally {
          prober.close();
        }
      }),
    ),
  );
  // Its failure is the caller's once it asks for the figures; until then it must not end the process.
  polling.catch(() => {});
  return {
    add(session, since) {
      const index = lags.push(0) - 1;
      for (const queue of queues) queue.push({ session, index, since, askedAt: Number.NEGATIVE_INFINITY });
    },
    async finish() {
      finishing = true;
      await polling;
      return { lags, roundMs, answers, lastAcceptedMs };
    },
  };
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
