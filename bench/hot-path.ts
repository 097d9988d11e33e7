// The token check at the limit (issue 15): a cache hit against a SHA-256 plus a Map lookup done the
// same way, at 1 k, 100 k and 1 M live tokens; a `pat_` hit against an `at_` one; and the full GC
// pause the cache itself causes. Every lookup goes in random order over the whole live set, with the
// token string as a request brings it (a slice of its header), after a warm-up, A and B interleaved.
import { hash, randomUUID } from 'node:crypto';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import type { AuthDatabase } from '../db/connect.js';
import { createBackgroundTasks } from '../server/background.js';
import { ScopeSets } from '../server/cache/scope-sets.js';
import { startTokenCache } from '../server/cache/token-cache.js';
import type { TokenCache } from '../server/cache/token-cache.js';
import { consoleLogger, systemClock, systemRandom } from '../server/deps.js';
import { createRateLimiter } from '../server/limits/rate-limits.js';
import { bearerTokenOf } from '../server/middleware/bearer.js';
import { createAccessTokens } from '../server/tokens/access-tokens.js';
import { createApiTokens } from '../server/tokens/api-tokens.js';
import type { BackgroundTasks } from '../server/background.js';
import { generateTokenParts } from '../server/tokens/secrets.js';
import { createTokenCheck } from '../server/tokens/token-check.js';
import type { TokenCheck } from '../server/tokens/token-check.js';
import { createTokenFailures } from '../server/tokens/token-failures.js';
import { formatToken } from '../shared/token-format.js';
import type { TokenKind } from '../shared/token-format.js';
import { compareInterleaved, roundRobin, timeAsyncBatch, timeBatch } from './interleaved.js';
import type { Comparison } from './interleaved.js';
import { medianNanoseconds } from './measure.js';

const CLIENT_IP = '198.51.100.7';

export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the bench with node --expose-gc (npm run bench does)');
  gc();
}

/**
 * The token as a request brings it: sliced by the bearer parser out of a header string the HTTP
 * parser made, not the string the bench built by concatenation (which V8 keeps as a rope).
 */
function asRequestBringsIt(token: string): string {
  const header = Buffer.from(`Bearer ${token}`, 'latin1').toString('latin1');
  const sliced = bearerTokenOf(header);
  if (sliced === null) throw new Error('the bench built an unreadable header');
  return sliced;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** One call after another over `items`, in their (shuffled) order, wrapping round. */
function cycling<T>(items: readonly T[], run: (item: T) => void): () => void {
  let next = 0;
  return () => {
    run(items[next] as T);
    next = next + 1 === items.length ? 0 : next + 1;
  };
}

interface CheckRig {
  db: AuthDatabase;
  cache: TokenCache;
  scopeSets: ScopeSets;
  background: BackgroundTasks;
  check: TokenCheck;
  close(): Promise<void>;
}

/** The check behind `protectedProcedure`, built as createAuth builds it, on a cache of `capacity`. */
async function checkRig(capacity: number): Promise<CheckRig> {
  const db = await connectDatabase();
  await migrate(db);
  const cache = await startTokenCache({ capacity, listener: null, startTimeoutMs: 10_000, logger: consoleLogger, now: () => Date.now() });
  const scopeSets = new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => Date.now() });
  const background = createBackgroundTasks({ logger: consoleLogger, random: systemRandom, spreadMs: 0 });
  const accessTokens = createAccessTokens({ db, cache, clock: systemClock, random: systemRandom, ttlSeconds: 300 });
  const apiTokens = createApiTokens({ db, cache, scopeSets, clock: systemClock, random: systemRandom, background, defaultExpiresInDays: 365, maxPerUser: 100 });
  const failures = createTokenFailures({ limiter: createRateLimiter({ db, clock: systemClock }), limit: { max: 100, windowSeconds: 900 }, now: () => Date.now(), logger: consoleLogger });
  const check = createTokenCheck({ cache, accessTokens, apiTokens, failures, clock: systemClock });
  return {
    db,
    cache,
    scopeSets,
    background,
    check,
    async close() {
      await background.drain();
      await cache.close();
      await closeDatabase(db);
    },
  };
}

interface LiveToken {
  token: string;
  tokenHash: string;
  userId: string;
  sessionId: string;
  expiresAtMs: number;
}

/** Fills the cache with `count` tokens of `kind`; resolves once every fill has landed. */
async function fillCache(cache: TokenCache, tokens: { kind: TokenKind; count: number; scopeSet: number }): Promise<LiveToken[]> {
  const { kind, count, scopeSet } = tokens;
  const made: LiveToken[] = [];
  for (let i = 0; i < count; i++) {
    const token = formatToken(kind, generateTokenParts(systemRandom));
    const live = { token, tokenHash: hash('sha256', token, 'base64url'), userId: randomUUID(), sessionId: randomUUID(), expiresAtMs: Date.now() + 3_600_000 };
    cache.fill({ tokenHash: live.tokenHash, userId: live.userId, sessionId: live.sessionId, expiresAtMs: live.expiresAtMs, scopeSet }, cache.revocations);
    made.push(live);
  }
  // The worker answers in order: once it has listed its scope sets, every fill sent before has
  // landed (or was evicted, which waiting for the last fill's entry would wait for in vain).
  await cache.scopeSetsInUse();
  return made;
}

/** The tokens the cache still holds, in random order, each as a request brings it. */
function liveIn(cache: TokenCache, made: LiveToken[]): LiveToken[] {
  return shuffle(made.filter((live) => cache.get(live.tokenHash) !== undefined).map((live) => ({ ...live, token: asRequestBringsIt(live.token) })));
}

function expectHit(result: ReturnType<TokenCheck>): void {
  if (result instanceof Promise || !result.ok) throw new Error(`expected a cache hit, got ${result instanceof Promise ? 'a database lookup' : result.code}`);
}

/** What the check costs at one size. */
export interface HitAtSize {
  liveTokens: number;
  /** The check against SHA-256 + Map.get + expiry check over the same tokens, interleaved. */
  comparison: Comparison;
  /** As the bench measured before issue 15: 1 000 sampled tokens cycled in order, no interleaving. */
  sampledNs: number;
  /** Median full GC pause with this many tokens cached and the bench's own data gone. */
  gcPauseMs: number;
}

function medianGcPauseMs(times: number): number {
  // The first collection clears what the measuring left behind; the rest are the steady state.
  collectGarbage();
  const pauses: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    collectGarbage();
    pauses.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  pauses.sort((x, y) => x - y);
  return pauses[times >> 1] as number;
}

async function measureAt(rig: CheckRig, liveTokens: number): Promise<Omit<HitAtSize, 'gcPauseMs'>> {
  const live = liveIn(rig.cache, await fillCache(rig.cache, { kind: 'access', count: liveTokens, scopeSet: 0 }));
  const sample = live.filter((_, i) => i % Math.max(1, Math.floor(live.length / 1000)) === 0).map(({ token }) => token);
  const sampledNs = await medianNanoseconds(cycling(sample, (token) => expectHit(rig.check(token, CLIENT_IP))));
  // The baseline keeps what the table keeps, as a Map of objects keyed by the token's hash.
  const map = new Map<string, { userId: string; sessionId: string; expiresAtMs: number }>();
  for (const { tokenHash, userId, sessionId, expiresAtMs } of shuffle([...live])) map.set(tokenHash, { userId, sessionId, expiresAtMs });
  const tokens = live.map(({ token }) => token);
  const comparison = compareInterleaved(
    cycling(tokens, (token) => expectHit(rig.check(token, CLIENT_IP))),
    cycling(tokens, (token) => {
      const found = map.get(hash('sha256', token, 'base64url'));
      if (found === undefined || found.expiresAtMs <= Date.now()) throw new Error('expected a Map hit');
    }),
  );
  return { liveTokens: live.length, comparison, sampledNs };
}

/** The cache-hit check at each size, each on a cache of its own sized for it. */
export async function cacheHitAtSizes(sizes: readonly number[]): Promise<HitAtSize[]> {
  const rows: HitAtSize[] = [];
  for (const size of sizes) {
    const rig = await checkRig(size);
    const measured = await measureAt(rig, size);
    // Everything the bench made for this size is unreachable now: what is left is the cache's.
    rows.push({ ...measured, gcPauseMs: medianGcPauseMs(5) });
    await rig.close();
  }
  return rows;
}

/** A `pat_` hit against an `at_` hit, `perKind` of each cached, interleaved over the whole live set. */
export async function apiTokenAgainstAccessToken(perKind: number): Promise<Comparison> {
  const rig = await checkRig(perKind * 2);
  const scopeSet = rig.scopeSets.intern(['todos:read', 'todos:write']) ?? 0;
  const madeAccess = await fillCache(rig.cache, { kind: 'access', count: perKind, scopeSet: 0 });
  const madeApi = await fillCache(rig.cache, { kind: 'apiToken', count: perKind, scopeSet });
  const access = liveIn(rig.cache, madeAccess).map(({ token }) => token);
  const api = liveIn(rig.cache, madeApi).map(({ token }) => token);
  const hit = (token: string) => expectHit(rig.check(token, CLIENT_IP));
  const comparison = compareInterleaved(cycling(api, hit), cycling(access, hit));
  await rig.close();
  return comparison;
}

/**
 * How many times slower than a cache hit at `liveTokens` each of the `slower` operations is, in
 * rounds that take a batch of each in turn (so that the load of a shared machine falls on all).
 */
export async function hitAgainstSlower(liveTokens: number, slower: Record<string, () => Promise<unknown>>): Promise<Record<string, number>> {
  const rig = await checkRig(liveTokens);
  const tokens = liveIn(rig.cache, await fillCache(rig.cache, { kind: 'access', count: liveTokens, scopeSet: 0 })).map(({ token }) => token);
  const hit = cycling(tokens, (token) => expectHit(rig.check(token, CLIENT_IP)));
  timeBatch(hit, 50_000);
  const runs: Record<string, () => Promise<number>> = { hit: () => Promise.resolve(timeBatch(hit, 20_000)) };
  for (const [name, run] of Object.entries(slower)) runs[name] = () => timeAsyncBatch(run, 200);
  const rounds = await roundRobin(runs, 7);
  await rig.close();
  return Object.fromEntries(Object.keys(slower).map((name) => [name, rounds.ratio(name, 'hit')]));
}
