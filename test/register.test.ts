import assert from 'node:assert/strict';
import { it } from 'node:test';
import { count, eq } from 'drizzle-orm';
import { userTable } from '../db/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

describeOnEachDatabase('register and confirm the address', (kit) => {
  it('register mails a confirmation link under the configured origin, and the link signs the user in', async () => {
    const email = uniqueEmail();
    const registered = await kit().client().auth.register.mutate({ email, password: PASSWORD, username: 'Ada_1' });
    assert.deepEqual(registered, { confirmationSent: true });

    const mail = await kit().smtp.waitForMail(email);
    assert.equal(mail.subject, 'Confirm your email address');
    assert.ok(mail.body.includes(`${APP_URL}/confirm-email?token=${mail.token}`));

    const { user, tokens } = await kit().client().auth.confirmEmail.mutate({ token: mail.token as string, password: PASSWORD });
    assert.ok(tokens, 'confirming a sign-up signs in');
    assert.equal(user.email, email);
    assert.equal(user.username, 'Ada_1');
    assert.equal(user.emailConfirmed, true);
    assert.ok(user.createdAt instanceof Date);
    assert.match(tokens.accessToken, /^at_/);
    assert.match(tokens.refreshToken ?? '', /^rt_/);
    assert.equal(tokens.refreshTokenExpiresAt, null);

    const whoami = await kit().client(tokens.accessToken).demo.whoami.query();
    assert.equal(whoami.userId, user.id);
  });

  it('a confirmation link works once', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const { token } = await kit().smtp.waitForMail(email);
    await kit().client().auth.confirmEmail.mutate({ token: token as string });
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: token as string }), 'LINK_INVALID');
  });

  it('resending a confirmation makes the earlier link useless', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const first = await kit().smtp.waitForMail(email);
    assert.deepEqual(await kit().client().auth.resendConfirmation.mutate({ email }), { ok: true });
    const second = await kit().smtp.waitForMail(email, (mail) => mail.token !== first.token);

    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: first.token as string }), 'LINK_INVALID');
    const { user } = await kit().client().auth.confirmEmail.mutate({ token: second.token as string });
    assert.equal(user.emailConfirmed, true);
  });

  it('a confirmation link expires', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    const { token } = await kit().smtp.waitForMail(email);
    kit().clock.advanceSeconds(86_400 + 1);
    await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: token as string }), 'LINK_EXPIRED');
  });

  it('a forged, mistyped or foreign-kind token is LINK_INVALID', async () => {
    const { tokens } = await registerConfirmed(kit());
    for (const token of ['lk_nothing', `lk_${'A'.repeat(65)}`, tokens.refreshToken, tokens.accessToken]) {
      await expectAuthError(kit().client().auth.confirmEmail.mutate({ token }), 'LINK_INVALID');
    }
  });

  it('signing up with a taken address answers as for a new one and tells the owner', async () => {
    const { email } = await registerConfirmed(kit());
    const again = await kit().client().auth.register.mutate({ email: email.toUpperCase(), password: 'another long password' });
    assert.deepEqual(again, { confirmationSent: true });
    const notice = await kit().smtp.waitForMail(email, (mail) => mail.subject.startsWith('Someone tried'));
    assert.equal(notice.token, null);
    const [row] = await kit().database.db.select({ n: count() }).from(userTable).where(eq(userTable.email, email));
    assert.equal(row?.n, 1);
  });

  it('resendConfirmation answers the same for unknown and confirmed addresses, and mails neither', async () => {
    const { email } = await registerConfirmed(kit());
    const unknown = uniqueEmail('nobody');
    assert.deepEqual(await kit().client().auth.resendConfirmation.mutate({ email: unknown }), { ok: true });
    assert.deepEqual(await kit().client().auth.resendConfirmation.mutate({ email }), { ok: true });
    // The confirmed owner got exactly the one link from sign-up.
    await kit().auth.settled();
    assert.equal(kit().smtp.mailsTo(email).length, 1);
    assert.equal(kit().smtp.mailsTo(unknown).length, 0);
  });

  it('a taken username is USERNAME_TAKEN, whatever its case', async () => {
    await registerConfirmed(kit(), kit(), { username: 'grace' });
    await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, username: 'Grace' }), 'USERNAME_TAKEN');
  });

  it('a taken username answers USERNAME_TAKEN whether or not the address has an account', async () => {
    const owner = await registerConfirmed(kit(), kit(), { username: 'probe_user' });
    const victim = await registerConfirmed(kit());
    for (const email of [victim.email, uniqueEmail('fresh')]) {
      await expectAuthError(kit().client().auth.register.mutate({ email, password: PASSWORD, username: 'probe_user' }), 'USERNAME_TAKEN');
    }
    assert.notEqual(owner.user.id, victim.user.id);
  });

  it('a NUL character in meta is INVALID_INPUT, not a database failure', async () => {
    await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, meta: { a: 'nul\u0000' } }), 'INVALID_INPUT');
  });

  it('a password shorter than the minimum is WEAK_PASSWORD, counted in characters, not UTF-16 units', async () => {
    await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password: 'short pass' }), 'WEAK_PASSWORD');
    // Eleven emoji are 22 UTF-16 units but 11 characters: below the minimum of 12.
    await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password: '🦊'.repeat(11) }), 'WEAK_PASSWORD');
    const ok = await kit().client().auth.register.mutate({ email: uniqueEmail(), password: '🦊 pässwörd mit Leerzeichen ✓' });
    assert.equal(ok.confirmationSent, true);
  });

  it('hostile input is INVALID_INPUT and writes nothing', async () => {
    const [before] = await kit().database.db.select({ n: count() }).from(userTable);
    const hostile: unknown[] = [
      { email: uniqueEmail(), password: PASSWORD, role: 'admin' },
      { email: uniqueEmail(), password: ['array'] },
      { email: uniqueEmail(), password: { $ne: null } },
      { email: 'not an address', password: PASSWORD },
      { email: uniqueEmail(), password: 'x'.repeat(1_000_000) },
      { email: uniqueEmail(), password: PASSWORD, username: 'has space' },
      { email: uniqueEmail(), password: PASSWORD, meta: { blob: 'x'.repeat(10_000) } },
      null,
    ];
    for (const input of hostile) {
      await expectAuthError(kit().client().auth.register.mutate(input as never), 'INVALID_INPUT');
    }
    const [afterwards] = await kit().database.db.select({ n: count() }).from(userTable);
    assert.equal(afterwards?.n, before?.n);
  });

  it('a __proto__ key in meta is dropped and pollutes nothing', async () => {
    // Sent by hand: the tRPC client itself refuses to serialise such an object.
    const email = uniqueEmail();
    const body = `{"json":{"email":"${email}","password":"${PASSWORD}","meta":{"__proto__":{"isAdmin":true},"plan":"pro"}}}`;
    const response = await fetch(`${kit().url}/auth.register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(response.status, 200);
    const [row] = await kit().database.db.select({ meta: userTable.meta }).from(userTable).where(eq(userTable.email, email));
    assert.deepEqual(row?.meta, { plan: 'pro' });
    assert.equal(Object.getPrototypeOf(row?.meta), Object.prototype);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });
});

describeOnEachDatabase('register under other policies', (kit) => {
  it("with confirmation 'optional', register signs in at once and still mails the link", async () => {
    const app = await kit().variant({ signup: { emailConfirmation: 'optional' } });
    const email = uniqueEmail();
    const result = await app.client().auth.register.mutate({ email, password: PASSWORD });
    assert.equal(result.confirmationSent, true);
    assert.equal(result.user?.emailConfirmed, false);
    assert.ok(result.tokens);
    await kit().smtp.waitForMail(email);
    // The address cannot be hidden when sign-up answers with tokens: a second sign-up is refused.
    await expectAuthError(app.client().auth.register.mutate({ email, password: PASSWORD }), 'EMAIL_TAKEN');
  });

  it("with confirmation 'off', no mail is sent", async () => {
    const app = await kit().variant({ signup: { emailConfirmation: 'off' } });
    const email = uniqueEmail();
    const result = await app.client().auth.register.mutate({ email, password: PASSWORD });
    assert.equal(result.confirmationSent, false);
    assert.ok(result.tokens);
    await app.auth.settled();
    assert.equal(kit().smtp.mailsTo(email).length, 0);
  });

  it('with sign-up disabled, register is SIGNUP_DISABLED and settings say so', async () => {
    const app = await kit().variant({ signup: { enabled: false } });
    await expectAuthError(app.client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD }), 'SIGNUP_DISABLED');
    const settings = await app.client().auth.settings.query();
    assert.deepEqual(settings, {
      signupEnabled: false,
      emailConfirmation: 'required',
      magicLink: true,
      anonymousSignIn: false,
      providers: [],
      passwordMinLength: 12,
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: null,
    });
  });
});
