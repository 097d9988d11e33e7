import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';
import { until } from './harness/poll.js';

describeOnEachDatabase('mail delivery', (kit) => {
  /** Takes the SMTP server down until `refusals` more connections were refused, then back up. */
  async function outage(smtp: TestKit['smtp'], refusals: number, during: () => Promise<void>): Promise<void> {
    const before = smtp.refusedConnections();
    smtp.setDown(true);
    try {
      await during();
      await until(() => smtp.refusedConnections() >= before + refusals, `${refusals} refused connections`);
    } finally {
      smtp.setDown(false);
    }
  }

  it('an SMTP outage changes no answer, and the mail arrives once the server is back', async () => {
    const app = await kit().variant({ mail: { delivery: { firstRetryDelayMs: 20 } } });
    const { email } = await registerConfirmed(kit(), app);
    const unknown = uniqueEmail('nobody');
    await outage(kit().smtp, 2, async () => {
      assert.deepEqual(await app.client().auth.forgotPassword.mutate({ email }), { ok: true });
      assert.deepEqual(await app.client().auth.forgotPassword.mutate({ email: unknown }), { ok: true });
    });
    await app.auth.settled();
    assert.equal(kit().smtp.mailsTo(email).filter((mail) => mail.subject === 'Reset your password').length, 1);
    assert.equal(kit().smtp.mailsTo(unknown).length, 0);
  });

  it('a mail is given up on after its attempts, and nothing arrives later', async () => {
    const app = await kit().variant({ mail: { delivery: { attempts: 2, firstRetryDelayMs: 10 } } });
    const { email } = await registerConfirmed(kit(), app);
    await outage(kit().smtp, 2, async () => {
      await app.client().auth.forgotPassword.mutate({ email });
      await app.auth.settled();
    });
    await app.auth.settled();
    assert.equal(kit().smtp.mailsTo(email).filter((mail) => mail.subject === 'Reset your password').length, 0);
  });

  it('the queue is bounded per kind: beyond it mail of that kind is dropped, and the answers stay the same', async () => {
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (message: string) => errors.push(message) };
    const app = await kit().variant({ mail: { delivery: { maxQueuedPerKind: 2, firstRetryDelayMs: 20 } }, logger });
    const accounts: Array<{ email: string }> = [];
    for (let index = 0; index < 4; index++) accounts.push(await registerConfirmed(kit(), app));
    await outage(kit().smtp, 2, async () => {
      for (const { email } of accounts) assert.deepEqual(await app.client().auth.forgotPassword.mutate({ email }), { ok: true });
      // Two wait for their retry; the other two found the queue full.
      await until(() => errors.filter((message) => message.startsWith('mail dropped')).length === 2, 'two dropped mails');
    });
    await app.auth.settled();
    const delivered = accounts.filter(({ email }) => kit().smtp.mailsTo(email).some((mail) => mail.subject === 'Reset your password'));
    assert.equal(delivered.length, 2);
  });

  it('the work after the answers keeps their order, spread or not: of three reset mails, the last to arrive is the one that works', async () => {
    const app = await kit().variant({ mail: { delivery: { spreadMs: 300, concurrency: 1 } } });
    const { email } = await registerConfirmed(kit(), app);
    for (let request = 0; request < 3; request++) await app.client().auth.forgotPassword.mutate({ email });
    // Waited for, not settled: settling would start what waits at once.
    const resets = () => kit().smtp.mailsTo(email).filter((mail) => mail.subject === 'Reset your password');
    await until(() => resets().length === 3, 'three reset mails');
    const tokens = resets().map((mail) => mail.token as string);
    const newest = tokens.pop() as string;
    for (const token of tokens) await expectAuthError(app.client().auth.resetPassword.mutate({ token, password: 'a brand new passphrase' }), 'LINK_INVALID');
    assert.deepEqual(await app.client().auth.resetPassword.mutate({ token: newest, password: 'a brand new passphrase' }), { ok: true });
  });

  it('closing starts the work that still waits out its spread, and its mail goes out', async () => {
    const app = await kit().variant({ mail: { delivery: { spreadMs: 60_000 } } });
    const { email } = await registerConfirmed(kit(), await kit().variant({}));
    await app.client().auth.forgotPassword.mutate({ email });
    await app.close();
    assert.equal(kit().smtp.mailsTo(email).filter((mail) => mail.subject === 'Reset your password').length, 1);
  });

  it('a mail has a text and an HTML part, and its link in both', async () => {
    const { email } = await registerConfirmed(kit());
    await kit().client().auth.forgotPassword.mutate({ email });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    assert.ok(mail.text.includes(`token=${mail.token}`));
    assert.ok(mail.html.includes(`token=${mail.token}`));
  });
});
