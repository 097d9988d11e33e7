import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { formatToken } from '../shared/index.js';
import type { Auth } from '../server/index.js';
import { rawRequest } from './harness/raw-http.js';
import type { RawResponse } from './harness/raw-http.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';

/*
 * The refusal gate (server/middleware/refusal-gate.ts) as an attacker meets it: a client past its
 * limit is answered before tRPC runs, and nobody else is. Each app here is served twice on one kit:
 * behind the gate, and by tRPC alone, so that a gated answer can be held against the one tRPC gives
 * the same client; `contexts` counts the requests that reached tRPC. Clients are loopback addresses
 * (the kit's default rule: the connection's peer), and the limits are small so a flood is short.
 */

const LIMITS = { failuresPerIp: 5, tokenFailuresPerIp: 5, windowSeconds: 900 };

/** An app served behind the gate and without it, on the same kit. */
async function serve(app: TestApp) {
  const { auth } = app;
  const router = routerOf(auth);
  let contexts = 0;
  const trpc = createHTTPHandler({
    router,
    basePath: '/trpc/',
    createContext: (opts) => {
      contexts++;
      return auth.createContext(opts);
    },
  });
  const listen = async (server: Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const gated = await listen(createServer(auth.refusalGate({ router, basePath: '/trpc/' }).node(trpc)));
  const plain = await listen(createServer(trpc));
  return {
    gated: gated.url,
    plain: plain.url,
    contexts: () => contexts,
    async close() {
      for (const { server } of [gated, plain]) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function routerOf(auth: Auth) {
  return auth.router({
    auth: auth.authRouter,
    demo: auth.router({
      whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id })),
      open: auth.publicProcedure.query(() => 'open'),
    }),
  });
}

/** One call from `from`: a mutation when there is an input, a query otherwise. */
function send(url: string, call: { from: string; path: string; input?: unknown; bearer?: string; headers?: string[]; method?: string }): Promise<RawResponse> {
  const headers = [...(call.headers ?? []), ...(call.bearer ? [`Authorization: Bearer ${call.bearer}`] : [])];
  const body = call.input === undefined ? undefined : JSON.stringify(call.path.includes('?batch=') ? call.input : { json: call.input });
  return rawRequest(url, { path: `/trpc/${call.path}`, from: call.from, headers, body, method: call.method });
}

const authCodeOf = (response: RawResponse) => response.json<{ error?: { json: { data: { authCode: string } } } }>().error?.json.data.authCode ?? null;

/** What a client can read of an answer: all of it but the date (headers in any order). */
const visible = (response: RawResponse) => ({
  status: response.status,
  headers: response.headers.filter(([name]) => name !== 'date').sort(([a], [b]) => a.localeCompare(b)),
  body: response.body,
});

const madeUpToken = () => formatToken('access', { selector: randomBytes(12).toString('base64url'), verifier: randomBytes(32).toString('base64url') });

describeOnEachDatabase('the refusal gate', (kit) => {
  /** An app whose clients are their peer addresses, and a victim signed up on it from 127.0.0.2. */
  async function start() {
    const app = await kit().variant({ signup: { emailConfirmation: 'off' }, rateLimits: LIMITS });
    const served = await serve(app);
    const victimEmail = uniqueEmail('victim');
    const registered = await send(served.gated, { from: '127.0.0.2', path: 'auth.register', input: { email: victimEmail, password: PASSWORD } });
    assert.equal(registered.status, 200, registered.body);
    const victimToken = registered.json<{ result: { data: { json: { tokens: { accessToken: string } } } } }>().result.data.json.tokens.accessToken;
    return { app, served, victimEmail, victimToken };
  }

  /** Sends sign-ups for `email` from `from` until one is refused, and returns how many were sent. */
  async function exhaustFailedSignIns(url: string, from: string, email: string): Promise<number> {
    for (let sent = 1; sent <= 50; sent++) {
      const answer = await send(url, { from, path: 'auth.register', input: { email, password: `guess ${sent} of an attacker` } });
      if (answer.status === 429) return sent;
      assert.equal(authCodeOf(answer), 'EMAIL_TAKEN');
    }
    throw new Error('no refusal after 50 sign-ups for a taken address');
  }

  it('a client past its failed sign-ins gets tRPC\'s own 429 from the gate, and tRPC never runs for it', async () => {
    const { app, served, victimEmail } = await start();
    try {
      assert.equal(await exhaustFailedSignIns(served.gated, '127.0.0.3', victimEmail), LIMITS.failuresPerIp + 1);
      const refusalsBefore = app.auth.metrics().rateLimitRefusals['failures-ip'] ?? 0;
      const calls: Array<{ path: string; input: unknown }> = [
        { path: 'auth.register', input: { email: victimEmail, password: 'another guess of theirs' } },
        { path: 'auth.login', input: { identifier: victimEmail, password: 'another guess of theirs' } },
        { path: 'auth.register,auth.login?batch=1', input: { 0: { json: { email: victimEmail, password: 'a guess' } }, 1: { json: { identifier: victimEmail, password: 'a guess' } } } },
        // Not even a body that parses reaches tRPC.
        { path: 'auth.login', input: 'not an input at all' },
      ];
      for (const call of calls) {
        const before = served.contexts();
        const gated = await send(served.gated, { from: '127.0.0.3', ...call });
        assert.equal(served.contexts(), before, `${call.path} reached tRPC`);
        assert.equal(gated.status, 429);
        assert.equal(authCodeOf(gated) ?? gated.json<Array<{ error: { json: { data: { authCode: string } } } }>>()[0]?.error.json.data.authCode, 'RATE_LIMITED');
        if (call.input !== 'not an input at all') assert.deepEqual(visible(gated), visible(await send(served.plain, { from: '127.0.0.3', ...call })), call.path);
      }
      // A streamed batch (httpBatchStreamLink) has an answer of its own shape: tRPC writes it.
      const streamed = served.contexts();
      await send(served.gated, { from: '127.0.0.3', path: 'auth.register,auth.login?batch=1', input: calls[2]?.input, headers: ['trpc-accept: application/jsonl'] });
      assert.equal(served.contexts(), streamed + 1);
      const again = await send(served.gated, { from: '127.0.0.3', path: 'auth.register', input: { email: victimEmail, password: 'and another' } });
      assert.ok(Number(again.header('retry-after')[0]) > 0);
      // Counted where tRPC counts its refusals, so the operators' figures still show the flood, and each
      // once: 5 calls at the gate and 4 of them again at tRPC alone, the streamed batch's 2 (tRPC's, not
      // the gate's as well), the last one.
      assert.equal((app.auth.metrics().rateLimitRefusals['failures-ip'] ?? 0) - refusalsBefore, 5 + 4 + 2 + 1);
    } finally {
      await served.close();
    }
  });

  it('the refusal says nothing of the address: a taken one and a free one get the same bytes', async () => {
    const { served, victimEmail } = await start();
    try {
      await exhaustFailedSignIns(served.gated, '127.0.0.3', victimEmail);
      const taken = await send(served.gated, { from: '127.0.0.3', path: 'auth.register', input: { email: victimEmail, password: 'yet another guess' } });
      const free = await send(served.gated, { from: '127.0.0.3', path: 'auth.register', input: { email: uniqueEmail('free'), password: 'yet another guess' } });
      assert.deepEqual(visible(taken), visible(free));
    } finally {
      await served.close();
    }
  });

  it('a forwarding header names nobody: the refused client stays refused, and the address it names is served', async () => {
    const { served, victimEmail, victimToken } = await start();
    try {
      await exhaustFailedSignIns(served.gated, '127.0.0.3', victimEmail);
      const spoofed = ['X-Forwarded-For: 127.0.0.2', 'Forwarded: for=127.0.0.2', 'X-Real-IP: 127.0.0.2'];
      const asVictim = await send(served.gated, { from: '127.0.0.3', path: 'auth.login', input: { identifier: victimEmail, password: PASSWORD }, headers: spoofed });
      assert.equal(asVictim.status, 429);
      // The victim shares nothing with the attacker: its sign-ins and calls go on.
      const before = served.contexts();
      const login = await send(served.gated, { from: '127.0.0.2', path: 'auth.login', input: { identifier: victimEmail, password: PASSWORD } });
      assert.equal(login.status, 200, login.body);
      assert.equal((await send(served.gated, { from: '127.0.0.2', path: 'demo.whoami', bearer: victimToken })).status, 200);
      assert.equal(served.contexts(), before + 2);
    } finally {
      await served.close();
    }
  });

  it('made-up tokens past the allowance are refused at the gate; a token the cache holds, and every other client, are served', async () => {
    const { app, served, victimToken } = await start();
    try {
      let looked = 0;
      for (;;) {
        const answer = await send(served.gated, { from: '127.0.0.4', path: 'demo.whoami', bearer: madeUpToken() });
        if (answer.status === 429) break;
        assert.equal(authCodeOf(answer), 'TOKEN_INVALID');
        assert.ok(++looked <= LIMITS.tokenFailuresPerIp, `${looked} lookups`);
      }
      const refusedBefore = app.auth.metrics().tokenChecks.memory.RATE_LIMITED;
      for (const path of ['demo.whoami', 'auth.me', 'demo.whoami,auth.me?batch=1&input={}']) {
        const before = served.contexts();
        const gated = await send(served.gated, { from: '127.0.0.4', path, bearer: madeUpToken() });
        assert.equal(served.contexts(), before, `${path} reached tRPC`);
        assert.equal(gated.status, 429);
        assert.deepEqual(visible(gated), visible(await send(served.plain, { from: '127.0.0.4', path, bearer: madeUpToken() })), path);
      }
      // Four refusals at the gate and the same four from tRPC alone, each counted once.
      assert.equal(app.auth.metrics().tokenChecks.memory.RATE_LIMITED, refusedBefore + 8);
      // A user behind the attacker's address (a shared NAT), whose token the cache holds, goes on;
      // so does a call that checks no token, and a procedure refused for nothing.
      assert.equal((await send(served.gated, { from: '127.0.0.4', path: 'demo.whoami', bearer: victimToken })).status, 200);
      assert.equal((await send(served.gated, { from: '127.0.0.4', path: 'demo.open', bearer: madeUpToken() })).status, 200);
      // A batch is refused at the gate only when all of it would be: this one gets tRPC's mixed answer.
      assert.equal((await send(served.gated, { from: '127.0.0.4', path: 'demo.whoami,demo.open?batch=1&input={}', bearer: madeUpToken() })).status, 207);
      // Another client's made-up token is its own first failure, looked up and answered.
      assert.equal(authCodeOf(await send(served.gated, { from: '127.0.0.2', path: 'demo.whoami', bearer: madeUpToken() })), 'TOKEN_INVALID');
    } finally {
      await served.close();
    }
  });

  it('a protected call without a token, or with one that fails the free checks, is answered at the gate as tRPC answers it', async () => {
    const { served } = await start();
    try {
      const token = madeUpToken();
      // The selector's first character changed: the checksum no longer matches.
      const badChecksum = `at_${token[3] === 'A' ? 'B' : 'A'}${token.slice(4)}`;
      const variants = [
        { headers: [], code: 'TOKEN_MISSING' },
        { headers: ['Authorization: Basic Zm9vOmJhcg=='], code: 'TOKEN_MISSING' },
        { headers: ['Authorization: Bearer not-a-token'], code: 'TOKEN_INVALID' },
        { headers: [`Authorization: Bearer ${badChecksum}`], code: 'TOKEN_INVALID' },
        { headers: [`Authorization: Bearer ${token}`, `Authorization: Bearer ${madeUpToken()}`], code: 'INVALID_REQUEST' },
      ];
      for (const path of ['demo.whoami', 'auth.me', 'demo.whoami,auth.me?batch=1&input={}']) {
        for (const variant of variants) {
          const before = served.contexts();
          const gated = await send(served.gated, { from: '127.0.0.6', path, headers: variant.headers });
          assert.equal(served.contexts(), before, `${path} ${variant.code} reached tRPC`);
          assert.ok(gated.body.includes(`"authCode":"${variant.code}"`), gated.body);
          assert.deepEqual(visible(gated), visible(await send(served.plain, { from: '127.0.0.6', path, headers: variant.headers })), `${path} ${variant.code}`);
        }
      }
      // A method the procedure is not served on is tRPC's (or a CORS middleware's inside it) to answer:
      // a browser's preflight, HEAD, a query POSTed, a mutation fetched with GET.
      for (const [method, path] of [['OPTIONS', 'demo.whoami'], ['HEAD', 'demo.whoami'], ['POST', 'demo.whoami'], ['GET', 'auth.logout']] as const) {
        const headers = method === 'POST' ? ['Content-Type: application/json'] : [];
        const gated = await send(served.gated, { from: '127.0.0.6', path, method, headers });
        assert.deepEqual(visible(gated), visible(await send(served.plain, { from: '127.0.0.6', path, method, headers })), `${method} ${path}`);
      }
      // Answered alike by tRPC alone: a batch with a call that needs no token.
      const before = served.contexts();
      assert.equal((await send(served.gated, { from: '127.0.0.6', path: 'demo.whoami,demo.open?batch=1&input={}' })).status, 207);
      assert.equal(served.contexts(), before + 1);
    } finally {
      await served.close();
    }
  });

  it('the limit stays closed on every node until its window ends, then the client is heard again', async () => {
    const { app, served, victimEmail } = await start();
    // A second node on the same database.
    const other = await serve(await kit().variant({ signup: { emailConfirmation: 'off' }, rateLimits: LIMITS }));
    try {
      await exhaustFailedSignIns(served.gated, '127.0.0.5', victimEmail);
      for (let call = 0; call < 5; call++) assert.equal((await send(served.gated, { from: '127.0.0.5', path: 'auth.register', input: { email: victimEmail, password: 'one more guess' } })).status, 429);
      // The shared counter is past the limit: the other node refuses at once, and then from memory.
      const before = other.contexts();
      for (let call = 0; call < 3; call++) assert.equal((await send(other.gated, { from: '127.0.0.5', path: 'auth.register', input: { email: victimEmail, password: 'one more guess' } })).status, 429);
      assert.equal(other.contexts(), before + 1);
      kit().clock.advanceSeconds(LIMITS.windowSeconds - 60);
      assert.equal((await send(served.gated, { from: '127.0.0.5', path: 'auth.register', input: { email: victimEmail, password: 'one more guess' } })).status, 429);
      kit().clock.advanceSeconds(61);
      const heard = await send(served.gated, { from: '127.0.0.5', path: 'auth.register', input: { email: victimEmail, password: 'one more guess' } });
      assert.equal(authCodeOf(heard), 'EMAIL_TAKEN');
      assert.ok(app.auth.metrics().rateLimitRefusals['failures-ip']);
    } finally {
      await served.close();
      await other.close();
    }
  });

  it('the fetch adapter behind the gate: the client `clientIp` names is refused before tRPC, no other', async () => {
    const app = await kit().variant({
      signup: { emailConfirmation: 'off' },
      rateLimits: LIMITS,
      clientIp: (opts) => ('resHeaders' in opts ? opts.req.headers.get('x-client') : null),
    });
    const router = routerOf(app.auth);
    let contexts = 0;
    const handler = app.auth.refusalGate({ router, basePath: '/api/trpc' }).fetch((req: Request) =>
      fetchRequestHandler({
        endpoint: '/api/trpc',
        req,
        router,
        createContext: (opts) => {
          contexts++;
          return app.auth.createContext(opts);
        },
      }),
    );
    const email = uniqueEmail('fetch');
    const register = (client: string) =>
      handler(
        new Request('http://app.example.test/api/trpc/auth.register', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-client': client },
          body: JSON.stringify({ json: { email, password: PASSWORD } }),
        }),
      );
    assert.equal((await register('203.0.113.1')).status, 200);
    let refused: Response | undefined;
    for (let sent = 0; sent < 10 && !refused; sent++) {
      const answer = await register('203.0.113.9');
      if (answer.status === 429) refused = answer;
    }
    assert.ok(refused, 'the flood was never refused');
    const before = contexts;
    const gated = await register('203.0.113.9');
    assert.equal(contexts, before);
    assert.equal(gated.status, 429);
    assert.ok(Number(gated.headers.get('retry-after')) > 0);
    assert.equal(gated.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await gated.json(), await refused.json());
    // Another client is heard: its sign-up for the taken address is answered by tRPC.
    const other = await register('203.0.113.2');
    assert.equal(contexts, before + 1);
    assert.equal(other.status, 409);
  });
});
