// A refresh as 100 clients at once see it, over HTTP on PostgreSQL, against the floor any rotation
// pays: a bare transaction that locks a row, compares a hash and writes its successor, run by as many
// clients through a pool as large as the kit's. Rounds alternate the two; p99 latencies compared.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
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
  /** Median of the per-round ratios of the p99s. */
  refreshToRotation: number;
}

function p99(latencies: number[]): number {
  const sorted = [...latencies].sort((a, b) => a - b);
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
  for (let i = 0; i < options.clients; i++) refreshTokens.push(await post('auth.register', { email: `bench-refresh-${i}@example.test`, password: PASSWORD }));
  const refresh = async (client: number) => {
    refreshTokens[client] = await post('auth.refresh', { refreshToken: refreshTokens[client] });
  };

  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
  await pool.query('CREATE TABLE bench_rotation (id int PRIMARY KEY, verifier_hash text NOT NULL, generation int NOT NULL)');
  const verifiers = Array.from({ length: options.clients }, () => randomBytes(32).toString('base64url'));
  for (const [id, verifier] of verifiers.entries()) await pool.query('INSERT INTO bench_rotation VALUES ($1, $2, 0)', [id, digest(verifier)]);
  const rotate = async (client: number) => {
    const connection = await pool.connect();
    try {
      await connection.query('BEGIN');
      const { rows } = await connection.query<{ verifier_hash: string }>('SELECT verifier_hash FROM bench_rotation WHERE id = $1 FOR UPDATE', [client]);
      if (rows[0]?.verifier_hash !== digest(verifiers[client] as string)) throw new Error('the bare rotation lost its verifier');
      const successor = randomBytes(32).toString('base64url');
      await connection.query('UPDATE bench_rotation SET verifier_hash = $2, generation = generation + 1 WHERE id = $1', [client, digest(successor)]);
      await connection.query('COMMIT');
      verifiers[client] = successor;
    } finally {
      connection.release();
    }
  };

  const run = { clients: options.clients, seconds: options.seconds };
  const rounds = await roundRobin({ refresh: () => p99Of(refresh, run), rotation: () => p99Of(rotate, run) }, options.rounds);
  await pool.end();
  server.close();
  await auth.close();
  await closeDatabase(db);
  return { refreshP99Ms: rounds.medians.refresh, rotationP99Ms: rounds.medians.rotation, refreshToRotation: rounds.ratio('refresh', 'rotation') };
}
