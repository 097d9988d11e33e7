import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { TRPCClientError, createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import express from 'express';
import superjson from 'superjson';
import { getAuthErrorCode } from '../client/index.js';
import { authErrorFormatter, authTransformer, createAuth } from '../server/index.js';
import type { AuthBaseContext, AuthContextOptions } from '../server/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { APP_URL, PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';

const quiet = { info() {}, warn() {}, error() {} };

async function listen(server: { listen(port: number, host: string, done: () => void): unknown; address(): unknown }): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describeOnEachDatabase('HTTP semantics and wiring into an application', (kit) => {
  it('a call without a token is 401 with a Bearer challenge naming the realm; a bad token adds error="invalid_token"; two tokens are a 400', async () => {
    const missing = await fetch(`${kit().url}/demo.whoami`);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="app.example.test"');

    const forged = await fetch(`${kit().url}/demo.whoami`, { headers: { authorization: 'Bearer at_forged' } });
    assert.equal(forged.status, 401);
    assert.equal(forged.headers.get('www-authenticate'), 'Bearer realm="app.example.test", error="invalid_token"');
    const body = (await forged.json()) as { error: { json: { data: { authCode: string; stack?: string } } } };
    assert.equal(body.error.json.data.authCode, 'TOKEN_INVALID');
    assert.equal(body.error.json.data.stack, undefined);

    const otherScheme = await fetch(`${kit().url}/demo.whoami`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(otherScheme.status, 401);
    assert.equal(otherScheme.headers.get('www-authenticate'), 'Bearer realm="app.example.test"');

    // The fetch adapter and Node join two headers with a comma: ambiguous, so neither is taken.
    const twice = await fetch(`${kit().url}/demo.whoami`, { headers: { authorization: 'Bearer at_one, Bearer at_two' } });
    assert.equal(twice.status, 400);
    assert.equal(twice.headers.get('www-authenticate'), 'Bearer realm="app.example.test", error="invalid_request"');
    assert.equal(((await twice.json()) as { error: { json: { data: { authCode: string } } } }).error.json.data.authCode, 'INVALID_REQUEST');
  });

  it('answers that carry tokens are Cache-Control: no-store', async () => {
    const { email } = await registerConfirmed(kit());
    const response = await fetch(`${kit().url}/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { identifier: email, password: PASSWORD } }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it("the application's own context reaches its procedures next to ctx.user", async () => {
    const auth = await createAuth({
      db: kit().database.db,
      mail: { transport: kit().smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL },
      context: (opts: AuthContextOptions) => ({ tenant: 'req' in opts && 'headers' in opts.req ? 'acme' : 'none' }),
      logger: quiet,
    });
    const router = auth.router({
      auth: auth.authRouter,
      tenantOf: auth.protectedProcedure.query(({ ctx }) => ({ tenant: ctx.tenant, userId: ctx.user.id })),
    });
    const server = createHTTPServer({ router, createContext: auth.createContext });
    const url = await listen(server);
    try {
      const { tokens, user } = await registerConfirmed(kit());
      const client = createTRPCClient<typeof router>({
        links: [httpLink({ url, transformer: superjson, headers: { authorization: `Bearer ${tokens.accessToken}` } })],
      });
      assert.deepEqual(await client.tenantOf.query(), { tenant: 'acme', userId: user.id });
    } finally {
      server.close();
      await auth.close();
    }
  });

  it('works behind the Express adapter', async () => {
    const { tokens, user } = await registerConfirmed(kit());
    const app = express();
    app.use('/trpc', createExpressMiddleware({ router: kit().auth.router({ auth: kit().auth.authRouter }), createContext: kit().auth.createContext }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/trpc`;
      const me = await fetch(`${url}/auth.me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      assert.equal(((await me.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id, user.id);
      const refused = await fetch(`${url}/auth.me`, { headers: { authorization: 'Bearer at_nope' } });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="app.example.test", error="invalid_token"');
    } finally {
      server.close();
    }
  });

  it('works behind the fetch adapter', async () => {
    const { tokens, user } = await registerConfirmed(kit());
    const router = kit().auth.router({ auth: kit().auth.authRouter });
    const handle = (request: Request) => fetchRequestHandler({ endpoint: '/trpc', req: request, router, createContext: kit().auth.createContext });

    const me = await handle(new Request('http://app.test/trpc/auth.me', { headers: { authorization: `Bearer ${tokens.accessToken}` } }));
    assert.equal(((await me.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id, user.id);
    const refused = await handle(new Request('http://app.test/trpc/auth.me'));
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="app.example.test"');
  });

  it("an application with its own tRPC instance mounts the auth router and gets data.authCode from the kit's formatter", async () => {
    type HostContext = AuthBaseContext & { requestId: string };
    const host = initTRPC.context<HostContext>().create({ transformer: authTransformer, errorFormatter: authErrorFormatter });
    const auth = kit().auth;
    const router = host.router({
      auth: auth.authRouter,
      notes: host.procedure.use(auth.protectMiddleware).query(({ ctx }) => ({ owner: ctx.user.id, requestId: ctx.requestId })),
    });
    const server = createHTTPServer({
      router,
      createContext: async (opts) => ({ ...(await auth.createContext(opts)), requestId: 'r-1' }),
    });
    const url = await listen(server);
    try {
      const client = (token?: string) =>
        createTRPCClient<typeof router>({
          links: [httpLink({ url, transformer: superjson, headers: (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {}) })],
        });
      const error = await expectAuthError(client().notes.query(), 'TOKEN_MISSING');
      assert.equal(error.data?.authCode, 'TOKEN_MISSING');
      await expectAuthError(client().auth.login.mutate({ identifier: 'nobody@example.test', password: PASSWORD }), 'INVALID_CREDENTIALS');

      const { tokens, user } = await registerConfirmed(kit());
      assert.deepEqual(await client(tokens.accessToken).notes.query(), { owner: user.id, requestId: 'r-1' });
    } finally {
      server.close();
    }
  });

  it("under a host's default error formatter the code still arrives, in the message", async () => {
    const host = initTRPC.context<AuthBaseContext>().create({ transformer: superjson });
    const router = host.router({ auth: kit().auth.authRouter });
    const server = createHTTPServer({ router, createContext: kit().auth.createContext });
    const url = await listen(server);
    try {
      const client = createTRPCClient<typeof router>({ links: [httpLink({ url, transformer: superjson })] });
      const error = await client.auth.me.query().catch((caught: unknown) => caught);
      assert.ok(error instanceof TRPCClientError);
      assert.equal((error.data as { authCode?: string } | undefined)?.authCode, undefined);
      assert.equal(getAuthErrorCode(error), 'TOKEN_MISSING');
    } finally {
      server.close();
    }
  });

  it('an unexpected failure answers a generic message: nothing of its text reaches the client', async () => {
    const auth = kit().auth;
    const router = auth.router({
      boom: auth.publicProcedure.query(() => {
        throw new Error('insert failed: params $argon2id$v=19$m=19456 secret@example.test');
      }),
    });
    const server = createHTTPServer({ router, createContext: auth.createContext, onError: () => {} });
    const url = await listen(server);
    try {
      const response = await fetch(`${url}/boom`);
      assert.equal(response.status, 500);
      const text = await response.text();
      assert.ok(!text.includes('argon2') && !text.includes('secret@example.test'), text);
      assert.match(text, /INTERNAL_SERVER_ERROR/);
    } finally {
      server.close();
    }
  });

  it("the kit's routers merge with mergeRouters", async () => {
    const auth = kit().auth;
    const todos = auth.router({ list: auth.protectedProcedure.query(({ ctx }) => [`todo of ${ctx.user.id}`]) });
    const merged = auth.mergeRouters(auth.router({ auth: auth.authRouter }), auth.router({ todos }));
    const server = createHTTPServer({ router: merged, createContext: auth.createContext });
    const url = await listen(server);
    try {
      const { tokens, user } = await registerConfirmed(kit());
      const client = createTRPCClient<typeof merged>({
        links: [httpLink({ url, transformer: superjson, headers: { authorization: `Bearer ${tokens.accessToken}` } })],
      });
      assert.deepEqual(await client.todos.list.query(), [`todo of ${user.id}`]);
      assert.equal((await client.auth.me.query()).id, user.id);
    } finally {
      server.close();
    }
  });
});
