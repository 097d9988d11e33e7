import assert from 'node:assert/strict';
import { it } from 'node:test';
import { registerConfirmed } from './harness/flows.js';
import { statementsOf } from './harness/query-counter.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';

/*
 * The procedures that take an address answer alike for any address, and on PGlite the work they do
 * after answering runs on the thread that serves the next request: if an address with an account
 * cost more statements than one without, a request sent right after the answer would tell them
 * apart (`npm run bench` measures that probe). Here the attacker compares the statements instead.
 */

type Caller = (kit: TestKit, email: string) => Promise<unknown>;

const PROCEDURES: Array<{ path: string; call: Caller; account: (kit: TestKit) => Promise<string>; subject: RegExp }> = [
  {
    path: 'auth.forgotPassword',
    call: (kit, email) => kit.client().auth.forgotPassword.mutate({ email }),
    account: async (kit) => (await registerConfirmed(kit)).email,
    subject: /reset your password/i,
  },
  {
    path: 'auth.magicLink.request',
    call: (kit, email) => kit.client().auth.magicLink.request.mutate({ email }),
    account: async (kit) => (await registerConfirmed(kit)).email,
    subject: /sign-in link/i,
  },
  {
    path: 'auth.resendConfirmation',
    call: (kit, email) => kit.client().auth.resendConfirmation.mutate({ email }),
    account: async (kit) => {
      const email = uniqueEmail('unconfirmed');
      await kit.client().auth.register.mutate({ email, password: PASSWORD });
      return email;
    },
    subject: /confirm/i,
  },
  {
    path: 'auth.forgotUsername',
    call: (kit, email) => kit.client().auth.forgotUsername.mutate({ email }),
    account: async (kit) => (await registerConfirmed(kit, kit, { username: `u${Date.now() % 1e9}` })).email,
    subject: /username/i,
  },
];


describeOnEachDatabase('no enumeration by the work after the answer', (kit) => {
  for (const { path, call, account, subject } of PROCEDURES) {
    it(`${path} sends the same statements for an address with an account as for one without, and mails only the account`, async () => {
      const known = await account(kit());
      const unknown = uniqueEmail('nobody');
      await kit().auth.settled();
      const mailsBefore = kit().smtp.mailsTo(known).length;

      const ofKnown = await statementsOf(kit(), () => call(kit(), known));
      const ofUnknown = await statementsOf(kit(), () => call(kit(), unknown));

      assert.ok(ofKnown.length > 0);
      assert.deepEqual(ofKnown, ofUnknown);
      const mails = kit().smtp.mailsTo(known).slice(mailsBefore);
      assert.equal(mails.length, 1);
      assert.match(mails[0]?.subject ?? '', subject);
      assert.equal(kit().smtp.mailsTo(unknown).length, 0);
    });
  }

  it('auth.resendConfirmation sends the same statements for a confirmed account as for no account, and mails neither', async () => {
    const { email } = await registerConfirmed(kit());
    await kit().auth.settled();
    const mailsBefore = kit().smtp.mailsTo(email).length;
    const ofConfirmed = await statementsOf(kit(), () => kit().client().auth.resendConfirmation.mutate({ email }));
    const ofUnknown = await statementsOf(kit(), () => kit().client().auth.resendConfirmation.mutate({ email: uniqueEmail('nobody') }));
    assert.deepEqual(ofConfirmed, ofUnknown);
    assert.equal(kit().smtp.mailsTo(email).length, mailsBefore);
  });
});
