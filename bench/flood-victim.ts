import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SELECTOR_LENGTH, VERIFIER_LENGTH, formatToken } from '../shared/token-format.js';

/** What one client of the server sees: HTTP status, the tRPC error's code and the time to the last byte. */
interface Answer {
  status: number;
  authCode: string | undefined;
  body: Record<string, unknown> | undefined;
  ms: number;
}

/** A client of the reference server on its own loopback address: the server counts clients by peer address. */
function clientAt(baseUrl: string, localAddress: string) {
  const agent = new Agent({ keepAlive: true });
  const send = (path: string, options: { input?: unknown; accessToken?: string }) =>
    new Promise<Answer>((resolve) => {
      const start = process.hrtime.bigint();
      const body = options.input === undefined ? undefined : JSON.stringify({ json: options.input });
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (options.accessToken) headers.authorization = `Bearer ${options.accessToken}`;
      const done = (status: number, text: string) => {
        let parsed: { result?: { data: { json: Record<string, unknown> } }; error?: { json: { data?: { authCode?: string } } } } = {};
        try {
          parsed = JSON.parse(text) as typeof parsed;
        } catch {
          // A refusal the server wrote itself (a 503 say) may carry no JSON: the status tells it.
        }
        resolve({ status, authCode: parsed.error?.json.data?.authCode, body: parsed.result?.data.json, ms: Number(process.hrtime.bigint() - start) / 1e6 });
      };
      const outgoing = request(
        `${baseUrl}/trpc/${path}`,
        { method: body === undefined ? 'GET' : 'POST', headers, agent, localAddress, timeout: 10_000 },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => done(response.statusCode ?? 0, text));
          response.on('error', () => done(0, ''));
        },
      );
      // A request the server never answers within the bound is a failure the victim sees.
      outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
      outgoing.on('error', () => done(0, ''));
      outgoing.end(body);
    });
  return {
    mutate: (path: string, input: unknown) => send(path, { input }),
    query: (path: string, accessToken: string) => send(path, { accessToken }),
    close: () => agent.destroy(),
  };
}

/** A token of the right shape and checksum that names no session: it passes the format check and needs a lookup. */
function madeUpAccessToken(): string {
  const base64url = (length: number) => randomBytes(length).toString('base64url').slice(0, length);
  return formatToken('access', { selector: base64url(SELECTOR_LENGTH), verifier: base64url(VERIFIER_LENGTH) });
}

/** One phase's figures as the victim saw them. */
export interface VictimFigures {
  loginSuccessShare: number;
  whoamiP50Ms: number;
  whoamiP99Ms: number;
  /** How many attacker requests the server answered while the victim's rounds were measured. */
  attackerRequests: number;
  /** The attackers' answers by tRPC error code (`ok` for a success, the HTTP status when there is no code). */
  attackerAnswers: Record<string, number>;
  /**
   * CPU time the server process spent during the phase (every thread: hashing too), in ms; NaN where
   * /proc cannot tell. Unlike latency it hardly depends on what else the machine runs.
   */
  serverCpuMs: number;
  /** `serverCpuMs` over the attacker requests answered meanwhile (the victim's own share included). */
  serverCpuMsPerAttackerRequest: number;
}

/** CPU time the process `pid` has used so far, in ms (user and system, every thread), from Linux's /proc. */
async function cpuMsOf(pid: number | undefined): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Linux's USER_HZ, which /proc counts in on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

const PASSWORD = 'correct horse battery staple';
/** Victim logins per phase: three phases stay under the 60 sessions one client may start per window. */
const LOGINS_PER_PHASE = 8;
const WHOAMI_PER_PHASE = 120;
const ATTACKER_ADDRESSES = ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
const CONNECTIONS_PER_ATTACKER = 2;

function percentile(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] as number;
}

/**
 * What a victim sees while others flood the server, as issue 10 asks: a confirmed account on
 * 127.0.0.2 signs in `LOGINS_PER_PHASE` times and calls `demo.whoami` `WHOAMI_PER_PHASE` times,
 * one request at a time, with nobody else (quiet), while four other addresses loop `auth.register`
 * for the victim's own address, and while they loop `demo.whoami` with made-up well-formed tokens.
 * Each phase is a fixed number of victim rounds, measured once every attacker is refused (the state a
 * flood stays in); the attackers run until the victim is done. The
 * server is the reference server in its own process, on `databaseUrl` or, without one, on PGlite.
 */
export async function victimUnderFlood(databaseUrl: string | undefined) {
  const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-bench-'));
  // BENCH_SERVER_NODE_ARGS: options for the server's Node (`--cpu-prof --cpu-prof-dir=…` to see where its time goes).
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const server = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'reference-server/main.ts'], {
    env: { ...process.env, PORT: '0', AUTH_DATA_DIR: dataDir, AUTH_EMAIL_CONFIRMATION: 'off', DATABASE_URL: databaseUrl ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The server logs every sign-in: kept, not printed, and shown only if it dies.
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  server.stderr.on('data', collect);
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (chunk: Buffer) => {
      collect(chunk);
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1] as string);
    });
    server.once('exit', (code) => reject(new Error(`the reference server exited with ${code}:\n${output}`)));
  });

  const email = `victim-${randomBytes(4).toString('hex')}@example.test`;
  const victim = clientAt(url, '127.0.0.2');
  const registered = await victim.mutate('auth.register', { email, password: PASSWORD });
  const accessToken = (registered.body?.tokens as { accessToken?: string } | undefined)?.accessToken;
  if (!accessToken) throw new Error(`the victim could not register: ${registered.status} ${registered.authCode}`);
  // Warm the server's paths the victim uses, so the quiet phase measures steady state.
  for (let call = 0; call < 50; call++) await victim.query('demo.whoami', accessToken);

  const victimRounds = async () => {
    const whoami: number[] = [];
    let loggedIn = 0;
    const loginEvery = Math.floor(WHOAMI_PER_PHASE / LOGINS_PER_PHASE);
    for (let round = 0; round < WHOAMI_PER_PHASE; round++) {
      if (round % loginEvery === 0) {
        const login = await victim.mutate('auth.login', { identifier: email, password: PASSWORD });
        if (login.status === 200) loggedIn++;
      }
      const answer = await victim.query('demo.whoami', accessToken);
      if (answer.status !== 200) throw new Error(`the victim's whoami failed: ${answer.status} ${answer.authCode}`);
      whoami.push(answer.ms);
    }
    whoami.sort((a, b) => a - b);
    return { loginSuccessShare: loggedIn / LOGINS_PER_PHASE, whoamiP50Ms: percentile(whoami, 0.5), whoamiP99Ms: percentile(whoami, 0.99) };
  };

  /** Runs the victim's rounds while every attacker connection loops `attack` until the victim is done. */
  const phase = async (attack: ((client: ReturnType<typeof clientAt>) => Promise<Answer>) | null): Promise<VictimFigures> => {
    const attackers = ATTACKER_ADDRESSES.map((address) => clientAt(url, address));
    let victimDone = false;
    let measuring = false;
    let attackerRequests = 0;
    const attackerAnswers: Record<string, number> = {};
    const refusedAttackers = new Set<ReturnType<typeof clientAt>>();
    const loops = attack
      ? attackers.flatMap((client) =>
          Array.from({ length: CONNECTIONS_PER_ATTACKER }, async () => {
            while (!victimDone) {
              const answer = await attack(client);
              if (answer.authCode === 'RATE_LIMITED') refusedAttackers.add(client);
              if (!measuring) continue;
              attackerRequests++;
              const kind = answer.status === 200 ? 'ok' : (answer.authCode ?? `HTTP ${answer.status}`);
              attackerAnswers[kind] = (attackerAnswers[kind] ?? 0) + 1;
            }
          }),
        )
      : [];
    // The flood is measured once it is what it stays for the rest of the window: every attacker has
    // spent its allowance (100 taken addresses or unknown tokens) and is being refused. Before that,
    // its few hundred allowed attempts are each a query, the same with or without a flood.
    if (attack) while (refusedAttackers.size < ATTACKER_ADDRESSES.length) await new Promise((resolve) => setImmediate(resolve));
    measuring = true;
    const cpuBefore = await cpuMsOf(server.pid);
    const figures = await victimRounds();
    const serverCpuMs = (await cpuMsOf(server.pid)) - cpuBefore;
    measuring = false;
    const answeredMeanwhile = attackerRequests;
    victimDone = true;
    await Promise.all(loops);
    for (const client of attackers) client.close();
    return { ...figures, attackerRequests, attackerAnswers, serverCpuMs, serverCpuMsPerAttackerRequest: serverCpuMs / answeredMeanwhile };
  };

  const mark = (name: string) => process.env.BENCH_MARK_PHASES && console.error(`PHASE ${name} ${process.hrtime.bigint() / 1000n}`);
  mark('quiet');
  const quiet = await phase(null);
  mark('register');
  const registerFlood = await phase((client) => client.mutate('auth.register', { email, password: `attacker ${randomBytes(8).toString('hex')} guess` }));
  mark('token');
  const tokenFlood = await phase((client) => client.query('demo.whoami', madeUpAccessToken()));
  mark('end');

  victim.close();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await rm(dataDir, { recursive: true, force: true });
  return { quiet, registerFlood, tokenFlood };
}
