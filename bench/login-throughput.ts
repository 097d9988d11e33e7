// Logins a second over HTTP against raw argon2id verifies a second, at the same parameters and the
// same concurrency (the kit's own bound on concurrent hashes), in rounds that alternate the two; and
// the event loop's p99 delay while the logins run (what every other request waits meanwhile).
// The logins come from twice as many clients, each its own address, as hashes may run: the bulkhead
// lets one client run at most half of them, and a client's hash slot idles while its login reads
// and writes the database, so fewer clients would measure the bench's own bottleneck.
//
// The goal's figure is measured on PostgreSQL (the bench's embedded server), as a deployment that
// signs many users in runs: PGlite executes every statement on the server's own thread, so there
// the event loop waits through each query (its p99 is PGlite's, not the kit's) and the database's
// work competes with the hashing threads inside the process. Its figure is printed beside.
import { readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type { AuthDatabase } from '../db/index.js';
import { countQueries } from '../test/harness/query-counter.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createPasswordHasher } from '../server/passwords/passwords.js';
import { createBenchAuth } from './bench-auth.js';
import { roundRobin } from './interleaved.js';

const PASSWORD = 'correct horse battery staple';
/** The kit's default on two cores: one hash a core, two of libuv's four threads left free. */
const CONCURRENCY = 2;
const ARGON2 = { memoryCost: 19_456, timeCost: 2 };
const CLIENT_HEADER = 'x-bench-client';

export interface LoginFigures {
  concurrency: number;
  loginsPerSecond: number;
  verifiesPerSecond: number;
  /** Median of the per-round ratios. */
  loginToVerify: number;
  /** The worst of the rounds' event-loop p99 delays while logins ran. */
  eventLoopP99Ms: number;
  /**
   * What a login costs, which the machine's load does not bend: this process's CPU (the server, the
   * bench's HTTP client and the hashing threads) per login and per raw verify, the database server's
   * CPU per login (PostgreSQL only), and the statements a login sends.
   */
  cost: { cpuMsPerLogin: number; cpuMsPerVerify: number; databaseCpuMsPerLogin: number | null; statementsPerLogin: number };
}

/** Clock ticks a second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU milliseconds so far of every process the PostgreSQL server behind `db` forked (its backends, its workers). */
async function databaseCpuMs(db: AuthDatabase): Promise<number> {
  const answer = await db.execute(sql`SELECT pg_backend_pid() AS pid`);
  const backend = (answer as { rows: Array<{ pid: number }> }).rows[0]?.pid;
  // Fields after the command's closing parenthesis: state, ppid, … utime (14th of the line), stime (15th).
  const statOf = async (pid: string) => (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ') ?? [];
  const postmaster = (await statOf(String(backend)))[1];
  let ticks = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const fields = await statOf(pid);
    if (fields[1] === postmaster || pid === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks / CLOCK_TICKS) * 1000;
}

/** This process's CPU milliseconds (every thread: the hashing threads too) while `work` runs. */
async function cpuMsOf(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Runs `concurrency` loops of `once` (given the loop's number) for `seconds`; how many finished a second. */
async function perSecond(once: (loop: number) => Promise<void>, options: { concurrency: number; seconds: number }): Promise<number> {
  const endAt = Date.now() + options.seconds * 1000;
  let done = 0;
  const loop = async (_: unknown, index: number) => {
    while (Date.now() < endAt) {
      await once(index);
      done++;
    }
  };
  const startedAt = Date.now();
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return done / ((Date.now() - startedAt) / 1000);
}

/** `url`: a PostgreSQL database, or PGlite in memory when omitted. */
export async function loginThroughput(options: { rounds: number; secondsPerRun: number; url?: string }): Promise<LoginFigures> {
  const db = await connectDatabase(options.url);
  await migrate(db);
  const auth = await createBenchAuth(db, {
    password: { ...ARGON2, maxConcurrentHashes: CONCURRENCY },
    clientIp: ({ req }) => (req instanceof Request ? req.headers.get(CLIENT_HEADER) : (req.headers[CLIENT_HEADER] as string | undefined)) ?? null,
  });
  const concurrency = CONCURRENCY;
  const router = auth.router({ auth: auth.authRouter });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (path: string, input: unknown, client = 0) => {
    const headers = { 'content-type': 'application/json', [CLIENT_HEADER]: `198.51.100.${client + 1}` };
    const response = await fetch(`${url}/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: input }) });
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  };
  const emails = Array.from({ length: concurrency * 4 }, (_, i) => `bench-login-${i}@example.test`);
  for (const email of emails) await post('auth.register', { email, password: PASSWORD });
  let nextEmail = 0;
  const login = (client: number) => post('auth.login', { identifier: emails[nextEmail++ % emails.length], password: PASSWORD }, client);

  const hasher = createPasswordHasher(ARGON2);
  const stored = await hasher.hash(PASSWORD);
  const verify = async () => {
    if (!(await hasher.verify(stored, PASSWORD))) throw new Error('argon2id refused the right password');
  };

  const delays: number[] = [];
  const run = { concurrency, seconds: options.secondsPerRun };
  const rounds = await roundRobin(
    {
      login: async () => {
        const delay = monitorEventLoopDelay({ resolution: 5 });
        delay.enable();
        const rate = await perSecond(login, { ...run, concurrency: concurrency * 2 });
        delay.disable();
        delays.push(delay.percentile(99) / 1e6);
        return rate;
      },
      verify: () => perSecond(verify, run),
    },
    options.rounds,
  );
  // The cost of a login, apart from the rounds: CALLS of each, as many at a time as in the rounds.
  const CALLS = 60;
  const times = async (once: (loop: number) => Promise<void>, concurrency: number) => {
    let left = CALLS;
    await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
      while (left-- > 0) await once(loop);
    }));
  };
  await auth.settled();
  const statements = countQueries(db);
  await login(0);
  await auth.settled();
  statements.stop();
  const databaseBefore = options.url ? await databaseCpuMs(db) : null;
  const cpuMsPerLogin = (await cpuMsOf(() => times(login, concurrency * 2))) / CALLS;
  await auth.settled();
  const databaseCpuMsPerLogin = databaseBefore === null ? null : ((await databaseCpuMs(db)) - databaseBefore) / CALLS;
  const cpuMsPerVerify = (await cpuMsOf(() => times(verify, concurrency))) / CALLS;
  server.close();
  await auth.close();
  await closeDatabase(db);
  return {
    cost: { cpuMsPerLogin, cpuMsPerVerify, databaseCpuMsPerLogin, statementsPerLogin: statements.queries },
    concurrency,
    loginsPerSecond: rounds.medians.login,
    verifiesPerSecond: rounds.medians.verify,
    loginToVerify: rounds.ratio('login', 'verify'),
    eventLoopP99Ms: Math.max(...delays.slice(1)),
  };
}
