// A refresh as 100 clients at once see it, over HTTP on PostgreSQL, against the floor any rotation
// pays: a bare transaction that locks a row, compares a hash and writes its successor, run by as many
// clients through a pool as large as the kit's. Rounds alternate the runs; p99 latencies compared.
//
// A refresh also writes the access token it answers with, which the bare rotation does not: the
// same transaction with that insert added is measured beside it (not the goal's baseline, which
// stays the bare rotation), and so is how many statements one refresh sends.
//
// The HTTP clients run in a worker thread of their own. In the server's thread their requests and
// the parsing of the answers cost about half a millisecond a refresh (undici's fetch), which a server
// never pays for its clients, and which at 100 clients in flight is queueing every request waits
// through. The bare rotation has no such client: its pool is the server's own work.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import pg from 'pg';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createBenchAuth } from './bench-auth.js';
import { roundRobin } from './interleaved.js';

const PASSWORD = 'correct horse battery staple';
/** node-postgres's default pool size, which the kit's pool keeps. */
const POOL_SIZE = 10;

export interface RefreshFigures {
  refreshP99Ms: number;
  rotationP99Ms: number;
  rotationWithInsertP99Ms: number;
  /** Median of the per-round ratios of the p99s. */
  refreshToRotation: number;
  refreshToRotationWithInsert: number;
  /** Statements one refresh of a current token sends; the bare rotation sends 4 (BEGIN … COMMIT). */
  statementsPerRefresh: number;
  /** This process's CPU time a refresh (the server's thread, the clients' worker, the cache worker), median of the runs. */
  cpuMsPerRefresh: number;
}

function p99(latencies: ArrayLike<number>): number {
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number;
}

/** Each of `clients` loops `once(client)` for `seconds`; the p99 of all their latencies, in ms. */
async function p99Of(once: (client: number) => Promise<void>, options: { clients: number; seconds: number }): Promise<number> {
  const latencies: number[] = [];
  const endAt = Date.now() + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      while (Date.now() < endAt) {
        const start = process.hrtime.bigint();
        await once(client);
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }),
  );
  return p99(latencies);
}

/**
 * The refreshing clients, in a worker: each holds its refresh token and trades it in, over and over,
 * for as long as a run lasts; the worker answers each run with every latency, in ms.
 */
const CLIENTS_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { base, tokens } = workerData;
async function refresh(client) {
  const response = await fetch(base + '/auth.refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: { refreshToken: tokens[client] } }) });
  if (!response.ok) throw new Error('auth.refresh answered ' + response.status + ': ' + (await response.text()));
  tokens[client] = (await response.json()).result.data.json.tokens.refreshToken;
}
parentPort.on('message', async ({ seconds }) => {
  const latencies = [];
  const endAt = Date.now() + seconds * 1000;
  try {
    await Promise.all(tokens.map(async (_, client) => {
      while (Date.now() < endAt) {
        const start = performance.now();
        await refresh(client);
        latencies.push(performance.now() - start);
      }
    }));
    parentPort.postMessage({ latencies });
  } catch (error) {
    parentPort.postMessage({ error: String(error) });
  }
});
`;

/** Starts the clients' worker; `run(seconds)` resolves with one run's latencies. */
function refreshingClients(base: string, tokens: string[]): { run: (seconds: number) => Promise<number[]>; stop: () => Promise<number> } {
  const worker = new Worker(CLIENTS_WORKER, { eval: true, workerData: { base, tokens } });
  return {
    run: (seconds) =>
      new Promise((resolve, reject) => {
        worker.once('message', (answer: { latencies: number[] } | { error: string }) => ('error' in answer ? reject(new Error(answer.error)) : resolve(answer.latencies)));
        worker.once('error', reject);
        worker.postMessage({ seconds });
      }),
    stop: () => worker.terminate(),
  };
}

/** How many statements `run` sends through `pg` clients of this thread. */
async function statementsOf(run: () => Promise<unknown>): Promise<number> {
  const prototype = pg.Client.prototype as { query: (...args: unknown[]) => unknown };
  const { query } = prototype;
  let statements = 0;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    statements++;
    return query.apply(this, args);
  };
  try {
    await run();
  } finally {
    prototype.query = query;
  }
  return statements;
}

export async function refreshAgainstRotation(url: string, options: { clients: number; seconds: number; rounds: number }): Promise<RefreshFigures> {
  const db = await connectDatabase(url);
  await migrate(db);
  const auth = await createBenchAuth(db);
  const server = createHTTPServer({ router: auth.router({ auth: auth.authRouter }), createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (path: string, input: unknown) => {
    const response = await fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: input }) });
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { result: { data: { json: { tokens: { refreshToken: string } } } } }).result.data.json.tokens.refreshToken;
  };
  const refreshTokens: string[] = [];
  for (let i = 0; i <= options.clients; i++) refreshTokens.push(await post('auth.register', { email: `bench-refresh-${i}@example.test`, password: PASSWORD }));
  // One account more than there are clients, refreshed here to count its statements.
  let counted = refreshTokens.pop() as string;
  const statementsPerRefresh = await statementsOf(async () => (counted = await post('auth.refresh', { refreshToken: counted })));
  const clients = refreshingClients(base, refreshTokens);

  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
  await pool.query('CREATE TABLE bench_rotation (id int PRIMARY KEY, verifier_hash text NOT NULL, generation int NOT NULL)');
  await pool.query('CREATE TABLE bench_access (selector text PRIMARY KEY, rotation_id int NOT NULL REFERENCES bench_rotation, verifier_hash text NOT NULL, expires_at timestamptz NOT NULL)');
  await pool.query('CREATE INDEX ON bench_access (rotation_id)');
  const verifiers = Array.from({ length: options.clients }, () => randomBytes(32).toString('base64url'));
  for (const [id, verifier] of verifiers.entries()) await pool.query('INSERT INTO bench_rotation VALUES ($1, $2, 0)', [id, digest(verifier)]);
  const rotate = (withInsert: boolean) => async (client: number) => {
    const connection = await pool.connect();
    try {
      await connection.query('BEGIN');
      const { rows } = await connection.query<{ verifier_hash: string }>('SELECT verifier_hash FROM bench_rotation WHERE id = $1 FOR UPDATE', [client]);
      if (rows[0]?.verifier_hash !== digest(verifiers[client] as string)) throw new Error('the bare rotation lost its verifier');
      const successor = randomBytes(32).toString('base64url');
      await connection.query('UPDATE bench_rotation SET verifier_hash = $2, generation = generation + 1 WHERE id = $1', [client, digest(successor)]);
      if (withInsert) {
        const access = [randomBytes(16).toString('base64url'), client, digest(randomBytes(32).toString('base64url'))];
        await connection.query(`INSERT INTO bench_access VALUES ($1, $2, $3, now() + interval '5 minutes')`, access);
      }
      await connection.query('COMMIT');
      verifiers[client] = successor;
    } finally {
      connection.release();
    }
  };

  const cpuMsPerRefresh: number[] = [];
  const refreshRun = async () => {
    const before = process.cpuUsage();
    const latencies = await clients.run(options.seconds);
    const cpu = process.cpuUsage(before);
    cpuMsPerRefresh.push((cpu.user + cpu.system) / 1000 / latencies.length);
    return p99(latencies);
  };
  const run = { clients: options.clients, seconds: options.seconds };
  const rounds = await roundRobin(
    { refresh: refreshRun, rotation: () => p99Of(rotate(false), run), rotationWithInsert: () => p99Of(rotate(true), run) },
    options.rounds,
  );
  await clients.stop();
  await pool.end();
  server.close();
  await auth.close();
  await closeDatabase(db);
  return {
    refreshP99Ms: rounds.medians.refresh,
    rotationP99Ms: rounds.medians.rotation,
    rotationWithInsertP99Ms: rounds.medians.rotationWithInsert,
    refreshToRotation: rounds.ratio('refresh', 'rotation'),
    refreshToRotationWithInsert: rounds.ratio('refresh', 'rotationWithInsert'),
    statementsPerRefresh,
    cpuMsPerRefresh: cpuMsPerRefresh.sort((a, b) => a - b)[cpuMsPerRefresh.length >> 1] as number,
  };
}
