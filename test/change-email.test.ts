import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

describeOnEachDatabase('email change', (kit) => {
  it('takes effect only when the new address confirms, signing nobody in; the old address is told; sessions end', async () => {
    const { email, tokens } = await registerConfirmed(kit());
    const newEmail = uniqueEmail('moved');
    const client = kit().client(tokens.accessToken);
    assert.deepEqual(await client.auth.changeEmail.mutate({ newEmail, password: PASSWORD }), { ok: true });

    const notice = await kit().smtp.waitForMail(email, (mail) => mail.subject === 'Your email address is being changed');
    assert.ok(notice.body.includes(newEmail));
    assert.equal(notice.token, null);
    const link = await kit().smtp.waitForMail(newEmail, (mail) => mail.subject === 'Confirm your new email address');
    assert.ok(link.body.includes(`${APP_URL}/confirm-email?token=${link.token}`));
    // Nothing changed yet: the old address still signs in, the new one does not.
    assert.equal((await client.auth.me.query()).email, email);
    await expectAuthError(kit().client().auth.login.mutate({ identifier: newEmail, password: PASSWORD }), 'INVALID_CREDENTIALS');

    const confirmed = await kit().client().auth.confirmEmail.mutate({ token: link.token as string });
    assert.equal(confirmed.user.email, newEmail);
    // Whoever holds the link proved the new address, not the account: nobody is signed in by it.
    assert.equal(confirmed.tokens, undefined);
    await expectAuthError(client.auth.me.query(), 'TOKEN_REVOKED');
    const signedIn = await kit().client().auth.login.mutate({ identifier: newEmail, password: PASSWORD });
    assert.equal((await kit().client(signedIn.tokens.accessToken).auth.me.query()).email, newEmail);
    await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link.token as string }), 'LINK_INVALID');
  });

  it('bad input is INVALID_INPUT, with nothing written', async () => {
    const { tokens, email } = await registerConfirmed(kit());
    const client = kit().client(tokens.accessToken);
    for (const input of [{ newEmail: 'nope', password: PASSWORD }, { newEmail: uniqueEmail(), password: PASSWORD, confirmed: true }, { newEmail: uniqueEmail() }]) {
      await expectAuthError(client.auth.changeEmail.mutate(input as never), 'INVALID_INPUT');
    }
    assert.equal((await client.auth.me.query()).email, email);
  });

  it('a wrong password changes nothing and mails nothing', async () => {
    const { tokens } = await registerConfirmed(kit());
    const newEmail = uniqueEmail('never');
    await expectAuthError(kit().client(tokens.accessToken).auth.changeEmail.mutate({ newEmail, password: 'not the password' }), 'INVALID_CREDENTIALS');
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(newEmail).length, 0);
  });

  it("another account's address answers the same and gets no mail", async () => {
    const { tokens } = await registerConfirmed(kit());
    const other = await registerConfirmed(kit());
    const before = kit().smtp.mailsTo(other.email).length;
    assert.deepEqual(await kit().client(tokens.accessToken).auth.changeEmail.mutate({ newEmail: other.email, password: PASSWORD }), { ok: true });
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(other.email).length, before);
  });

  it('only the newest link works, and an address taken meanwhile makes the link worthless', async () => {
    const { tokens } = await registerConfirmed(kit());
    const client = kit().client(tokens.accessToken);
    const first = uniqueEmail('first');
    const second = uniqueEmail('second');
    await client.auth.changeEmail.mutate({ newEmail: first, password: PASSWORD });
    const firstLink = await kit().smtp.waitForMail(first, (mail) => mail.token !== null);
    await client.auth.changeEmail.mutate({ newEmail: second, password: PASSWORD });
    const secondLink = await kit().smtp.waitForMail(second, (mail) => mail.token !== null);
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: firstLink.token as string }), 'LINK_INVALID');

    // Someone signs up with the address before the link is used.
    await kit().client().auth.register.mutate({ email: second, password: PASSWORD });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: secondLink.token as string }), 'LINK_INVALID');
  });

  it('an API token cannot change the address', async () => {
    const { tokens } = await registerConfirmed(kit());
    const { token } = await kit().client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'script' });
    await expectAuthError(kit().client(token).auth.changeEmail.mutate({ newEmail: uniqueEmail(), password: PASSWORD }), 'INSUFFICIENT_SCOPE');
  });
});
