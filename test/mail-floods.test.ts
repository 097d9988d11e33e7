import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { AuthOptions } from '../server/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';

/*
 * What a flood of mail-sending calls can do to other people's mail: nothing. Each client of these
 * tests is named by an `x-test-client` header (the `clientIp` option), so many clients can be played
 * from one process.
 */

const byTestClient: AuthOptions['clientIp'] = (opts) =>
  'headers' in opts.req && !('get' in opts.req.headers) ? String(opts.req.headers['x-test-client']) : null;

/** A mutation sent as client `client`; resolves with the HTTP status and the Retry-After header. */
async function callAs(app: TestApp, request: { client: string; path: string; input: unknown }) {
  const response = await fetch(`${app.url}/${request.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-client': request.client },
    body: JSON.stringify({ json: request.input }),
  });
  await response.body?.cancel();
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

describeOnEachDatabase('mail floods', (kit) => {
  it("a sign-up flood against a slow relay neither drops nor delays another user's password reset", async () => {
    const errors: string[] = [];
    const app = await kit().variant({
      clientIp: byTestClient,
      mail: { delivery: { maxQueuedPerKind: 10, concurrency: 1 } },
      logger: { info() {}, warn() {}, error: (message: string) => errors.push(message) },
    });
    const { email: victim } = await registerConfirmed(kit(), app);
    kit().smtp.setDelayMs(100);
    try {
      // Forty sign-ups from forty clients: ten confirmation mails fill their kind's share, thirty are dropped.
      const signUps = await Promise.all(
        Array.from({ length: 40 }, (_, index) => callAs(app, { client: `flood-${index}`, path: 'auth.register', input: { email: uniqueEmail('flood'), password: PASSWORD } })),
      );
      assert.ok(signUps.every(({ status }) => status === 200));
      assert.ok(errors.some((message) => message.startsWith('mail dropped')), 'the flood overflowed its share');

      const asked = kit().smtp.received.length;
      assert.equal((await callAs(app, { client: 'victim', path: 'auth.forgotPassword', input: { email: victim } })).status, 200);
      const reset = await kit().smtp.waitForMail(victim, (mail) => mail.subject === 'Reset your password', 10_000);
      assert.ok(reset.token, 'the reset mail carries its link');
      // The kinds are sent in turn: the reset waited for the sign-up mail on the wire, not the backlog.
      const sentBetween = kit().smtp.received.slice(asked).indexOf(reset);
      assert.ok(sentBetween <= 2, `${sentBetween} sign-up mails went out between the request and the reset`);
      assert.ok(kit().smtp.received.length - asked < 10, 'the sign-up backlog was still waiting');
    } finally {
      kit().smtp.setDelayMs(0);
      await app.auth.settled();
    }
  });

  it('one client cannot send mail past its allowance, and another client still can', async () => {
    const app = await kit().variant({ clientIp: byTestClient, rateLimits: { mailsPerClientPerHour: 3 } });
    const { email: victim } = await registerConfirmed(kit(), app);
    const flood = [];
    for (const path of ['auth.forgotPassword', 'auth.magicLink.request', 'auth.resendConfirmation', 'auth.forgotUsername']) {
      flood.push(await callAs(app, { client: 'flooder', path, input: { email: uniqueEmail('stranger') } }));
    }
    assert.deepEqual(flood.map(({ status }) => status), [200, 200, 200, 429]);
    assert.ok(Number(flood[3]?.retryAfter) > 0, 'the refusal says when to come back');
    // A sign-up past the allowance is refused before anything is written.
    const refusedEmail = uniqueEmail('refused');
    assert.equal((await callAs(app, { client: 'flooder', path: 'auth.register', input: { email: refusedEmail, password: PASSWORD } })).status, 429);
    await expectAuthError(app.client().auth.login.mutate({ identifier: refusedEmail, password: PASSWORD }), 'INVALID_CREDENTIALS');

    assert.equal((await callAs(app, { client: 'victim', path: 'auth.forgotPassword', input: { email: victim } })).status, 200);
    await kit().smtp.waitForMail(victim, (mail) => mail.subject === 'Reset your password');
  });

  it("email-change mails to a third party's address stay under the per-address cap", async () => {
    const app = await kit().variant({ rateLimits: { mailsPerAddressPerHour: 2 } });
    const { tokens } = await registerConfirmed(kit(), app);
    const thirdParty = uniqueEmail('third-party');
    for (let attempt = 0; attempt < 5; attempt++) {
      assert.deepEqual(await app.client(tokens.accessToken).auth.changeEmail.mutate({ newEmail: thirdParty, password: PASSWORD }), { ok: true });
    }
    await app.auth.settled();
    assert.equal(kit().smtp.mailsTo(thirdParty).length, 2);
  });
});
