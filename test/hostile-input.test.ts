import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { userTable } from '../db/schema.js';
import { createAuth } from '../server/index.js';
import { DATABASE_KINDS, openTestDatabase } from './harness/database.js';
import type { TestDatabase } from './harness/database.js';
import { registerConfirmed } from './harness/flows.js';
import { startServer } from './harness/reference-server.js';
import type { RunningServer } from './harness/reference-server.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

/*
 * What an anonymous attacker sends the reference server byte for byte: bodies the kit's own client
 * would never build. Each answer must be a typed refusal (400 INVALID_INPUT, its message the code
 * and nothing else), never a 500, never a hang.
 */

type Answer = { status: number; message?: string; authCode?: string | null; data?: unknown };

/** A POST of `body` (text, sent as is) to `/trpc/<path>`, with the bearer token when given. */
async function post(server: RunningServer, request: { path: string; body: string; accessToken?: string | undefined }): Promise<Answer> {
  const { path, body, accessToken } = request;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const response = await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers, body });
  const parsed = (await response.json()) as {
    result?: { data: { json: unknown } };
    error?: { json: { message: string; data: { authCode: string | null } } };
  };
  return { status: response.status, message: parsed.error?.json.message, authCode: parsed.error?.json.data.authCode, data: parsed.result?.data.json };
}

const asInput = (json: unknown, meta?: unknown) => JSON.stringify(meta === undefined ? { json } : { json, meta });

/**
 * A `meta` of `depth` levels, each holding `a` (the level below) and `b`, plus superjson annotations
 * saying every `b` is the very object its `a` is: rebuilt, 2^depth paths.
 */
function amplified(depth: number, field: string): { json: unknown; referentialEqualities: Record<string, string[]> } {
  let json: unknown = { leaf: 'x' };
  for (let level = 0; level < depth; level++) json = { a: json, b: null };
  const referentialEqualities: Record<string, string[]> = {};
  let path = field;
  for (let level = 0; level < depth; level++) {
    referentialEqualities[`${path}.a`] = [`${path}.b`];
    path = `${path}.a`;
  }
  return { json, referentialEqualities };
}

function assertRefused(answer: Answer, what: string): void {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.authCode, 'INVALID_INPUT', what);
  assert.equal(answer.message, 'INVALID_INPUT', `${what}: the message is the code, with no internal text`);
}

const NUL = 'a\u0000b';
const LONE_HIGH = 'pass\ud800word-long-enough';
const LONE_LOW = 'pass\udc00word-long-enough';

for (const kind of DATABASE_KINDS) {
  describe(`hostile input to the reference server [${kind}]`, () => {
    let server: RunningServer;
    let database: TestDatabase | undefined;
    let dataDir: string;
    let accessToken: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'auth-hostile-'));
      database = kind === 'postgres' ? await openTestDatabase('postgres', { migrated: false }) : undefined;
      server = await startServer({
        AUTH_DATA_DIR: dataDir,
        AUTH_EMAIL_CONFIRMATION: 'off',
        ...(database ? { DATABASE_URL: database.url as string } : {}),
      });
      const registered = await post(server, { path: 'auth.register', body: asInput({ email: uniqueEmail('victim'), password: PASSWORD }) });
      accessToken = (registered.data as { tokens: { accessToken: string } }).tokens.accessToken;
    });
    after(async () => {
      await server.stop();
      await database?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('an amplifying register body is refused at once while another user is still served', async () => {
      const attack = amplified(27, 'meta');
      const body = asInput({ email: uniqueEmail(), password: PASSWORD, meta: attack.json }, { referentialEqualities: attack.referentialEqualities });
      assert.ok(body.length < 3000, 'the attack is a small body');
      const attacks = Array.from({ length: 8 }, () => post(server, { path: 'auth.register', body }));
      const whoami = await fetch(`${server.url}/trpc/demo.whoami`, { headers: { authorization: `Bearer ${accessToken}` } });
      assert.equal(whoami.status, 200);
      for (const answer of await Promise.all(attacks)) assertRefused(answer, 'depth 27');
    });

    it('shared references from a client are never rebuilt: a shallow amplifier stores a tree, not a graph', async () => {
      const attack = amplified(12, 'meta');
      const answer = await post(server, { path: 'auth.updateUser', body: asInput({ meta: attack.json }, { referentialEqualities: attack.referentialEqualities }), accessToken });
      assert.equal(answer.status, 200, JSON.stringify(answer));
      const meta = (answer.data as { meta: { a: unknown; b: unknown } }).meta;
      assert.equal(meta.b, null, 'b is what the client wrote (null), not a second path to a');
      assert.ok(JSON.stringify(meta).length < 400);
    });

    it('meta that the answers could not carry is refused on the way in', async () => {
      const inputs: unknown[] = [{ constructor: { prototype: { isAdmin: true } } }, { prototype: 1 }, { nested: [{ deeper: { constructor: 'x' } }] }];
      for (const meta of inputs) {
        assertRefused(await post(server, { path: 'auth.register', body: asInput({ email: uniqueEmail(), password: PASSWORD, meta }) }), `register ${JSON.stringify(meta)}`);
        assertRefused(await post(server, { path: 'auth.updateUser', body: asInput({ meta }), accessToken }), `updateUser ${JSON.stringify(meta)}`);
      }
      // The victim's account still answers.
      const me = await fetch(`${server.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${accessToken}` } });
      assert.equal(me.status, 200);
    });

    it('meta beyond its bounds in values, depth or length is refused', async () => {
      let deep: unknown = 'leaf';
      for (let level = 0; level < 17; level++) deep = { d: deep };
      const inputs = [{ many: Array.from({ length: 1001 }, () => 0) }, deep, { blob: 'x'.repeat(9000) }, { ['k'.repeat(101)]: 1 }, { text: NUL }, { text: LONE_HIGH }, { [LONE_LOW]: 1 }];
      for (const meta of inputs) assertRefused(await post(server, { path: 'auth.updateUser', body: asInput({ meta }), accessToken }), `meta ${JSON.stringify(meta).slice(0, 60)}`);
    });

    it('NUL or a lone surrogate in any string input is a typed refusal, never a 500', async () => {
      const email = uniqueEmail('owner');
      const valid: Array<{ path: string; input: Record<string, unknown>; token?: boolean }> = [
        { path: 'auth.register', input: { email, password: PASSWORD, username: 'someone' } },
        { path: 'auth.login', input: { identifier: email, password: PASSWORD } },
        { path: 'auth.confirmEmail', input: { token: 'lk_x' } },
        { path: 'auth.resendConfirmation', input: { email } },
        { path: 'auth.forgotPassword', input: { email } },
        { path: 'auth.forgotUsername', input: { email } },
        { path: 'auth.resetPassword', input: { token: 'lk_x', password: PASSWORD } },
        { path: 'auth.magicLink.request', input: { email } },
        { path: 'auth.magicLink.verify', input: { token: 'lk_x' } },
        { path: 'auth.refresh', input: { refreshToken: 'rt_x' } },
        { path: 'auth.acceptInvite', input: { token: 'lk_x', password: PASSWORD, username: 'someone' } },
        { path: 'auth.changePassword', input: { currentPassword: PASSWORD, newPassword: PASSWORD }, token: true },
        { path: 'auth.changeEmail', input: { newEmail: email, password: PASSWORD }, token: true },
        { path: 'auth.updateUser', input: { username: 'someone' }, token: true },
        { path: 'auth.sessions.revoke', input: { sessionId: 'x' }, token: true },
        { path: 'auth.apiTokens.create', input: { name: 'ci' }, token: true },
        { path: 'auth.apiTokens.revoke', input: { id: 'x' }, token: true },
      ];
      for (const { path, input, token } of valid) {
        for (const field of Object.keys(input)) {
          for (const bad of [NUL, LONE_HIGH, LONE_LOW]) {
            const answer = await post(server, { path, body: asInput({ ...input, [field]: bad }), accessToken: token ? accessToken : undefined });
            assertRefused(answer, `${path}.${field} = ${JSON.stringify(bad)}`);
          }
        }
      }
    });

    it('bodies that fail to parse say INVALID_INPUT, as message and as authCode, and nothing of the parser', async () => {
      const bodies = [
        '{"json":',
        asInput({ email: 'x@example.test' }, { values: { email: ['bigint'] } }),
        asInput({ email: 'x@example.test' }, { values: { email: [['custom', 'nothing-registered']] } }),
        asInput({ email: 'x@example.test' }, { values: { email: [['class', 'Nope']] } }),
      ];
      for (const body of bodies) {
        const answer = await post(server, { path: 'auth.forgotPassword', body });
        assert.ok(answer.status === 400, `${body}: ${JSON.stringify(answer)}`);
        assert.equal(answer.message, 'INVALID_INPUT', body);
        assert.equal(answer.authCode, 'INVALID_INPUT', body);
      }
    });
  });
}

describeOnEachDatabase('meta that cannot be sent back', (kit) => {
  it('an account already holding such meta signs in, and its answers leave those keys out', async () => {
    const { email } = await registerConfirmed(kit());
    // Written by an older version of the kit, or by hand: superjson would refuse to serialise it.
    await kit().database.db
      .update(userTable)
      .set({ meta: { plan: 'pro', constructor: { prototype: 1 }, list: [{ prototype: 2, keep: 3 }] } })
      .where(eq(userTable.email, email));
    const { user, tokens } = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    assert.deepEqual(user.meta, { plan: 'pro', list: [{ keep: 3 }] });
    const me = await kit().client(tokens.accessToken).auth.me.query();
    assert.deepEqual(me.meta, { plan: 'pro', list: [{ keep: 3 }] });
  });
});

describeOnEachDatabase("an application's own procedures on auth.router", (kit) => {
  it('receive client input without rebuilt shared references', async () => {
    const auth = await createAuth({
      db: kit().database.db,
      mail: { transport: kit().smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL },
      logger: { info() {}, warn() {}, error() {} },
    });
    const router = auth.router({
      // What an application might do with its input: measure it. With the references rebuilt this
      // walks 2^24 paths; without them, 25 levels.
      size: auth.publicProcedure.input(z.unknown()).mutation(({ input }) => JSON.stringify(input).length),
    });
    const server = createHTTPServer({ router, createContext: auth.createContext });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const attack = amplified(24, '');
      const referentialEqualities = Object.fromEntries(
        Object.entries(attack.referentialEqualities).map(([path, others]) => [path.slice(1), others.map((other) => other.slice(1))]),
      );
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/size`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ json: attack.json, meta: { referentialEqualities } }),
      });
      const body = (await response.json()) as { result: { data: { json: number } } };
      assert.equal(response.status, 200);
      assert.ok(body.result.data.json < 1000, `the input is the tree the client wrote (${body.result.data.json} characters)`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
    }
  });
});
