import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import type { TestKit } from './harness/test-kit.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

/*
 * Long enough is not strong enough: every path that sets a password refuses the ones an attacker
 * tries first, and an application's own breach check can refuse more.
 */

/** Twelve characters or more, and guessed at once: a common password, a keyboard run, the address itself. */
const GUESSABLE = ['password1234', 'qwertyuiop12', '123456789012', 'iloveyou2024!'];

async function mailedToken(kit: TestKit, mail: { to: string; subject: string }, send: () => Promise<unknown>): Promise<string> {
  const { to, subject } = mail;
  const before = kit.smtp.mailsTo(to).filter((mail) => mail.subject === subject).length;
  await send();
  const received = await kit.smtp.waitForMail(to, (each) => each.subject === subject && kit.smtp.mailsTo(to).filter((m) => m.subject === subject).indexOf(each) >= before);
  return received.token as string;
}

describeOnEachDatabase('guessable passwords', (kit) => {
  it('register, changePassword, resetPassword and acceptInvite refuse them with WEAK_PASSWORD', async () => {
    const email = uniqueEmail('strength');
    const { tokens } = await registerConfirmed(kit(), kit(), { email });
    const invited = uniqueEmail('invited');
    const invitation = await mailedToken(kit(), { to: invited, subject: 'You are invited' }, () => kit().auth.invite({ email: invited }));
    const reset = await mailedToken(kit(), { to: email, subject: 'Reset your password' }, () => kit().client().auth.forgotPassword.mutate({ email }));

    // The account's own address, with a digit: strong in general, guessed first for this account.
    const fresh = uniqueEmail('strength');
    await expectAuthError(kit().client().auth.register.mutate({ email: fresh, password: `${fresh}1` }), 'WEAK_PASSWORD');
    await expectAuthError(kit().client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: `${email}1` }), 'WEAK_PASSWORD');
    await expectAuthError(kit().client().auth.resetPassword.mutate({ token: reset, password: `${email}1` }), 'WEAK_PASSWORD');
    await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: invitation, password: `${invited}1` }), 'WEAK_PASSWORD');
    for (const password of GUESSABLE) {
      await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password }), 'WEAK_PASSWORD');
      await expectAuthError(kit().client(tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: password }), 'WEAK_PASSWORD');
      await expectAuthError(kit().client().auth.resetPassword.mutate({ token: reset, password }), 'WEAK_PASSWORD');
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: invitation, password }), 'WEAK_PASSWORD');
    }
    // Refused, nothing was spent: the links still work with a strong password, and the old one still signs in.
    await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    await kit().client().auth.acceptInvite.mutate({ token: invitation, password: 'a strong one nobody guesses' });
    await kit().client().auth.resetPassword.mutate({ token: reset, password: 'another strong one, for reset' });
  });

  it("an application's breach check refuses what it knows, and its outage refuses nothing", async () => {
    const breached = new Set(['leaked in some breach 2019']);
    let down = false;
    const app = await kit().variant({
      password: {
        isBreached: (password) => (down ? Promise.reject(new Error('the breach service is down')) : Promise.resolve(breached.has(password))),
      },
    });
    await expectAuthError(app.client().auth.register.mutate({ email: uniqueEmail(), password: 'leaked in some breach 2019' }), 'WEAK_PASSWORD');
    down = true;
    const result = await app.client().auth.register.mutate({ email: uniqueEmail(), password: 'leaked in some breach 2019' });
    assert.equal(result.confirmationSent, true);
  });
});
