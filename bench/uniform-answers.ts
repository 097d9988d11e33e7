import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * Whether timing tells a known address from an unknown one, measured as an attacker would: against
 * the reference server (PGlite, dev outbox) in a process of its own, over HTTP. Two figures:
 *   - the answer itself (its median, known against unknown);
 *   - a probe sent the moment the answer arrived (`auth.settings`, the cheapest call there is): on
 *     PGlite the server's queries run on its one thread, so whatever it does for a known address
 *     after answering makes the probe wait.
 * Known and unknown requests come in pairs, in a random order per pair, so drifting noise hits both
 * alike. Each request comes from a loopback address of its own, as an attacker spreads requests over
 * addresses to stay under the per-client mail allowance; each address holds one kept-alive connection
 * that its request opens and its probe reuses.
 */

/** The procedures that mail a link to the account an address names, probed here. */
export const PROBED_PROCEDURES = ['auth.forgotPassword', 'auth.magicLink.request', 'auth.resendConfirmation'] as const;
export type ProbedProcedure = (typeof PROBED_PROCEDURES)[number];

export interface ProbeFigures {
  knownMedianMs: number;
  knownP90Ms: number;
  unknownMedianMs: number;
  unknownP90Ms: number;
  /** Known median over unknown median. */
  ratio: number;
  /** The share of pairs in which the known address's probe took longer (0.5: no telling them apart). */
  knownSlowerShare: number;
  /** The answer's own median, known and unknown. */
  answerKnownMs: number;
  answerUnknownMs: number;
}

export interface UniformAnswerFigures {
  pairs: number;
  probes: Record<ProbedProcedure, ProbeFigures>;
  loginKnownMs: number;
  loginUnknownMs: number;
}

const PASSWORD = 'correct horse battery staple';
/** Pairs run before counting, so both paths are compiled and warm. */
const WARM_PAIRS = 10;

/** The reference server in a process of its own, with its data in a directory that goes with it. */
async function startReferenceServer(): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-bench-'));
  const server = spawn(process.execPath, ['--import', 'tsx', 'reference-server/main.ts'], {
    // Confirmation required: a fresh account is unconfirmed, so resendConfirmation mails it.
    env: { ...process.env, PORT: '0', AUTH_DATA_DIR: dataDir, AUTH_EMAIL_CONFIRMATION: 'required' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<URL>((resolve, reject) => {
    let output = '';
    const listening = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      server.stdout.off('data', listening);
      resolve(new URL(match[1] as string));
    };
    server.stdout.on('data', listening);
    server.once('exit', (code) => reject(new Error(`the reference server exited with ${code}`)));
  });
  // The outbox prints every mail; read and forget it, so the pipe never fills.
  server.stdout.resume();
  return {
    host: address.hostname,
    port: Number(address.port),
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The `n`th loopback client address (127.0.0.0/8 is all loopback on Linux). */
function clientAddress(n: number): string {
  return `127.${1 + Math.floor(n / 62_500)}.${1 + (Math.floor(n / 250) % 250)}.${1 + (n % 250)}`;
}

/** A client at one loopback address: one connection, kept alive between its calls. */
function clientAt(server: { host: string; port: number }, localAddress: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method: 'GET' | 'POST', path: string, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const start = process.hrtime.bigint();
      const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = request({ host: server.host, port: server.port, localAddress, agent, method, path: `/trpc/${path}`, headers }, (res) => {
        res.resume();
        res.once('end', () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  return {
    /** Milliseconds until the whole answer arrived. */
    post: (path: string, input: unknown) => send('POST', path, JSON.stringify({ json: input })),
    probe: () => send('GET', 'auth.settings'),
    close: () => agent.destroy(),
  };
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const quantile = (values: number[], q: number) => sorted(values)[Math.min(values.length - 1, Math.floor(values.length * q))] as number;
/** Long enough for what a request left to do after answering (its mail included) to be done. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 60));

/**
 * Runs the measurement with `pairs` counted pairs per procedure (and a quarter as many failed
 * sign-ins); at least 100 pairs make the share of pairs meaningful to a few percent.
 */
export async function uniformAnswerTimes(pairs: number): Promise<UniformAnswerFigures> {
  const server = await startReferenceServer();
  let clients = 0;
  const nextClient = () => clientAt(server, clientAddress(clients++));
  const total = WARM_PAIRS + pairs;

  // One account per pair, shared by the three procedures: three mails stay under the per-address cap.
  const known = Array.from({ length: total }, (_, pair) => `known-${pair}@example.test`);
  const unknown = Array.from({ length: total }, (_, pair) => `nobody-${pair}@example.test`);
  for (let first = 0; first < total; first += 4) {
    await Promise.all(
      known.slice(first, first + 4).map(async (email) => {
        const client = nextClient();
        await client.post('auth.register', { email, password: PASSWORD });
        client.close();
      }),
    );
  }
  await settle();

  /** One request and the probe right after it, from a client of its own. */
  const requestThenProbe = async (path: string, input: unknown) => {
    const client = nextClient();
    const answerMs = await client.post(path, input);
    const probeMs = await client.probe();
    client.close();
    await settle();
    return { answerMs, probeMs };
  };

  const probes = {} as Record<ProbedProcedure, ProbeFigures>;
  for (const procedure of PROBED_PROCEDURES) {
    const samples = { knownProbe: [] as number[], unknownProbe: [] as number[], knownAnswer: [] as number[], unknownAnswer: [] as number[] };
    let knownSlower = 0;
    for (let pair = 0; pair < total; pair++) {
      const knownFirst = Math.random() < 0.5;
      const order = knownFirst ? [known[pair], unknown[pair]] : [unknown[pair], known[pair]];
      const first = await requestThenProbe(procedure, { email: order[0] });
      const second = await requestThenProbe(procedure, { email: order[1] });
      if (pair < WARM_PAIRS) continue;
      const [ofKnown, ofUnknown] = knownFirst ? [first, second] : [second, first];
      samples.knownProbe.push(ofKnown.probeMs);
      samples.unknownProbe.push(ofUnknown.probeMs);
      samples.knownAnswer.push(ofKnown.answerMs);
      samples.unknownAnswer.push(ofUnknown.answerMs);
      if (ofKnown.probeMs > ofUnknown.probeMs) knownSlower++;
    }
    const knownMedianMs = quantile(samples.knownProbe, 0.5);
    const unknownMedianMs = quantile(samples.unknownProbe, 0.5);
    probes[procedure] = {
      knownMedianMs,
      knownP90Ms: quantile(samples.knownProbe, 0.9),
      unknownMedianMs,
      unknownP90Ms: quantile(samples.unknownProbe, 0.9),
      ratio: knownMedianMs / unknownMedianMs,
      knownSlowerShare: knownSlower / pairs,
      answerKnownMs: quantile(samples.knownAnswer, 0.5),
      answerUnknownMs: quantile(samples.unknownAnswer, 0.5),
    };
  }

  const login = { known: [] as number[], unknown: [] as number[] };
  for (let pair = 0; pair < Math.ceil(pairs / 4); pair++) {
    const wrong = { password: `wrong password ${pair}` };
    login.known.push((await requestThenProbe('auth.login', { identifier: known[pair], ...wrong })).answerMs);
    login.unknown.push((await requestThenProbe('auth.login', { identifier: unknown[pair], ...wrong })).answerMs);
  }

  await server.stop();
  return { pairs, probes, loginKnownMs: quantile(login.known, 0.5), loginUnknownMs: quantile(login.unknown, 0.5) };
}
