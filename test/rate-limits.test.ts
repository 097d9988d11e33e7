import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

const WINDOW_SECONDS = 900;
/**
 * Every call of these tests comes from one address, the owner's sign-ups included: with addresses
 * remembered, the guesser would be known by the owner's address (lockout.test.ts tests that).
 */
const STRANGERS_ONLY = { addressesPerUser: 0 };

describeOnEachDatabase('rate limits', (kit) => {
  it('an account with too many failed sign-ins refuses even the right password, as a wrong one, until the window ends', async () => {
    // The client has no device cookie and no session, and its address (every call's here) is not remembered: a stranger, held to the strangers' share.
    const app = await kit().variant({ rateLimits: { loginFailuresPerAccount: 6, loginFailuresPerAccountFromUnknownClients: 3 }, devices: STRANGERS_ONLY });
    const { email } = await registerConfirmed(kit(), app);
    for (let attempt = 0; attempt < 3; attempt++) {
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    }
    const locked = await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    assert.equal(locked.data?.httpStatus, 401);
    // A case variant of the address is the same account.
    await expectAuthError(app.client().auth.login.mutate({ identifier: email.toUpperCase(), password: PASSWORD }), 'INVALID_CREDENTIALS');
    // Recovery stays open while the account is locked.
    assert.deepEqual(await app.client().auth.forgotPassword.mutate({ email }), { ok: true });

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
  });

  it('a completed password reset lifts the lock', async () => {
    const app = await kit().variant({ rateLimits: { loginFailuresPerAccount: 3 } });
    const { email } = await registerConfirmed(kit(), app);
    for (let attempt = 0; attempt < 4; attempt++) {
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    }
    await app.client().auth.forgotPassword.mutate({ email });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    await app.client().auth.resetPassword.mutate({ token: mail.token as string, password: 'the owner is back in' });
    await app.client().auth.login.mutate({ identifier: email, password: 'the owner is back in' });
  });

  it('the address and every spelling of the username of one account share its allowance', async () => {
    const app = await kit().variant({ rateLimits: { loginFailuresPerAccount: 6, loginFailuresPerAccountFromUnknownClients: 3 }, devices: STRANGERS_ONLY });
    const { email } = await registerConfirmed(kit(), app, { username: 'two_names' });
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(app.client().auth.login.mutate({ identifier: 'two_names', password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(app.client().auth.login.mutate({ identifier: 'TW0.Names', password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('clientIp decides who the client is, so one client cannot spend another one\'s allowance', async () => {
    const app = await kit().variant({
      rateLimits: { failuresPerIp: 2 },
      clientIp: (opts) => ('headers' in opts.req && !('get' in opts.req.headers) ? String(opts.req.headers['x-test-client']) : null),
    });
    const attempt = (client: string) =>
      fetch(`${app.url}/auth.login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test-client': client },
        body: JSON.stringify({ json: { identifier: uniqueEmail('spray'), password: PASSWORD } }),
      }).then((response) => response.status);
    assert.deepEqual([await attempt('a'), await attempt('a'), await attempt('a')], [401, 401, 429]);
    assert.equal(await attempt('b'), 401);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('a successful sign-in clears its client\'s failures but not the account\'s; an unknown account locks the same way', async () => {
    const app = await kit().variant({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 5, loginFailuresPerAccountPerClient: 3 }, devices: STRANGERS_ONLY });
    const { email } = await registerConfirmed(kit(), app);
    for (let round = 0; round < 2; round++) {
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
      await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    }
    // The fifth failure fills the strangers' share, which the successes did not empty: else every
    // sign-in of the owner would hand a guesser a fresh allowance.
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    const ghost = uniqueEmail('ghost');
    const answers = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      answers.push(await expectAuthError(app.client().auth.login.mutate({ identifier: ghost, password: PASSWORD }), 'INVALID_CREDENTIALS'));
    }
    assert.equal(new Set(answers.map((answer) => JSON.stringify({ ...answer.data, path: null }))).size, 1);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('failed sign-ins from one client beyond its allowance answer RATE_LIMITED with Retry-After; its refreshes are judged by the token allowance', async () => {
    const app = await kit().variant({ rateLimits: { failuresPerIp: 4 } });
    const { email, tokens } = await registerConfirmed(kit(), app);
    for (let attempt = 0; attempt < 4; attempt++) {
      await expectAuthError(app.client().auth.login.mutate({ identifier: uniqueEmail('spray'), password: PASSWORD }), 'INVALID_CREDENTIALS');
    }
    const response = await fetch(`${app.url}/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ json: { identifier: email, password: PASSWORD } }),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get('retry-after')) > 0);
    // Someone behind the address typing wrong passwords does not sign its neighbours out.
    await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
  });

  it('a batched request counts every call in it', async () => {
    const app = await kit().variant({ rateLimits: { failuresPerIp: 4 } });
    const calls = 8;
    const body = Object.fromEntries(Array.from({ length: calls }, (_, i) => [String(i), { json: { identifier: uniqueEmail('batch'), password: PASSWORD } }]));
    const response = await fetch(`${app.url}/${Array.from({ length: calls }, () => 'auth.login').join(',')}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const results = (await response.json()) as Array<{ error?: { json: { data: { authCode: string } } } }>;
    const codes = results.map((result) => result.error?.json.data.authCode);
    assert.equal(codes.length, calls);
    assert.ok(codes.includes('RATE_LIMITED'), codes.join(','));
    assert.ok(codes.filter((code) => code === 'INVALID_CREDENTIALS').length <= 4 + 1, codes.join(','));
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('nodes share the counts: failures on one lock the account on another', async () => {
    const a = await kit().variant({ rateLimits: { loginFailuresPerAccount: 3 } });
    const b = await kit().variant({ rateLimits: { loginFailuresPerAccount: 3 } });
    const { email } = await registerConfirmed(kit(), a);
    await expectAuthError(a.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(b.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(a.client().auth.login.mutate({ identifier: email, password: 'wrong password!' }), 'INVALID_CREDENTIALS');
    await expectAuthError(b.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('mails to one address are capped, and the answer does not change', async () => {
    const app = await kit().variant({ rateLimits: { mailsPerAddressPerHour: 2 } });
    const { email } = await registerConfirmed(kit(), app);
    const before = kit().smtp.mailsTo(email).length;
    for (let request = 0; request < 5; request++) {
      assert.deepEqual(await app.client().auth.forgotPassword.mutate({ email }), { ok: true });
    }
    await app.auth.settled();
    assert.equal(kit().smtp.mailsTo(email).length - before, 2);
    kit().clock.advanceSeconds(3601);
  });
});
