import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './reference-server.js';
import type { RunningServer } from './reference-server.js';
import { startTcpProxy } from './tcp-proxy.js';

type TcpProxy = Awaited<ReturnType<typeof startTcpProxy>>;

/** One reference-server process of a cluster, and the proxy through which it reaches PostgreSQL. */
export interface ClusterNode {
  name: string;
  url: string;
  pid: number;
  /** Everything between this node and the database (its pool and its listener): the fault point. */
  proxy: TcpProxy;
  server: RunningServer;
  /** Whether a test killed it on purpose (the invariants then expect it gone). */
  killed: boolean;
  /** SIGKILL: no goodbye to the database, no answer to what is in flight. */
  kill(): Promise<void>;
}

/** What every node of a cluster runs with, unless a test says otherwise. */
/** What a cluster node's `GET /metrics` wants as its bearer (its APP_URL is not on loopback). */
export const CLUSTER_METRICS_TOKEN = 'cluster-metrics';

export const CLUSTER_ENV = {
  AUTH_EMAIL_CONFIRMATION: 'off',
  // The bound SECURITY.md gives a grace window: long enough for a client to retry through a fault.
  AUTH_REFRESH_GRACE: '30',
  METRICS_TOKEN: CLUSTER_METRICS_TOKEN,
};

/**
 * `count` reference-server processes (`npm start`'s entry point) on the database at `databaseUrl`,
 * named A, B, C…, each reaching it through its own TCP proxy, so a fault can hit one node's link or,
 * all proxies together, the database as every node sees it.
 */
export async function startCluster(databaseUrl: string, options: { count: number; env?: Record<string, string> }) {
  const direct = new URL(databaseUrl);
  const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-cluster-'));
  const nodes = await Promise.all(
    Array.from({ length: options.count }, async (_, index): Promise<ClusterNode> => {
      const name = String.fromCharCode(65 + index);
      const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
      const viaProxy = new URL(direct);
      viaProxy.port = String(proxy.port);
      const server = await startServer({ ...CLUSTER_ENV, ...options.env, DATABASE_URL: viaProxy.toString(), AUTH_DATA_DIR: join(dataDir, name) });
      const node: ClusterNode = {
        name,
        url: server.url,
        pid: server.process.pid ?? 0,
        proxy,
        server,
        killed: false,
        async kill() {
          node.killed = true;
          const exited = new Promise((resolve) => server.process.once('exit', resolve));
          server.process.kill('SIGKILL');
          await exited;
        },
      };
      return node;
    }),
  );
  return {
    nodes,
    /** The database as the nodes see it goes down: every connection cut, new ones refused. */
    async refuseAll(): Promise<void> {
      await Promise.all(nodes.map((node) => node.proxy.refuse()));
    },
    async acceptAll(): Promise<void> {
      await Promise.all(nodes.map((node) => node.proxy.accept()));
    },
    async close(): Promise<void> {
      // A killed node has nothing left to stop (and would never say it exited again).
      await Promise.all(nodes.filter((node) => !node.killed).map((node) => node.server.stop()));
      await Promise.all(nodes.map((node) => node.proxy.close()));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;
