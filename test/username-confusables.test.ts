import assert from 'node:assert/strict';
import { it } from 'node:test';
import { getAuthErrorCode } from '../client/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

/*
 * Usernames that read alike are one name (SECURITY.md A16): `admin.` beside `admin` would let anyone
 * pass for the administrator in every list that shows names. The key folds case, drops `.`, `_` and
 * `-`, and reads 0 as o, 1 and i as l, rn as m and vv as w (migration 0003, `auth_username_key`).
 */

/** Spellings of each name that the key makes one, as an impersonator would try them. */
const LOOKALIKES: Array<[string, string[]]> = [
  ['admin', ['Admin', 'ADMIN', 'admin.', 'ad.min', 'a_d-m_i-n', 'adm1n', 'admln', 'ADMIN_', 'adrnin']],
  ['moon0', ['rnoono', 'MOONO', 'm00n0']],
  ['willow', ['vviIIow', 'wi11ow', 'Wil.low']],
];

describeOnEachDatabase('usernames are compared by a confusable-safe key', (kit) => {
  it('register refuses every look-alike of a taken name with USERNAME_TAKEN, in every confirmation mode', async () => {
    const optional = await kit().variant({ signup: { emailConfirmation: 'optional' } });
    for (const [name, lookalikes] of LOOKALIKES) {
      await registerConfirmed(kit(), kit(), { username: name });
      for (const lookalike of lookalikes) {
        await expectAuthError(kit().client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, username: lookalike }), 'USERNAME_TAKEN');
        await expectAuthError(optional.client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, username: lookalike }), 'USERNAME_TAKEN');
      }
    }
  });

  it('names that only look different, not alike, stay distinct', async () => {
    const app = await kit().variant({ signup: { emailConfirmation: 'off' } });
    for (const username of ['carol', 'caro1l', 'carols', 'karol', 'car0ls2']) {
      const { user } = await app.client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, username });
      assert.equal(user?.username, username);
    }
  });

  it('two sign-ups racing for look-alikes: the index lets one in', async () => {
    const app = await kit().variant({ signup: { emailConfirmation: 'off' } });
    const results = await Promise.allSettled(
      ['racer', 'Racer.', 'r.a.c.e.r', 'RACER'].map((username) => app.client().auth.register.mutate({ email: uniqueEmail(), password: PASSWORD, username })),
    );
    const codes = results.map((result) => (result.status === 'fulfilled' ? 'signed up' : getAuthErrorCode(result.reason)));
    assert.deepEqual(codes.sort(), ['USERNAME_TAKEN', 'USERNAME_TAKEN', 'USERNAME_TAKEN', 'signed up']);
  });

  it('updateUser refuses another account\'s look-alike and leaves the name as it was; a user may respell their own', async () => {
    await registerConfirmed(kit(), kit(), { username: 'owner_name' });
    const { tokens } = await registerConfirmed(kit(), kit(), { username: 'someone' });
    const client = kit().client(tokens.accessToken);
    for (const lookalike of ['Owner.Name', '0wner-name', 'ownername']) {
      await expectAuthError(client.auth.updateUser.mutate({ username: lookalike }), 'USERNAME_TAKEN');
    }
    assert.equal((await client.auth.me.query()).username, 'someone');
    assert.equal((await client.auth.updateUser.mutate({ username: 'Some.One' })).username, 'Some.One');
  });

  it('acceptInvite refuses a look-alike and the invitation still works', async () => {
    await registerConfirmed(kit(), kit(), { username: 'inviter' });
    const email = uniqueEmail('invited');
    await kit().auth.invite({ email });
    const mail = await kit().smtp.waitForMail(email, (received) => received.subject === 'You are invited');
    const token = mail.token as string;
    await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD, username: 'lnv1ter' }), 'USERNAME_TAKEN');
    const { user } = await kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD, username: 'invitee' });
    assert.equal(user.username, 'invitee');
  });

  it('sign-in by username takes any spelling of the key, and nothing else', async () => {
    const { user } = await registerConfirmed(kit(), kit(), { username: 'Rn.Signin' });
    for (const spelling of ['Rn.Signin', 'msignin', 'RN-S1GN1N', 'rnsignln']) {
      const signedIn = await kit().client().auth.login.mutate({ identifier: spelling, password: PASSWORD });
      assert.equal(signedIn.user.id, user.id, spelling);
    }
    await expectAuthError(kit().client().auth.login.mutate({ identifier: 'nsignin', password: PASSWORD }), 'INVALID_CREDENTIALS');
  });
});
