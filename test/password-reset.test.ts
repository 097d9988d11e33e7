import assert from 'node:assert/strict';
import { it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { linkTokenTable } from '../db/schema.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

const NEW_PASSWORD = 'a brand new passphrase';

describeOnEachDatabase('forgot and reset password', (kit) => {
  async function requestReset(email: string) {
    const before = kit().smtp.mailsTo(email).length;
    assert.deepEqual(await kit().client().auth.forgotPassword.mutate({ email }), { ok: true });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password' && kit().smtp.mailsTo(email).indexOf(received) >= before);
    return mail.token as string;
  }

  it('the mailed link sets a new password, ends every session and signs nobody in', async () => {
    const { email, tokens } = await registerConfirmed(kit());
    const other = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    const token = await requestReset(email);
    const mail = kit().smtp.mailsTo(email).find((received) => received.token === token);
    assert.ok(mail?.body.includes(`${APP_URL}/reset-password?token=${token}`));

    assert.deepEqual(await kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD }), { ok: true });
    for (const session of [tokens, other.tokens]) {
      await expectAuthError(kit().client(session.accessToken).demo.whoami.query(), 'TOKEN_REVOKED');
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: session.refreshToken }), 'TOKEN_REVOKED');
    }
    await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    await kit().client().auth.login.mutate({ identifier: email, password: NEW_PASSWORD });
    // The notice says what happened (every session ended, not "the other ones") and links to where a reset starts.
    const notice = await kit().smtp.waitForMail(email, (received) => received.subject === 'Your password was changed');
    assert.match(notice.text, /every session of it was signed out/);
    assert.doesNotMatch(notice.text, /other sessions/);
    assert.ok(notice.text.includes(`${APP_URL}/reset-password`) && !notice.text.includes('token='), notice.text);
    assert.ok(notice.html.includes(`href="${APP_URL}/reset-password"`), notice.html);
  });

  it('a reset link works once', async () => {
    const { email } = await registerConfirmed(kit());
    const token = await requestReset(email);
    await kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD });
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token, password: 'yet another passphrase' }), 'LINK_INVALID');
  });

  it('only the newest reset link works', async () => {
    const { email } = await registerConfirmed(kit());
    const first = await requestReset(email);
    const second = await requestReset(email);
    assert.notEqual(first, second);
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token: first, password: NEW_PASSWORD }), 'LINK_INVALID');
    await kit().client().auth.resetPassword.mutate({ token: second, password: NEW_PASSWORD });
  });

  it('requests at once still leave one working reset link', async () => {
    const { email, user } = await registerConfirmed(kit());
    await Promise.all([1, 2, 3, 4, 5].map(() => kit().client().auth.forgotPassword.mutate({ email })));
    await kit().auth.settled();
    const pending = await kit()
      .database.db.select()
      .from(linkTokenTable)
      .where(and(eq(linkTokenTable.userId, user.id), eq(linkTokenTable.purpose, 'reset-password')));
    assert.equal(pending.length, 1);
    const mailed = kit().smtp.mailsTo(email).filter((mail) => mail.subject === 'Reset your password');
    assert.equal(mailed.length, 5);
    let worked = 0;
    for (const { token } of mailed) {
      const reset = kit().client().auth.resetPassword.mutate({ token: token as string, password: NEW_PASSWORD });
      if (await reset.then(() => true, () => false)) worked++;
    }
    assert.equal(worked, 1);
  });

  it('a reset link expires after an hour', async () => {
    const { email } = await registerConfirmed(kit());
    const token = await requestReset(email);
    kit().clock.advanceSeconds(3601);
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD }), 'LINK_EXPIRED');
  });

  it('a weak new password is refused and the link still works', async () => {
    const { email } = await registerConfirmed(kit());
    const token = await requestReset(email);
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token, password: 'short' }), 'WEAK_PASSWORD');
    await kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD });
  });

  it('tokens of other kinds and other purposes are LINK_INVALID and spend nothing', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const confirmation = (await kit().smtp.waitForMail(email)).token as string;
    for (const token of [confirmation, 'lk_forged', `lk_${'A'.repeat(65)}`]) {
      await expectAuthError(kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD }), 'LINK_INVALID');
    }
    const { user } = await kit().client().auth.confirmEmail.mutate({ token: confirmation });
    assert.equal(user.emailConfirmed, true);
  });

  it('resetting proves the address: an unconfirmed account becomes confirmed', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'EMAIL_NOT_CONFIRMED');
    const token = await requestReset(email);
    await kit().client().auth.resetPassword.mutate({ token, password: NEW_PASSWORD });
    const { user } = await kit().client().auth.login.mutate({ identifier: email, password: NEW_PASSWORD });
    assert.equal(user.emailConfirmed, true);
  });

  it('answers the same for an unknown address and mails nobody; forwarded-host headers never reach a link', async () => {
    const unknown = uniqueEmail('nobody');
    assert.deepEqual(await kit().client().auth.forgotPassword.mutate({ email: unknown }), { ok: true });
    const { email } = await registerConfirmed(kit());
    const response = await fetch(`${kit().url}/auth.forgotPassword`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example' },
      body: JSON.stringify({ json: { email } }),
    });
    assert.equal(response.status, 200);
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    assert.ok(!mail.body.includes('evil.example'));
    assert.ok(mail.body.includes(`${APP_URL}/reset-password?token=`));
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(unknown).length, 0);
  });

  it('hostile input is INVALID_INPUT', async () => {
    for (const input of [{ email: 'nope' }, { email: uniqueEmail(), extra: 1 }, { email: ['a@b.c'] }]) {
      await expectAuthError(kit().client().auth.forgotPassword.mutate(input as never), 'INVALID_INPUT');
    }
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token: 'lk_x', password: 'p'.repeat(2000) }), 'INVALID_INPUT');
  });
});

describeOnEachDatabase('forgot username', (kit) => {
  it('mails the username to the confirmed address, and answers the same for any address', async () => {
    const { email } = await registerConfirmed(kit(), kit(), { username: 'Remember_Me' });
    const nameless = await registerConfirmed(kit());
    const unknown = uniqueEmail('nobody');
    for (const address of [email, nameless.email, unknown]) {
      assert.deepEqual(await kit().client().auth.forgotUsername.mutate({ email: address }), { ok: true });
    }
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Your username');
    assert.ok(mail.body.includes('Remember_Me'));
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(unknown).length, 0);
    assert.ok(kit().smtp.mailsTo(nameless.email).every((received) => received.subject !== 'Your username'));
  });

  it('an unconfirmed address is not sent the username', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD, username: 'unconfirmed_1' });
    await kit().client().auth.forgotUsername.mutate({ email });
    await kit().auth.settled();
    assert.ok(kit().smtp.mailsTo(email).every((received) => received.subject !== 'Your username'));
  });
});
