import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashClientSecret } from '../server/basic/client-secrets.js';
import { createAuth } from '../server/index.js';
import { threadpoolSize } from '../server/passwords/threadpool.js';
import { registerConfirmed } from './harness/flows.js';
import type { Answer } from './harness/named-clients.js';
import { batchAs, clientFromHeader, mutateAs } from './harness/named-clients.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import { until } from './harness/poll.js';

const WINDOW_SECONDS = 900;

const login = (email: string, password = PASSWORD) => ({ path: 'auth.login', input: { identifier: email, password } });

describeOnEachDatabase('hashing is shared fairly between clients', (kit) => {
  it('a client looping register for a taken address cannot keep another client from signing in, nor lock its account', async (t) => {
    const app = await kit().variant({ passwordHasher: 'argon2id', clientIp: clientFromHeader });
    const { email } = await registerConfirmed(kit(), app);

    // The attack of the review: more register calls at once than the bulkhead has places (2 + 64),
    // for an address that has an account (none is made, but each costs a hash), each sent again as
    // soon as it is answered.
    let flooding = true;
    const attacker = { hashed: 0, refused: [] as Answer[], other: [] as Answer[] };
    const floodLoop = async () => {
      while (flooding) {
        const answer = await mutateAs(app, 'attacker', { path: 'auth.register', input: { email, password: 'the attacker types this' } });
        if (answer.status === 200) attacker.hashed++;
        else if (answer.authCode === 'RATE_LIMITED') attacker.refused.push(answer);
        else attacker.other.push(answer);
      }
    };
    const loops = Array.from({ length: 80 }, floodLoop);
    await until(() => attacker.hashed >= 2 && attacker.refused.length >= 80, 'the flood to be refused in part');

    const victim: Answer[] = [];
    for (let attempt = 0; attempt < 20; attempt++) victim.push(await mutateAs(app, 'victim', login(email)));
    flooding = false;
    await Promise.all(loops);

    const signedIn = victim.filter((answer) => answer.status === 200).length;
    t.diagnostic(`victim signed in ${signedIn} of ${victim.length} times while the attacker had ${attacker.hashed} hashes and ${attacker.refused.length} refusals`);
    assert.deepEqual(
      victim.map((answer) => answer.authCode),
      victim.map(() => null),
    );
    assert.deepEqual(attacker.other, []);
    assert.ok(attacker.refused.every((answer) => answer.status === 429 && answer.retryAfter !== null && answer.retryAfter >= 1));
    // Right after the flood, and with the right password, the victim is still let in.
    assert.equal((await mutateAs(app, 'victim', login(email))).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('sign-ins refused because the client holds its share count nothing against the account', async () => {
    const app = await kit().variant({ passwordHasher: 'argon2id', clientIp: clientFromHeader, password: { maxHashesPerClient: 1 }, rateLimits: { loginFailuresPerAccountFromUnknownClients: 2 } });
    const { email } = await registerConfirmed(kit(), app);
    // Ten wrong passwords in one batch: the first takes the client's one place, the rest are refused at once.
    const batch = await batchAs(app, 'guesser', { path: 'auth.login', inputs: Array.from({ length: 10 }, (_, i) => login(email, `wrong password ${i}`).input) });
    assert.deepEqual(batch.authCodes.sort(), ['INVALID_CREDENTIALS', ...Array<string>(9).fill('RATE_LIMITED')]);
    assert.equal(batch.retryAfter, 1);
    // One failure was evaluated, under the two strangers may spend: the owner (one of them here) is let in.
    assert.equal((await mutateAs(app, 'owner', login(email))).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('every call that hashes counts against its client\'s allowance before it hashes; refusals for load count nothing', async () => {
    const app = await kit().variant({ passwordHasher: 'argon2id', clientIp: clientFromHeader, password: { maxHashesPerClient: 1 }, rateLimits: { hashesPerIp: 3 } });
    const { email } = await registerConfirmed(kit(), app);
    const register = () => ({ path: 'auth.register', input: { email: uniqueEmail('taken'), password: PASSWORD } });
    const batch = await batchAs(app, 'signups', { path: 'auth.register', inputs: Array.from({ length: 6 }, () => register().input) });
    assert.deepEqual(batch.authCodes.filter((code) => code !== null), Array<string>(5).fill('RATE_LIMITED'));
    // The five refused for load left two of the three.
    assert.equal((await mutateAs(app, 'signups', register())).status, 200);
    assert.equal((await mutateAs(app, 'signups', { path: 'auth.register', input: { email, password: PASSWORD } })).status, 200);
    const over = await mutateAs(app, 'signups', register());
    assert.equal(over.authCode, 'RATE_LIMITED');
    assert.ok(over.retryAfter !== null && over.retryAfter > 1, 'the allowance waits for its window');
    // The other procedures that hash are counted the same way, before any password is checked.
    assert.equal((await mutateAs(app, 'signups', login(email))).authCode, 'RATE_LIMITED');
    // Another client has its own allowance, and a right password gives its count back.
    for (let attempt = 0; attempt < 5; attempt++) assert.equal((await mutateAs(app, 'owner', login(email))).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.equal((await mutateAs(app, 'signups', register())).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('argon2id Basic secrets take hashing turns: a source rotating client ids is held to its allowance', async () => {
    const app = await kit().variant({
      passwordHasher: 'argon2id',
      clientIp: clientFromHeader,
      rateLimits: { hashesPerIp: 3 },
      basic: { clients: { admin: { ops: await hashClientSecret('the admin secret', 'argon2id') } } },
    });
    const invite = (clientId: string) =>
      fetch(`${app.url}/auth.invite`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-test-client': 'rotating',
          authorization: `Basic ${Buffer.from(`${clientId}:a guess`).toString('base64')}`,
        },
        body: JSON.stringify({ json: { email: uniqueEmail('invited') } }),
      }).then((response) => ({ status: response.status, retryAfter: response.headers.get('retry-after') }));
    assert.deepEqual([(await invite('a')).status, (await invite('b')).status, (await invite('c')).status], [401, 401, 401]);
    const over = await invite('d');
    assert.equal(over.status, 429);
    assert.ok(Number(over.retryAfter) > 1);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('createAuth refuses a bulkhead that would take every thread of libuv\'s pool', async () => {
    const options = { db: kit().database.db, mail: { transport: kit().smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL } };
    await assert.rejects(createAuth({ ...options, password: { maxConcurrentHashes: threadpoolSize() } }), /password\.maxConcurrentHashes: .*UV_THREADPOOL_SIZE/);
  });
});
