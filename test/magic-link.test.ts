import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

describeOnEachDatabase('magic links', (kit) => {
  async function requestLink(email: string) {
    assert.deepEqual(await kit().client().auth.magicLink.request.mutate({ email }), { ok: true });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'Your sign-in link' && !usedTokens.has(received.token ?? ''));
    usedTokens.add(mail.token ?? '');
    return mail;
  }
  const usedTokens = new Set<string>();

  it('the mailed link signs in once; opening it (GET) spends nothing', async () => {
    const { email, user } = await registerConfirmed(kit());
    const mail = await requestLink(email);
    assert.ok(mail.body.includes(`${APP_URL}/magic-link?token=${mail.token}`));
    assert.ok(mail.text.includes('10 minutes'));
    // A GET (what a mail scanner sends) cannot spend it: verify is a mutation, refused over GET.
    const input = encodeURIComponent(JSON.stringify({ json: { token: mail.token } }));
    assert.equal((await fetch(`${kit().url}/auth.magicLink.verify?input=${input}`)).status, 405);
    const signedIn = await kit().client().auth.magicLink.verify.mutate({ token: mail.token as string });
    assert.equal(signedIn.user.id, user.id);
    assert.equal((await kit().client(signedIn.tokens.accessToken).auth.me.query()).id, user.id);
    await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token: mail.token as string }), 'LINK_INVALID');
  });

  it('answers the same for an unknown address, and mails nothing there', async () => {
    const unknown = uniqueEmail('nobody');
    assert.deepEqual(await kit().client().auth.magicLink.request.mutate({ email: unknown }), { ok: true });
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(unknown).length, 0);
  });

  it('only the newest link works, and a link expires after ten minutes', async () => {
    const { email } = await registerConfirmed(kit());
    const first = await requestLink(email);
    const second = await requestLink(email);
    await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token: first.token as string }), 'LINK_INVALID');
    kit().clock.advanceSeconds(601);
    await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token: second.token as string }), 'LINK_EXPIRED');
  });

  it('confirms an unconfirmed address, which the link proves', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const mail = await requestLink(email);
    const { user } = await kit().client().auth.magicLink.verify.mutate({ token: mail.token as string });
    assert.equal(user.emailConfirmed, true);
  });

  it('bad input is INVALID_INPUT and mails nothing', async () => {
    for (const input of [{ email: 'not an address' }, { email: uniqueEmail(), extra: true }, {}]) {
      await expectAuthError(kit().client().auth.magicLink.request.mutate(input as never), 'INVALID_INPUT');
    }
    for (const input of [{ token: 42 }, { token: 'lk_'.padEnd(5000, 'A') }, {}]) {
      await expectAuthError(kit().client().auth.magicLink.verify.mutate(input as never), 'INVALID_INPUT');
    }
  });

  it('a link of another kind, or garbage, is LINK_INVALID', async () => {
    const { email } = await registerConfirmed(kit());
    await kit().client().auth.forgotPassword.mutate({ email });
    const reset = await kit().smtp.waitForMail(email, (received) => received.subject === 'Reset your password');
    for (const token of [reset.token as string, 'lk_nothing', `lk_${'A'.repeat(65)}`]) {
      await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token }), 'LINK_INVALID');
    }
  });

  it('off by option: settings say so and a request is MAGIC_LINK_DISABLED', async () => {
    const app = await kit().variant({ magicLink: { enabled: false } });
    assert.equal((await app.client().auth.settings.query()).magicLink, false);
    assert.equal((await kit().client().auth.settings.query()).magicLink, true);
    await expectAuthError(app.client().auth.magicLink.request.mutate({ email: uniqueEmail() }), 'MAGIC_LINK_DISABLED');
  });
});
