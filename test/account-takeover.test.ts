import assert from 'node:assert/strict';
import { it } from 'node:test';
import { COOKIE_TRANSPORT_HEADER } from '../shared/cookie-transport.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import type { TestApp, TestKit } from './harness/test-kit.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

/*
 * The ways the attack review took over an account, run as the attacker ran them; each test asserts
 * that the owner keeps the account and that the attacker's password, tokens and links are refused.
 */

const ATTACKER_PASSWORD = 'attacker chose this one';
const OWNER_PASSWORD = 'the owner picks a new one';

/** The newest mail to `to` whose subject matches, once it has arrived. */
async function newestMail(kit: TestKit, to: string, subject: string) {
  const before = kit.smtp.mailsTo(to).filter((mail) => mail.subject === subject).length;
  return kit.smtp.waitForMail(to, (mail) => mail.subject === subject && kit.smtp.mailsTo(to).filter((m) => m.subject === subject).indexOf(mail) >= before);
}

/** Signs in by the magic link mailed to `email`, as its owner does. */
async function signInByMagicLink(kit: TestKit, app: TestApp, email: string) {
  const waiting = newestMail(kit, email, 'Your sign-in link');
  await app.client().auth.magicLink.request.mutate({ email });
  const mail = await waiting;
  return app.client().auth.magicLink.verify.mutate({ token: mail.token as string });
}

describeOnEachDatabase('pre-account takeover', (kit) => {
  it('an attacker who signed up with the victim’s address loses the password when the owner signs in by magic link', async () => {
    const victim = uniqueEmail('victim');
    await kit().client().auth.register.mutate({ email: victim, password: ATTACKER_PASSWORD });
    const owner = await signInByMagicLink(kit(), kit(), victim);
    assert.equal(owner.user.emailConfirmed, true);

    await expectAuthError(kit().client().auth.login.mutate({ identifier: victim, password: ATTACKER_PASSWORD }), 'INVALID_CREDENTIALS');
    // The owner, signed in by the link, sets a password of their own without knowing any.
    await kit().client(owner.tokens.accessToken).auth.changePassword.mutate({ newPassword: OWNER_PASSWORD });
    const again = await kit().client().auth.login.mutate({ identifier: victim, password: OWNER_PASSWORD });
    assert.equal(again.user.id, owner.user.id);
  });

  it('the confirmation mail the attacker’s sign-up sent does not confirm the attacker’s password', async () => {
    const victim = uniqueEmail('victim');
    const waiting = newestMail(kit(), victim, 'Confirm your email address');
    await kit().client().auth.register.mutate({ email: victim, password: ATTACKER_PASSWORD });
    const mail = await waiting;
    // The owner clicks the link in their inbox; they never chose that password, so cannot show it.
    const confirmed = await kit().client().auth.confirmEmail.mutate({ token: mail.token as string });
    assert.ok(confirmed.tokens, 'the owner is signed in');
    await expectAuthError(kit().client().auth.login.mutate({ identifier: victim, password: ATTACKER_PASSWORD }), 'INVALID_CREDENTIALS');
  });

  it('a confirmation with the password chosen at sign-up keeps it', async () => {
    const email = uniqueEmail('registrant');
    const waiting = newestMail(kit(), email, 'Confirm your email address');
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const mail = await waiting;
    await kit().client().auth.confirmEmail.mutate({ token: mail.token as string, password: PASSWORD });
    assert.equal((await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD })).user.email, email);
  });

  it("with confirmation 'optional', the attacker's sessions, API tokens and pending email change all end when the owner proves the address", async () => {
    const app = await kit().variant({ signup: { emailConfirmation: 'optional' } });
    const victim = uniqueEmail('victim');
    const squatted = await app.client().auth.register.mutate({ email: victim, password: ATTACKER_PASSWORD });
    assert.ok(squatted.tokens);
    const attacker = app.client(squatted.tokens.accessToken);
    const backdoor = await attacker.auth.apiTokens.create.mutate({ name: 'backdoor' });
    const attackerInbox = uniqueEmail('attacker');
    await attacker.auth.changeEmail.mutate({ newEmail: attackerInbox, password: ATTACKER_PASSWORD });
    const change = await newestMail(kit(), attackerInbox, 'Confirm your new email address');

    const owner = await signInByMagicLink(kit(), app, victim);

    await expectAuthError(attacker.auth.me.query(), 'TOKEN_REVOKED');
    await expectAuthError(app.client(backdoor.token).auth.me.query(), 'TOKEN_REVOKED');
    await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: squatted.tokens.refreshToken }), 'TOKEN_REVOKED');
    await expectAuthError(app.client().auth.confirmEmail.mutate({ token: change.token as string }), 'LINK_INVALID');
    await expectAuthError(app.client().auth.login.mutate({ identifier: victim, password: ATTACKER_PASSWORD }), 'INVALID_CREDENTIALS');
    assert.equal((await app.client(owner.tokens.accessToken).auth.me.query()).email, victim);
  });
});

describeOnEachDatabase('a pending email change and the remedies', (kit) => {
  /** An intruder who knows the password starts moving the account to their own address. */
  async function intruderStartsChange(app: TestApp = kit()) {
    const { email, tokens } = await registerConfirmed(kit(), app);
    const intruder = await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    const intruderInbox = uniqueEmail('intruder');
    await app.client(intruder.tokens.accessToken).auth.changeEmail.mutate({ newEmail: intruderInbox, password: PASSWORD });
    const link = await newestMail(kit(), intruderInbox, 'Confirm your new email address');
    return { email, owner: app.client(tokens.accessToken), link: link.token as string };
  }

  it('a password change voids it', async () => {
    const { email, owner, link } = await intruderStartsChange();
    await owner.auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: OWNER_PASSWORD });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link }), 'LINK_INVALID');
    assert.equal((await owner.auth.me.query()).email, email);
  });

  it('a password reset voids it', async () => {
    const { email, link } = await intruderStartsChange();
    const waiting = newestMail(kit(), email, 'Reset your password');
    await kit().client().auth.forgotPassword.mutate({ email });
    const reset = await waiting;
    await kit().client().auth.resetPassword.mutate({ token: reset.token as string, password: OWNER_PASSWORD });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link }), 'LINK_INVALID');
  });

  it('signing out everywhere voids it', async () => {
    const { owner, link } = await intruderStartsChange();
    await owner.auth.logout.mutate({ scope: 'all' });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link }), 'LINK_INVALID');
  });

  it('the owner can cancel it by asking for the address the account has', async () => {
    const { email, owner, link } = await intruderStartsChange();
    await owner.auth.changeEmail.mutate({ newEmail: email, password: PASSWORD });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link }), 'LINK_INVALID');
  });

  it('a reset link stops working after a password change, and a magic link after a reset', async () => {
    const { email, tokens } = await registerConfirmed(kit());
    const resetWaiting = newestMail(kit(), email, 'Reset your password');
    await kit().client().auth.forgotPassword.mutate({ email });
    const reset = await resetWaiting;
    await kit().client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: OWNER_PASSWORD });
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token: reset.token as string, password: 'someone else again' }), 'LINK_INVALID');

    const magicWaiting = newestMail(kit(), email, 'Your sign-in link');
    await kit().client().auth.magicLink.request.mutate({ email });
    const magic = await magicWaiting;
    const secondReset = newestMail(kit(), email, 'Reset your password');
    await kit().client().auth.forgotPassword.mutate({ email });
    await kit().client().auth.resetPassword.mutate({ token: (await secondReset).token as string, password: PASSWORD });
    await expectAuthError(kit().client().auth.magicLink.verify.mutate({ token: magic.token as string }), 'LINK_INVALID');
  });
});

describeOnEachDatabase('a stolen access token', (kit) => {
  /** A session that signed in long ago and was refreshed since: live, but not recent. */
  async function oldSession() {
    const { email, tokens } = await registerConfirmed(kit());
    kit().clock.advanceSeconds(3600);
    const { tokens: refreshed } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
    return { email, client: kit().client(refreshed.accessToken), tokens: refreshed };
  }

  it('cannot mint an API token without a recent sign-in or the password', async () => {
    const { client } = await oldSession();
    await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'backdoor' }), 'RECENT_AUTH_REQUIRED');
    await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'backdoor', password: 'a guess at the password' }), 'INVALID_CREDENTIALS');
    const minted = await client.auth.apiTokens.create.mutate({ name: 'ci', password: PASSWORD });
    assert.match(minted.token, /^pat_/);
  });

  it('cannot end the owner’s other sessions and stay signed in', async () => {
    const { email, client } = await oldSession();
    const ownerElsewhere = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    const sessions = await client.auth.sessions.list.query();
    const others = sessions.filter((session) => !session.current);
    assert.ok(others.length > 0);
    for (const session of others) await expectAuthError(client.auth.sessions.revoke.mutate({ sessionId: session.id }), 'RECENT_AUTH_REQUIRED');
    await expectAuthError(client.auth.logout.mutate({ scope: 'others' }), 'RECENT_AUTH_REQUIRED');
    assert.ok(await kit().client(ownerElsewhere.tokens.accessToken).auth.me.query());
  });

  it('a session refreshed for days is not recent; a new sign-in is', async () => {
    const { email } = await oldSession();
    const fresh = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    assert.match((await kit().client(fresh.tokens.accessToken).auth.apiTokens.create.mutate({ name: 'fresh' })).token, /^pat_/);
  });

  it('signing out everywhere ends the API tokens too', async () => {
    const { email, tokens } = await registerConfirmed(kit());
    const apiToken = await kit().client(tokens.accessToken).auth.apiTokens.create.mutate({ name: 'ci' });
    const other = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    await kit().client(other.tokens.accessToken).auth.logout.mutate({ scope: 'all' });
    await expectAuthError(kit().client(apiToken.token).auth.me.query(), 'TOKEN_REVOKED');
    await expectAuthError(kit().client(tokens.accessToken).auth.me.query(), 'TOKEN_REVOKED');
  });
});

describeOnEachDatabase('changePassword is no password oracle', (kit) => {
  it('its wrong guesses count with the sign-in limits, and a locked account refuses the right password too', async () => {
    const app = await kit().variant({ rateLimits: { loginFailuresPerAccount: 3 } });
    const { email, tokens } = await registerConfirmed(kit(), app);
    const thief = app.client(tokens.accessToken);
    for (let guess = 0; guess < 5; guess++) {
      await expectAuthError(thief.auth.changePassword.mutate({ currentPassword: `guess number ${guess}!`, newPassword: OWNER_PASSWORD }), 'INVALID_CREDENTIALS');
    }
    await expectAuthError(thief.auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: OWNER_PASSWORD }), 'INVALID_CREDENTIALS');
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: OWNER_PASSWORD }), 'INVALID_CREDENTIALS');
  });

  it('an account with a password cannot drop the current one from the call', async () => {
    const { tokens } = await registerConfirmed(kit());
    await expectAuthError(kit().client(tokens.accessToken).auth.changePassword.mutate({ newPassword: OWNER_PASSWORD }), 'INVALID_CREDENTIALS');
  });
});

describeOnEachDatabase('every sign-in honours cookie mode', (kit) => {
  type Answer = { status: number; /** The refresh cookie's line. */ setCookie: string | null; refreshToken: string | null | undefined; authCode: string | undefined };

  async function post(app: TestApp, path: string, request: { input: unknown; origin?: string }): Promise<Answer> {
    const response = await fetch(`${app.url}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: request.origin ?? APP_URL, [COOKIE_TRANSPORT_HEADER]: 'cookie' },
      body: JSON.stringify({ json: request.input }),
    });
    const body = (await response.json()) as { result?: { data: { json: { tokens?: { refreshToken: string | null } } } }; error?: { json: { data: { authCode?: string } } } };
    return { status: response.status, setCookie: response.headers.getSetCookie().find((line) => line.startsWith('__Host-auth-refresh=')) ?? null, refreshToken: body.result?.data.json.tokens?.refreshToken, authCode: body.error?.json.data.authCode };
  }

  /** Each sign-in procedure, with a fresh input that signs in once. */
  const signIns: Array<{ path: string; input: (app: TestApp) => Promise<unknown> }> = [
    { path: 'auth.login', input: async (app) => ({ identifier: (await registerConfirmed(kit(), app)).email, password: PASSWORD }) },
    {
      path: 'auth.confirmEmail',
      input: async (app) => {
        const email = uniqueEmail('cookie');
        const waiting = newestMail(kit(), email, 'Confirm your email address');
        await app.client().auth.register.mutate({ email, password: PASSWORD });
        return { token: (await waiting).token, password: PASSWORD };
      },
    },
    {
      path: 'auth.magicLink.verify',
      input: async (app) => {
        const { email } = await registerConfirmed(kit(), app);
        const waiting = newestMail(kit(), email, 'Your sign-in link');
        await app.client().auth.magicLink.request.mutate({ email });
        return { token: (await waiting).token };
      },
    },
    {
      path: 'auth.acceptInvite',
      input: async (app) => {
        const email = uniqueEmail('invited');
        const waiting = newestMail(kit(), email, 'You are invited');
        await app.auth.invite({ email });
        return { token: (await waiting).token, password: PASSWORD };
      },
    },
  ];

  for (const { path, input } of signIns) {
    it(`${path}: the refresh token travels in the cookie only, and a foreign origin is refused first`, async () => {
      const app = await kit().variant({ cookies: { allowedOrigins: [APP_URL] } });
      const valid = await input(app);
      const forged = await post(app, path, { input: valid, origin: 'https://evil.example' });
      assert.equal(forged.authCode, 'ORIGIN_NOT_ALLOWED');
      const answer = await post(app, path, { input: valid });
      assert.equal(answer.status, 200, JSON.stringify(answer));
      assert.equal(answer.refreshToken, null);
      assert.match(answer.setCookie ?? '', /^__Host-auth-refresh=rt_[A-Za-z0-9_-]+; Path=\/; HttpOnly; Secure; SameSite=Strict/);
    });
  }
});

describeOnEachDatabase('one password, however it is typed', (kit) => {
  // "é" composed (U+00E9) and decomposed (e + U+0301): the same password on every path.
  const composed = 'caf\u00e9 correct horse battery';
  const decomposed = 'cafe\u0301 correct horse battery';

  it('register, login, changeEmail, changePassword, resetPassword and acceptInvite treat both forms alike', async () => {
    const email = uniqueEmail('unicode');
    const waiting = newestMail(kit(), email, 'Confirm your email address');
    await kit().client().auth.register.mutate({ email, password: composed });
    await kit().client().auth.confirmEmail.mutate({ token: (await waiting).token as string, password: decomposed });
    const { tokens } = await kit().client().auth.login.mutate({ identifier: email, password: decomposed });
    const client = kit().client(tokens.accessToken);
    await client.auth.changeEmail.mutate({ newEmail: email, password: decomposed });
    await client.auth.changePassword.mutate({ currentPassword: decomposed, newPassword: composed });
    await kit().client().auth.login.mutate({ identifier: email, password: decomposed });

    const resetWaiting = newestMail(kit(), email, 'Reset your password');
    await kit().client().auth.forgotPassword.mutate({ email });
    await kit().client().auth.resetPassword.mutate({ token: (await resetWaiting).token as string, password: decomposed });
    await kit().client().auth.login.mutate({ identifier: email, password: composed });

    const invited = uniqueEmail('invited');
    const inviteWaiting = newestMail(kit(), invited, 'You are invited');
    await kit().auth.invite({ email: invited });
    await kit().client().auth.acceptInvite.mutate({ token: (await inviteWaiting).token as string, password: decomposed });
    await kit().client().auth.login.mutate({ identifier: invited, password: composed });
  });
});
