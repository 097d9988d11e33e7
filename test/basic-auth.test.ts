import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createBasicCheck } from '../server/basic/basic-check.js';
import type { BasicOutcome } from '../server/basic/basic-check.js';
import { basicOptionsSchema } from '../server/basic/basic-options.js';
import type { BasicOptions, ClientSecrets } from '../server/basic/basic-options.js';
import { hashClientSecret } from '../server/basic/client-secrets.js';
import type { AuthRequest } from '../server/context.js';
import { createRateLimiter } from '../server/limits/rate-limits.js';
import { createThrottles } from '../server/limits/throttles.js';
import { createHashingBulkhead } from '../server/passwords/hashing-bulkhead.js';
import { createHashingTurns } from '../server/passwords/hashing-turns.js';
import { createPasswordHasher } from '../server/passwords/passwords.js';
import { resolveOptions } from '../server/options.js';
import { createAuth } from '../server/index.js';
import type { AuthOptions, Logger } from '../server/index.js';
import { registerConfirmed } from './harness/flows.js';
import { basicHeader, rawRequest } from './harness/raw-http.js';
import type { RawResponse } from './harness/raw-http.js';
import { APP_URL, describeOnEachDatabase } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';

const OPS_CHALLENGE = 'Basic realm="ops", charset="UTF-8"';
const BEARER_CHALLENGE = 'Bearer realm="app.example.test"';
const clients = {
  ops: {
    ops: await hashClientSecret('secret', 'argon2id'),
    ci: await hashClientSecret('generated-high-entropy-secret', 'sha256'),
    'zoë': await hashClientSecret('pä:ss:wörd', 'sha256'),
  },
  billing: { ledger: await hashClientSecret('ledger-secret', 'sha256') },
};
const quiet: Logger = { info() {}, warn() {}, error() {} };

type ErrorBody = { error: { json: { message: string; data: { httpStatus: number; authCode: string | null } } } };

/** A kit with the given Basic options and a router with a Basic procedure of realm `ops`, over HTTP. */
async function serveBasic(kit: TestKit, options: Pick<AuthOptions, 'basic' | 'clientIp' | 'logger'>) {
  const auth = await createAuth({
    db: kit.database.db,
    mail: { transport: kit.smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL },
    clock: kit.clock,
    logger: quiet,
    ...options,
  });
  const router = auth.router({
    auth: auth.authRouter,
    ops: auth.router({ ping: auth.basicProcedure('ops').query(({ ctx }) => ({ client: ctx.client })) }),
    either: auth.basicProcedure('ops', { advertise: true })
      .use(auth.protectMiddleware)
      .query(({ ctx }) => ({ client: ctx.client, userId: ctx.user.id })),
  });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    auth,
    url,
    get: (path: string, headers: string[] = []) => rawRequest(url, { path, headers }),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
    },
  };
}

function refusal(response: RawResponse) {
  const body = response.json<ErrorBody>().error.json;
  return { status: response.status, challenge: response.header('www-authenticate'), message: body.message, authCode: body.data.authCode };
}

const REFUSED = { status: 401, challenge: [OPS_CHALLENGE], message: 'INVALID_CREDENTIALS', authCode: 'INVALID_CREDENTIALS' };

describeOnEachDatabase('HTTP Basic realms over raw HTTP', (kit) => {
  const servers: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const server of servers) await server.close();
  });
  async function start(options: Parameters<typeof serveBasic>[1]) {
    const server = await serveBasic(kit(), options);
    servers.push(server);
    return server;
  }
  let main: Awaited<ReturnType<typeof start>> | undefined;
  const basic = async () => (main ??= await start({ basic: { clients } }));

  const admitted: Array<[string, string[], string]> = [
    ['curl -u ops:secret (an argon2id secret)', [basicHeader('ops', 'secret')], 'ops'],
    ['the scheme in lower case', [basicHeader('ops', 'secret', 'basic')], 'ops'],
    ['the scheme in upper case with extra spaces', [`Authorization: BASIC   ${Buffer.from('ops:secret').toString('base64')}  `], 'ops'],
    ['a sha256: secret', [basicHeader('ci', 'generated-high-entropy-secret')], 'ci'],
    ['a UTF-8 client id and a secret holding colons', [basicHeader('zoë', 'pä:ss:wörd')], 'zoë'],
  ];
  for (const [name, headers, clientId] of admitted) {
    it(`admits ${name}`, async () => {
      const response = await (await basic()).get('/ops.ping', headers);
      assert.equal(response.status, 200, response.body);
      assert.deepEqual(response.json<{ result: { data: { json: unknown } } }>().result.data.json, { client: { id: clientId, realm: 'ops' } });
    });
  }

  const refused: Array<[string, string[]]> = [
    ['no Authorization header', []],
    ['a wrong secret', [basicHeader('ops', 'not-the-secret')]],
    ['an unknown client id', [basicHeader('nobody', 'secret')]],
    ['a client of another realm', [basicHeader('ledger', 'ledger-secret')]],
    ['a secret cut at its first colon', [basicHeader('zoë', 'pä')]],
    ['broken base64', ['Authorization: Basic !!!not-base64!!!']],
    ['base64 without its padding', [`Authorization: Basic ${Buffer.from('ops:secret!').toString('base64').replace(/=+$/, '')}`]],
    ['a bare Basic scheme', ['Authorization: Basic']],
    ['no colon in the credentials', [`Authorization: Basic ${Buffer.from('opssecret').toString('base64')}`]],
    ['bytes that are not UTF-8', [`Authorization: Basic ${Buffer.from([0x6f, 0xff, 0xfe, 0x3a, 0x78]).toString('base64')}`]],
    ['CR LF inside the decoded credentials', [basicHeader('ops', 'secret\r\nX-Injected: 1')]],
    ['an empty client id', [basicHeader('', 'secret')]],
    ['two Authorization headers, both valid', [basicHeader('ops', 'secret'), basicHeader('ci', 'generated-high-entropy-secret')]],
    ['a Bearer token instead', ['Authorization: Bearer at_whatever']],
    ['credentials of 6 KB', [`Authorization: Basic ${Buffer.from(`ops:${'s'.repeat(4500)}`).toString('base64')}`]],
  ];
  for (const [name, headers] of refused) {
    it(`answers ${name} with 401, the realm's challenge and a generic body`, async () => {
      const response = await (await basic()).get('/ops.ping', headers);
      assert.deepEqual(refusal(response), REFUSED, response.body);
      assert.doesNotMatch(response.body, /stack|secret/i);
    });
  }

  it('a 16 KB header is refused by the HTTP server with 431, and the server goes on serving', async () => {
    const server = await basic();
    const response = await server.get('/ops.ping', [`Authorization: Basic ${'QUFB'.repeat(4096)}`]);
    assert.equal(response.status, 431);
    assert.equal((await server.get('/ops.ping', [basicHeader('ops', 'secret')])).status, 200);
  });

  it('advertise: no credentials get both challenges; a bearer token passes; Basic credentials are judged as Basic', async () => {
    const server = await basic();
    const missing = await server.get('/either');
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.header('www-authenticate'), [BEARER_CHALLENGE, OPS_CHALLENGE]);

    const { tokens, user } = await registerConfirmed(kit());
    const bearer = await server.get('/either', [`Authorization: Bearer ${tokens.accessToken}`]);
    assert.equal(bearer.status, 200, bearer.body);
    assert.deepEqual(bearer.json<{ result: { data: { json: unknown } } }>().result.data.json, { client: null, userId: user.id });

    const wrongBasic = await server.get('/either', [basicHeader('ops', 'wrong')]);
    assert.deepEqual(refusal(wrongBasic), REFUSED);
  });

  it('two Authorization headers are ambiguous for Bearer too: a 400 invalid_request, never the first one taken', async () => {
    const server = await basic();
    const { tokens } = await registerConfirmed(kit());
    const bearer = `Authorization: Bearer ${tokens.accessToken}`;
    assert.equal((await server.get('/either', [bearer])).status, 200);
    const twice = await server.get('/either', [bearer, bearer]);
    assert.equal(twice.status, 400);
    assert.deepEqual(twice.header('www-authenticate'), [`${BEARER_CHALLENGE}, error="invalid_request"`]);
  });

  it('verbosity debug puts the reason in the body; minimal answers a bare 401', async () => {
    const debug = await start({ basic: { clients, errorVerbosity: 'debug' } });
    const unknown = refusal(await debug.get('/ops.ping', [basicHeader('nobody', 'secret')]));
    assert.deepEqual({ ...unknown, message: undefined }, { ...REFUSED, message: undefined });
    assert.equal(unknown.message, 'INVALID_CREDENTIALS: no client "nobody" in realm "ops"');
    assert.equal(refusal(await debug.get('/ops.ping', ['Authorization: Basic %%%'])).message, 'INVALID_CREDENTIALS: credentials are not base64');
    assert.equal(refusal(await debug.get('/ops.ping', [basicHeader('ops', 'wrong')])).message, 'INVALID_CREDENTIALS: wrong secret');

    const minimal = await start({ basic: { clients, errorVerbosity: 'minimal' } });
    for (const headers of [[], [basicHeader('ops', 'wrong')], [basicHeader('nobody', 'secret')]]) {
      assert.deepEqual(refusal(await minimal.get('/ops.ping', headers)), { status: 401, challenge: [], message: 'UNAUTHORIZED', authCode: null });
    }
    assert.deepEqual((await minimal.get('/either')).header('www-authenticate'), [BEARER_CHALLENGE]);
    assert.equal((await minimal.get('/ops.ping', [basicHeader('ops', 'secret')])).status, 200);
  });

  it('failures are limited per client id and source: beyond the limit 429 even with the right secret, elsewhere untouched', async () => {
    const server = await start({
      basic: { clients, failuresPerClientAndSource: 3 },
      clientIp: (opts) => ('headers' in opts.req && !(opts.req instanceof Request) ? String(opts.req.headers['x-test-ip']) : null),
    });
    const from = (ip: string) => `X-Test-IP: ${ip}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      assert.equal((await server.get('/ops.ping', [from('203.0.113.7'), basicHeader('ci', 'guess')])).status, 401);
    }
    const limited = await server.get('/ops.ping', [from('203.0.113.7'), basicHeader('ci', 'generated-high-entropy-secret')]);
    assert.equal(limited.status, 429);
    assert.equal(limited.json<ErrorBody>().error.json.data.authCode, 'RATE_LIMITED');
    assert.ok(Number(limited.header('retry-after')[0]) > 0);
    assert.equal((await server.get('/ops.ping', [from('198.51.100.9'), basicHeader('ci', 'generated-high-entropy-secret')])).status, 200);
    assert.equal((await server.get('/ops.ping', [from('203.0.113.7'), basicHeader('ops', 'secret')])).status, 200);
    // Successes give their attempt back: a client that always succeeds is never limited.
    for (let call = 0; call < 5; call++) {
      assert.equal((await server.get('/ops.ping', [from('192.0.2.1'), basicHeader('ci', 'generated-high-entropy-secret')])).status, 200);
    }
  });

  it('findClientSecret answers first, the configuration after it; a malformed answer refuses the client', async () => {
    const rotated = await hashClientSecret('rotated-secret', 'sha256');
    const errors: string[] = [];
    const server = await start({
      basic: {
        clients,
        findClientSecret: async (realm, clientId) => {
          await Promise.resolve();
          if (realm !== 'ops') return null;
          if (clientId === 'ops') return rotated;
          if (clientId === 'dynamic') return hashClientSecret('dynamic-secret', 'argon2id');
          if (clientId === 'broken') return 'sha256:short';
          return undefined;
        },
      },
      logger: { ...quiet, error: (message) => errors.push(message) },
    });
    assert.deepEqual(refusal(await server.get('/ops.ping', [basicHeader('ops', 'secret')])), REFUSED);
    assert.equal((await server.get('/ops.ping', [basicHeader('ops', 'rotated-secret')])).status, 200);
    assert.equal((await server.get('/ops.ping', [basicHeader('dynamic', 'dynamic-secret')])).status, 200);
    assert.equal((await server.get('/ops.ping', [basicHeader('ci', 'generated-high-entropy-secret')])).status, 200);
    assert.deepEqual(refusal(await server.get('/ops.ping', [basicHeader('broken', 'anything')])), REFUSED);
    assert.deepEqual(errors, ['findClientSecret returned a malformed secret; the client is refused']);
  });

  it('rotation: a client holding [current, next] is admitted with either; once the old one is taken out it is refused like any wrong secret', async () => {
    const [oldSecret, newSecret] = ['old-generated-secret', 'new-generated-secret'];
    const configuredPair = await start({
      basic: { clients: { ops: { ...clients.ops, deployer: [await hashClientSecret(oldSecret, 'sha256'), await hashClientSecret(newSecret, 'argon2id')] } } },
    });
    for (const secret of [oldSecret, newSecret]) assert.equal((await configuredPair.get('/ops.ping', [basicHeader('deployer', secret)])).status, 200, secret);
    assert.deepEqual(refusal(await configuredPair.get('/ops.ping', [basicHeader('deployer', 'neither')])), REFUSED);
    // The other clients of the realm are untouched by the padding to two checks.
    assert.equal((await configuredPair.get('/ops.ping', [basicHeader('ops', 'secret')])).status, 200);

    // The same rotation through findClientSecret, as an operator runs it: one secret, both, then the new one alone.
    let held: ClientSecrets = await hashClientSecret(oldSecret, 'sha256');
    const server = await start({ basic: { clients, findClientSecret: (_realm, clientId) => (clientId === 'deployer' ? held : null) } });
    const call = (secret: string) => server.get('/ops.ping', [basicHeader('deployer', secret)]);
    assert.equal((await call(oldSecret)).status, 200);
    assert.deepEqual(refusal(await call(newSecret)), REFUSED);
    held = [held, await hashClientSecret(newSecret, 'sha256')];
    assert.equal((await call(oldSecret)).status, 200);
    assert.equal((await call(newSecret)).status, 200);
    held = held[1];
    assert.equal((await call(newSecret)).status, 200);
    const removed = await call(oldSecret);
    const unknown = await server.get('/ops.ping', [basicHeader('nobody', oldSecret)]);
    assert.deepEqual(refusal(removed), REFUSED);
    assert.deepEqual({ ...refusal(unknown), body: unknown.body }, { ...refusal(removed), body: removed.body }, 'the removed secret answers as an unknown client does');
  });

  it('rotation: an unknown id, a wrong secret, a client with one secret and one in mid-rotation spend the same argon2id checks', async () => {
    const verifications: Array<'stored' | 'dummy'> = [];
    const argon2id = createPasswordHasher({ memoryCost: 19_456, timeCost: 2 });
    const countingHasher = {
      hash: (password: string) => argon2id.hash(password),
      verify(storedHash: string | null, password: string) {
        verifications.push(storedHash === null ? 'dummy' : 'stored');
        return argon2id.verify(storedHash, password);
      },
    };
    const resolved = resolveOptions({ db: kit().database.db, mail: { transport: kit().smtp.transport, from: 'a@b.test', appUrl: APP_URL } });
    const limiter = createRateLimiter({ db: kit().database.db, clock: kit().clock });
    const hashing = createHashingTurns({
      hasher: countingHasher,
      bulkhead: createHashingBulkhead({ maxRunning: 2, maxQueued: 8, maxPerClient: 8 }),
      throttles: createThrottles(limiter, resolved.rateLimits),
    });
    const options: BasicOptions = {
      clients: {
        ops: {
          single: await hashClientSecret('single-secret', 'argon2id'),
          rotating: [await hashClientSecret('old-secret', 'argon2id'), await hashClientSecret('new-secret', 'argon2id')],
        },
      },
    };
    const check = createBasicCheck({ policy: basicOptionsSchema.parse(options), windowSeconds: 60, limiter, hashing, logger: quiet });
    const request = (clientId: string, secret: string): AuthRequest => ({
      authorization: basicHeader(clientId, secret).slice('Authorization: '.length),
      userAgent: null,
      ip: null,
      cookie: null,
      origin: null,
      contentType: null,
      wantsCookie: false,
      setHeader() {},
      afterResponse() {},
      appendHeader() {},
    });
    const spent = async (clientId: string, secret: string): Promise<{ outcome: BasicOutcome['ok']; checks: number }> => {
      verifications.length = 0;
      const outcome = await check.check(request(clientId, secret), 'ops');
      return { outcome: outcome.ok, checks: verifications.length };
    };
    assert.deepEqual(await spent('nobody', 'old-secret'), { outcome: false, checks: 2 });
    assert.deepEqual(await spent('single', 'wrong'), { outcome: false, checks: 2 });
    assert.deepEqual(await spent('single', 'single-secret'), { outcome: true, checks: 2 });
    assert.deepEqual(await spent('rotating', 'wrong'), { outcome: false, checks: 2 });
    // A match on the first of the two does not cut the work short.
    assert.deepEqual(await spent('rotating', 'old-secret'), { outcome: true, checks: 2 });
    assert.deepEqual(await spent('rotating', 'new-secret'), { outcome: true, checks: 2 });
  });

  it('a secret configured in clear works and is warned about at start, naming the client and never the secret', async () => {
    const warnings: Array<{ message: string; fields?: Record<string, unknown> }> = [];
    const server = await start({
      basic: { clients: { ops: { plain: 'cleartext-secret' } } },
      logger: { ...quiet, warn: (message, fields) => warnings.push({ message, fields }) },
    });
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]?.fields, { realm: 'ops', clientId: 'plain' });
    assert.doesNotMatch(JSON.stringify(warnings), /cleartext-secret/);
    assert.equal((await server.get('/ops.ping', [basicHeader('plain', 'cleartext-secret')])).status, 200);
    assert.equal((await server.get('/ops.ping', [basicHeader('plain', 'cleartext-secreT')])).status, 401);
  });

  it('refuses a malformed configuration at start, naming the client', async () => {
    const base = { db: kit().database.db, mail: { transport: kit().smtp.transport, from: 'a@b.test', appUrl: APP_URL }, logger: quiet };
    await assert.rejects(createAuth({ ...base, basic: { clients: { ops: { x: 'sha256:tooshort' } } } }), /basic\.clients\.ops\.x: a sha256: secret needs/);
    await assert.rejects(createAuth({ ...base, basic: { clients: { ops: { x: '$argon2i$v=19$m=16,t=2,p=1$abc$def' } } } }), /only argon2id/);
    await assert.rejects(createAuth({ ...base, basic: { clients: { 'bad"realm': { x: 'y' } } } }), /basic\.clients\.bad"realm: Invalid key/);
    await assert.rejects(createAuth({ ...base, basic: { clients: { ops: { 'a:b': 'y' } } } }), /basic\.clients\.ops\.a:b: Invalid key/);
    await assert.rejects(createAuth({ ...base, basic: { clients: { ops: { x: ['y', 'sha256:tooshort'] } } } }), /basic\.clients\.ops\.x: secret 2: a sha256: secret needs/);
    const three = ['a', 'b', 'c'] as unknown as ClientSecrets;
    await assert.rejects(createAuth({ ...base, basic: { clients: { ops: { x: three } } } }), /basic\.clients\.ops\.x/);
    const auth = await createAuth(base);
    try {
      assert.throws(() => auth.basicProcedure('say "hi"'), /not a realm name/);
    } finally {
      await auth.close();
    }
  });
});
