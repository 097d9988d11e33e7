// Requests per second through tRPC's standalone server for the same trivial query three ways: public,
// behind `protectedProcedure`, and behind a middleware that does a plain Map lookup of the bearer
// token's hash (what any check costs at least: tRPC's own middleware step). Run in rounds, the
// order turning each round, after a warm-up run of each.
import { hash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import autocannon from 'autocannon';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createAuth } from '../server/index.js';
import { bearerTokenOf } from '../server/middleware/bearer.js';
import { roundRobin } from './interleaved.js';

export interface ThroughputFigures {
  publicRps: number;
  protectedRps: number;
  mapLookupRps: number;
  /** Medians of the per-round ratios. */
  protectedToPublic: number;
  protectedToMapLookup: number;
}

export async function protectedThroughput(options: { rounds: number; secondsPerRun: number }): Promise<ThroughputFigures> {
  const db = await connectDatabase();
  await migrate(db);
  const transport = { sendMail: () => Promise.resolve({}) };
  const quiet = { info() {}, warn() {}, error() {} };
  const auth = await createAuth({ db, mail: { transport, from: 'bench@example.test', appUrl: 'http://localhost' }, signup: { emailConfirmation: 'off' }, logger: quiet });
  const known = new Map<string, { userId: string; sessionId: string; expiresAtMs: number }>();
  const mapLookup = auth.publicProcedure.use(function mapLookup({ ctx, next }) {
    const token = bearerTokenOf(ctx.authRequest.authorization);
    const found = token === null ? undefined : known.get(hash('sha256', token, 'base64url'));
    if (found === undefined || found.expiresAtMs <= Date.now()) throw new TRPCError({ code: 'UNAUTHORIZED' });
    return next({ ctx: { user: { id: found.userId }, session: { id: found.sessionId } } });
  });
  const router = auth.router({
    auth: auth.authRouter,
    ping: auth.publicProcedure.query(() => ({ ok: true, userId: 'nobody' })),
    whoami: auth.protectedProcedure.query(({ ctx }) => ({ ok: true, userId: ctx.user.id })),
    mapWhoami: mapLookup.query(({ ctx }) => ({ ok: true, userId: ctx.user.id })),
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
  const { accessToken } = result.data.json.tokens;
  known.set(hash('sha256', accessToken, 'base64url'), { userId: 'bench-user', sessionId: 'bench-session', expiresAtMs: Date.now() + 3_600_000 });
  const headers = { authorization: `Bearer ${accessToken}` };
  const run = (path: string) => async () => {
    const figures = await autocannon({ url: `${url}/${path}`, connections: 10, duration: options.secondsPerRun, headers });
    if (figures.non2xx > 0) throw new Error(`${path} answered ${figures.non2xx} requests with an error`);
    return figures.requests.average;
  };
  const rounds = await roundRobin({ public: run('ping'), protected: run('whoami'), mapLookup: run('mapWhoami') }, options.rounds);
  server.close();
  await auth.close();
  await closeDatabase(db);
  return {
    publicRps: rounds.medians.public,
    protectedRps: rounds.medians.protected,
    mapLookupRps: rounds.medians.mapLookup,
    protectedToPublic: rounds.ratio('protected', 'public'),
    protectedToMapLookup: rounds.ratio('protected', 'mapLookup'),
  };
}
