import assert from 'node:assert/strict';
import { it } from 'node:test';
import { registerConfirmed } from './harness/flows.js';
import type { Answer } from './harness/named-clients.js';
import { clientFromHeader, mutateAs } from './harness/named-clients.js';
import { PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';

const WINDOW_SECONDS = 900;
/** The documented defaults. */
const SESSIONS_PER_IP = 60;

const login = (email: string) => ({ path: 'auth.login', input: { identifier: email, password: PASSWORD } });
const accessTokenOf = (answer: Answer) => (answer.data as { tokens: { accessToken: string } }).tokens.accessToken;

describeOnEachDatabase('sessions one client or one account can start are bounded', (kit) => {
  it('one client signing in over and over is refused past its bound, whichever way in, and the refusals lock nothing', async () => {
    const app = await kit().variant({ clientIp: clientFromHeader, rateLimits: { loginFailuresPerAccount: 2 } });
    const { email } = await registerConfirmed(kit(), app);
    for (let session = 0; session < SESSIONS_PER_IP; session++) assert.equal((await mutateAs(app, 'flooder', login(email))).status, 200);

    const refused = [await mutateAs(app, 'flooder', login(email)), await mutateAs(app, 'flooder', login(email)), await mutateAs(app, 'flooder', login(email))];
    for (const answer of refused) {
      assert.equal(answer.authCode, 'RATE_LIMITED');
      assert.ok(answer.retryAfter !== null && answer.retryAfter > 1 && answer.retryAfter <= WINDOW_SECONDS, String(answer.retryAfter));
    }
    // The bound is on sessions, not on sign-in by password: a mailed sign-in link is refused too.
    await app.client().auth.magicLink.request.mutate({ email });
    const link = await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your sign-in link');
    assert.equal((await mutateAs(app, 'flooder', { path: 'auth.magicLink.verify', input: { token: link.token } })).authCode, 'RATE_LIMITED');

    // Three refusals with the right password, over a lock of two failures: the account is not
    // locked, and another client of the owner's signs in; the refused calls started no session.
    const elsewhere = await mutateAs(app, 'elsewhere', login(email));
    assert.equal(elsewhere.status, 200);
    const sessions = await kit().client(accessTokenOf(elsewhere)).auth.sessions.list.query();
    assert.equal(sessions.length, 1 + SESSIONS_PER_IP + 1);

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.equal((await mutateAs(app, 'flooder', login(email))).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('an account signing in on fifty devices within a minute, each from its own address, is let in on every one', async () => {
    const app = await kit().variant({ clientIp: clientFromHeader });
    const { email } = await registerConfirmed(kit(), app);
    const answers: Answer[] = [];
    // Ten at a time, every twelve seconds of the kit's clock.
    for (let wave = 0; wave < 5; wave++) {
      answers.push(...(await Promise.all(Array.from({ length: 10 }, (_, device) => mutateAs(app, `device-${wave}-${device}`, login(email))))));
      kit().clock.advanceSeconds(12);
    }
    assert.deepEqual(
      answers.map((answer) => answer.authCode),
      answers.map(() => null),
    );
    const sessions = await kit().client(accessTokenOf(answers[0] as Answer)).auth.sessions.list.query();
    assert.equal(sessions.length, 1 + 50);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });

  it('an account is bounded across clients too, with Retry-After, and is let in again once its window ends', async () => {
    const app = await kit().variant({ clientIp: clientFromHeader, rateLimits: { sessionsPerAccount: 5 } });
    const { email } = await registerConfirmed(kit(), app);
    // The confirmation signed in once already.
    for (let device = 0; device < 4; device++) assert.equal((await mutateAs(app, `device-${device}`, login(email))).status, 200);
    const over = await mutateAs(app, 'device-new', login(email));
    assert.equal(over.authCode, 'RATE_LIMITED');
    assert.ok(over.retryAfter !== null && over.retryAfter > 1);
    // Another account from the same client is not held back.
    const other = await registerConfirmed(kit(), app);
    assert.equal((await mutateAs(app, 'device-new', login(other.email))).status, 200);

    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
    assert.equal((await mutateAs(app, 'device-new', login(email))).status, 200);
    kit().clock.advanceSeconds(WINDOW_SECONDS + 1);
  });
});
