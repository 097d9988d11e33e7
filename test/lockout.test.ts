import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { deviceTable } from '../db/schema.js';
import type { AuthContextOptions } from '../server/index.js';
import { registerConfirmed } from './harness/flows.js';
import type { TestApp } from './harness/test-kit.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

/*
 * A stranger cannot keep the owner locked out (SECURITY.md A14, item 50). The attacker sends wrong
 * passwords from many addresses (the `clientIp` option reads them from a header, as a trusted proxy's
 * would be read); the owner signs in from a browser the account knows by its device cookie, or by a
 * session, or from an address of their own. Whether a guess was checked cannot be seen in its answer
 * (that is the point), so the tests measure it the only way an attacker could: by trying the right
 * password in its place, from an address that has sent nothing, and seeing whether it gets in.
 */

const WINDOW_SECONDS = 900;
const NEW_PASSWORD = 'the owner chose a new one';
const DEVICE_COOKIE = /^__Host-auth-device=(dv_[A-Za-z0-9_-]{43}); Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=34560000$/;

function clientIp(opts: AuthContextOptions): string | null {
  if (!('res' in opts)) return null;
  const address = opts.req.headers['x-test-client'];
  return typeof address === 'string' ? address : null;
}

interface Answer {
  status: number;
  /** The response body without `path`, which names the procedure. */
  body: unknown;
  authCode: string | undefined;
  /** The `__Host-auth-device=…` pair the response set, if any. */
  deviceCookie: string | null;
  setCookies: string[];
  retryAfter: string | null;
  accessToken: string | undefined;
  userId: string | undefined;
}

/** A call from the client at `from`, with the cookie and the bearer token it holds. */
async function call(app: TestApp, path: string, request: { input: unknown; from: string; cookie?: string | null; bearer?: string }): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-test-client': request.from };
  if (request.cookie) headers.cookie = request.cookie;
  if (request.bearer) headers.authorization = `Bearer ${request.bearer}`;
  const response = await fetch(`${app.url}/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: request.input }) });
  const body = (await response.json()) as {
    result?: { data: { json: { tokens?: { accessToken: string }; user?: { id: string } } } };
    error?: { json: { data: { authCode?: string; path?: string } } };
  };
  if (body.error) delete body.error.json.data.path;
  const setCookies = response.headers.getSetCookie();
  const device = setCookies.map((line) => DEVICE_COOKIE.exec(line)).find((match) => match !== null);
  return {
    status: response.status,
    body,
    authCode: body.error?.json.data.authCode,
    deviceCookie: device ? `__Host-auth-device=${device[1]}` : null,
    setCookies,
    retryAfter: response.headers.get('retry-after'),
    accessToken: body.result?.data.json.tokens?.accessToken,
    userId: body.result?.data.json.user?.id,
  };
}

let addressSequence = 0;
/** An address no other client in this process has used. */
function freshAddress(): string {
  addressSequence++;
  return `198.18.${Math.floor(addressSequence / 250)}.${(addressSequence % 250) + 1}`;
}

describeOnEachDatabase('a stranger cannot keep the owner locked out', (kit) => {
  async function setUp(options: { rateLimits?: Record<string, number>; devices?: { maxPerUser?: number; addressesPerUser?: number }; recentAuth?: { windowSeconds: number } } = {}) {
    const app = await kit().variant({ clientIp, ...options });
    const { email } = await registerConfirmed(kit(), app);
    const login = (from: string, password: string, extra: { cookie?: string | null; bearer?: string } = {}) =>
      call(app, 'auth.login', { input: { identifier: email, password }, from, ...extra });
    const signedIn = (answer: Answer) => answer.status === 200;
    /** Whether the right password, in place of the next guess, gets a stranger in. */
    const strangerGetsIn = async () => signedIn(await login(freshAddress(), PASSWORD));
    /** `count` wrong passwords from each of `addresses` new addresses. */
    async function hammer(addresses: number, count: number): Promise<void> {
      for (let address = 0; address < addresses; address++) {
        const from = freshAddress();
        for (let guess = 0; guess < count; guess++) {
          const answer = await login(from, `wrong guess ${address}-${guess}!`);
          assert.equal(answer.authCode, 'INVALID_CREDENTIALS');
        }
      }
    }
    return { app, email, login, signedIn, strangerGetsIn, hammer };
  }

  it('with the defaults, strangers get 50 guesses a window, however many addresses they use, and the owner signs in from a known device throughout', async () => {
    const { login, signedIn, strangerGetsIn, hammer } = await setUp();
    const owner = await login('192.0.2.10', PASSWORD);
    assert.ok(owner.deviceCookie, `a sign-in leaves a device cookie: ${owner.setCookies.join(' | ')}`);

    // 49 wrong guesses from five addresses (ten each, the most one address may have checked)...
    await hammer(4, 10);
    await hammer(1, 9);
    assert.ok(await strangerGetsIn(), 'the 50th guess is still checked');
    // ...and the 50th: now no stranger's password is checked, the right one included.
    await hammer(1, 1);
    assert.equal(await strangerGetsIn(), false);

    // The flood goes on from ten more addresses; the owner's device signs in between bursts.
    for (let burst = 0; burst < 10; burst++) {
      await hammer(1, 10);
      assert.ok(signedIn(await login('192.0.2.10', PASSWORD, { cookie: owner.deviceCookie })), `burst ${burst}`);
    }
    // The owner's sign-ins handed the guessers no fresh allowance.
    assert.equal(await strangerGetsIn(), false);
    // Without the device cookie, from an address the account does not know, the owner is one more stranger, until the window ends.
    assert.equal(signedIn(await login('192.0.2.11', PASSWORD)), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.ok(signedIn(await login('192.0.2.11', PASSWORD)));
  });

  it('the owner without a device cookie signs in from their own address while the attacker hammers from others', async () => {
    const { login, signedIn, strangerGetsIn, hammer } = await setUp();
    // 75 guesses from three addresses: each has ten checked, the rest refused unchecked.
    await hammer(3, 25);
    assert.ok(signedIn(await login('192.0.2.20', PASSWORD)));
    // The refused ones spent nothing of the strangers' share: 30 checked, 20 left.
    await hammer(1, 10);
    await hammer(1, 9);
    assert.ok(await strangerGetsIn(), 'the 50th guess is still checked');
    await hammer(1, 1);
    assert.equal(await strangerGetsIn(), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('a success clears its client\'s failures on the account, and each client is held to its own count', async () => {
    const { login, signedIn } = await setUp({ rateLimits: { loginFailuresPerAccountPerClient: 3 } });
    const home = '192.0.2.30';
    for (let round = 0; round < 3; round++) {
      await login(home, 'wrong password!');
      await login(home, 'wrong password!');
      assert.ok(signedIn(await login(home, PASSWORD)), `round ${round}`);
    }
    for (let guess = 0; guess < 3; guess++) await login(home, 'wrong password!');
    assert.equal(signedIn(await login(home, PASSWORD)), false);
    assert.ok(signedIn(await login('192.0.2.31', PASSWORD)), 'another address is not held to this one\'s count');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('known devices and sessions are held to their own counts, and all clients together to loginFailuresPerAccount', async () => {
    const { app, login, signedIn, strangerGetsIn, hammer } = await setUp({
      rateLimits: { loginFailuresPerAccount: 6, loginFailuresPerAccountFromUnknownClients: 3, loginFailuresPerAccountPerClient: 2 },
    });
    const device = (await login('192.0.2.40', PASSWORD)).deviceCookie;
    const other = await login('192.0.2.41', PASSWORD);
    const session = other.accessToken as string;
    await hammer(1, 2);
    await hammer(1, 1);
    assert.equal(await strangerGetsIn(), false, 'three strangers\' guesses fill their share');
    assert.ok(signedIn(await login('192.0.2.40', PASSWORD, { cookie: device })), 'the device is known');

    // The device's own count: two guesses.
    await login('192.0.2.40', 'wrong password!', { cookie: device });
    await login('192.0.2.40', 'wrong password!', { cookie: device });
    assert.equal(signedIn(await login('192.0.2.40', PASSWORD, { cookie: device })), false);
    // A client holding a session of the account is known too, and its one guess is the sixth.
    assert.ok(signedIn(await login('192.0.2.41', PASSWORD, { bearer: session })), 'the session is known');
    await login('192.0.2.41', 'wrong password!', { bearer: session });
    assert.equal(signedIn(await login('192.0.2.41', PASSWORD, { bearer: session })), false, 'six guesses in all');
    const change = await call(app, 'auth.changePassword', { input: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, from: '192.0.2.41', bearer: session });
    assert.equal(change.authCode, 'INVALID_CREDENTIALS');

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.ok(signedIn(await login('192.0.2.40', PASSWORD, { cookie: device })));
  });

  it('while strangers keep the account locked, the owner\'s session still changes the password', async () => {
    const { app, login, signedIn, strangerGetsIn, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    const session = (await login('192.0.2.50', PASSWORD)).accessToken as string;
    await hammer(2, 2);
    assert.equal(await strangerGetsIn(), false);
    const change = await call(app, 'auth.changePassword', { input: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, from: '192.0.2.50', bearer: session });
    assert.equal(change.status, 200, JSON.stringify(change.body));
    // A new password starts with no failures: strangers must spend their share anew.
    assert.ok(signedIn(await login(freshAddress(), NEW_PASSWORD)));
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('right after a reset from a known device the attacker re-arms the lock, and the owner still signs in from that device', async () => {
    const { app, email, login, signedIn, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    const ownerDevice = (await login('192.0.2.60', PASSWORD)).deviceCookie;
    // The attacker knew the old password once, and signed in from a browser of their own.
    const attackerDevice = (await login('203.0.113.60', PASSWORD)).deviceCookie;
    await hammer(2, 2);
    assert.equal(signedIn(await login('192.0.2.61', PASSWORD)), false, 'the owner without the cookie, elsewhere, is locked out');

    await call(app, 'auth.forgotPassword', { input: { email }, from: '192.0.2.60', cookie: ownerDevice });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    const reset = await call(app, 'auth.resetPassword', { input: { token: mail.token, password: NEW_PASSWORD }, from: '192.0.2.60', cookie: ownerDevice });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.deviceCookie, ownerDevice, 'the resetting browser stays a known device');

    await hammer(2, 2);
    assert.equal(signedIn(await login(freshAddress(), NEW_PASSWORD)), false, 'the lock is armed again for strangers');
    assert.ok(signedIn(await login('192.0.2.60', NEW_PASSWORD, { cookie: ownerDevice })));
    // The attacker's device went with their sessions: even the right password from it is a stranger's.
    assert.equal(signedIn(await login('203.0.113.60', NEW_PASSWORD, { cookie: attackerDevice })), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('after the owner signs out everywhere, a thief\'s browser that once signed in is a stranger again, the right password or not', async () => {
    const { app, login, signedIn, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    const owner = await login('192.0.2.65', PASSWORD);
    // The thief learnt the password and signed in from a browser of their own, which the account now knows.
    const thiefDevice = (await login('203.0.113.65', PASSWORD)).deviceCookie;
    await hammer(2, 2);
    assert.ok(signedIn(await login('203.0.113.65', PASSWORD, { cookie: thiefDevice })), 'before: the thief\'s browser passes the strangers\' lock');

    const everywhere = await call(app, 'auth.logout', { input: { scope: 'all' }, from: '192.0.2.65', cookie: owner.deviceCookie, bearer: owner.accessToken });
    assert.equal(everywhere.status, 200, JSON.stringify(everywhere.body));
    const remembered = await kit().database.db.select().from(deviceTable).where(eq(deviceTable.userId, owner.userId as string));
    assert.deepEqual(remembered, []);

    // The strangers' share is spent: the thief's browser, with the right password, gets in no more.
    assert.equal(signedIn(await login('203.0.113.65', PASSWORD, { cookie: thiefDevice })), false);
    // Nor does a guess from it count as a known device's: it spends nothing of the owner's share.
    assert.equal(signedIn(await login('203.0.113.65', 'wrong guess!', { cookie: thiefDevice })), false);
    // The owner's own browser was forgotten too (signing out everywhere needs no password); once the
    // window ends it signs in and is known again, while the thief is held to the strangers' share.
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    const back = await login('192.0.2.65', PASSWORD, { cookie: owner.deviceCookie });
    assert.ok(signedIn(back));
    await hammer(2, 2);
    assert.ok(signedIn(await login('192.0.2.65', PASSWORD, { cookie: owner.deviceCookie })), 'the owner\'s browser is known again');
    assert.equal(signedIn(await login('203.0.113.65', PASSWORD, { cookie: thiefDevice })), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it("a thief holding one old token signs the owner out everywhere, but cannot make the owner's browser a stranger to the lock", async () => {
    const { app, login, signedIn, hammer } = await setUp({
      rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 },
      // Shorter than an access token's life, so the owner's live token can come from a sign-in long ago.
      recentAuth: { windowSeconds: 60 },
    });
    const owner = await login('192.0.2.66', PASSWORD);
    kit().clock.advanceSeconds(61);
    try {
      // A guessed password is a sign-in attempt that failed, and ends nothing.
      const guessed = await call(app, 'auth.logout', { input: { scope: 'all', password: 'a guess of the thief' }, from: '203.0.113.66', bearer: owner.accessToken });
      assert.equal(guessed.authCode, 'INVALID_CREDENTIALS');
      assert.ok(await app.auth.verifyAccessToken(owner.accessToken as string), 'the session the guess came with is still live');
      const everywhere = await call(app, 'auth.logout', { input: { scope: 'all' }, from: '203.0.113.66', bearer: owner.accessToken });
      assert.equal(everywhere.status, 200, JSON.stringify(everywhere.body));
      await hammer(2, 2);
      assert.ok(signedIn(await login('192.0.2.66', PASSWORD, { cookie: owner.deviceCookie })), "the owner's browser is still known");
    } finally {
      kit().clock.advanceSeconds(-61);
    }
  });

  it('an owner whose client keeps no cookies is known by the address it signed in from; a guesser sharing it gets that address\'s count only', async () => {
    const { app, login, signedIn, strangerGetsIn, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    // A native app: it never sends the device cookie back.
    const owner = await login('192.0.2.95', PASSWORD);
    assert.equal(owner.status, 200);
    await hammer(3, 2);
    assert.equal(await strangerGetsIn(), false, 'strangers have spent their share');
    assert.ok(signedIn(await login('192.0.2.95', PASSWORD)), 'the owner\'s address is known');
    assert.ok(signedIn(await login('192.0.2.95', PASSWORD)), 'and stays known, sign-in after sign-in');
    // The address is counted like a device: two guesses from it (a NAT the attacker shares) close it too.
    await login('192.0.2.95', 'wrong guess!');
    await login('192.0.2.95', 'wrong guess!');
    assert.equal(signedIn(await login('192.0.2.95', PASSWORD)), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);

    // Signing out everywhere forgets the address with the devices: a thief's, the owner's too.
    const again = await login('192.0.2.95', PASSWORD);
    const everywhere = await call(app, 'auth.logout', { input: { scope: 'all' }, from: '192.0.2.95', bearer: again.accessToken });
    assert.equal(everywhere.status, 200, JSON.stringify(everywhere.body));
    await hammer(2, 2);
    assert.equal(signedIn(await login('192.0.2.95', PASSWORD)), false);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('an owner with no known device gets one from the reset itself', async () => {
    const { app, email, login, signedIn, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    await hammer(2, 2);
    await call(app, 'auth.forgotPassword', { input: { email }, from: '192.0.2.70' });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    const reset = await call(app, 'auth.resetPassword', { input: { token: mail.token, password: NEW_PASSWORD }, from: '192.0.2.70' });
    assert.ok(reset.deviceCookie);
    await hammer(2, 2);
    assert.ok(signedIn(await login('192.0.2.70', NEW_PASSWORD, { cookie: reset.deviceCookie })));
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('locked, unknown and wrong get the very same answer', async () => {
    const { app, login, hammer } = await setUp({ rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 } });
    const wrong = await login(freshAddress(), 'wrong password!');
    const unknown = await call(app, 'auth.login', { input: { identifier: uniqueEmail('ghost'), password: PASSWORD }, from: freshAddress() });
    const unknownUsername = await call(app, 'auth.login', { input: { identifier: 'nobody_here', password: PASSWORD }, from: freshAddress() });
    // Locked for this client by its own count, with the right password.
    const busy = freshAddress();
    await login(busy, 'wrong password!');
    await login(busy, 'wrong password!');
    const lockedForClient = await login(busy, PASSWORD);
    // Locked for every stranger, with the right password.
    await hammer(2, 2);
    const lockedForStrangers = await login(freshAddress(), PASSWORD);

    const shape = (answer: Answer) => ({ status: answer.status, body: answer.body, setCookies: answer.setCookies, retryAfter: answer.retryAfter });
    for (const answer of [unknown, unknownUsername, lockedForClient, lockedForStrangers]) assert.deepEqual(shape(answer), shape(wrong));
    assert.equal(wrong.authCode, 'INVALID_CREDENTIALS');
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('an account remembers its newest devices and addresses only, and none when devices are off', async () => {
    const { login, signedIn, hammer } = await setUp({
      rateLimits: { loginFailuresPerAccountFromUnknownClients: 4, loginFailuresPerAccountPerClient: 2 },
      devices: { maxPerUser: 2, addressesPerUser: 2 },
    });
    const devices: Array<string | null> = [];
    for (const from of ['192.0.2.80', '192.0.2.81', '192.0.2.82']) {
      devices.push((await login(from, PASSWORD)).deviceCookie);
      kit().clock.advanceSeconds(1);
    }
    await hammer(2, 2);
    const outcomes = [];
    for (const [index, cookie] of devices.entries()) outcomes.push(signedIn(await login(`192.0.2.8${index}`, PASSWORD, { cookie })));
    assert.deepEqual(outcomes, [false, true, true]);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);

    const off = await setUp({ devices: { maxPerUser: 0 } });
    const answer = await off.login('192.0.2.90', PASSWORD);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.setCookies, []);
  });
});
