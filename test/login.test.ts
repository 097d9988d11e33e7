import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { userTable } from '../db/index.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';

const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;

describeOnEachDatabase('login', (kit) => {
  it('signs in by email in any case, and by username in any case', async () => {
    const { email, user } = await registerConfirmed(kit(), kit(), { username: 'Linus' });
    const byEmail = await kit().client().auth.login.mutate({ identifier: ` ${email.toUpperCase()} `, password: PASSWORD });
    assert.equal(byEmail.user.id, user.id);
    const byUsername = await kit().client().auth.login.mutate({ identifier: 'linus', password: PASSWORD });
    assert.equal(byUsername.user.id, user.id);
    assert.notEqual(byEmail.tokens.accessToken, byUsername.tokens.accessToken);
    assert.notEqual(byEmail.tokens.refreshToken, byUsername.tokens.refreshToken);
  });

  it('a wrong password and an unknown account get the same INVALID_CREDENTIALS', async () => {
    const { email } = await registerConfirmed(kit());
    const wrong = await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: 'not the password' }), 'INVALID_CREDENTIALS');
    const unknown = await expectAuthError(kit().client().auth.login.mutate({ identifier: uniqueEmail('ghost'), password: PASSWORD }), 'INVALID_CREDENTIALS');
    assert.deepEqual({ ...wrong.data, path: null }, { ...unknown.data, path: null });
    assert.equal(wrong.data?.httpStatus, 401);
  });

  it('the password is verified whole: a prefix, a case change or a missing trailing space fails', async () => {
    const email = uniqueEmail();
    const password = 'A long passphrase with a trailing space ';
    const app = await kit().variant({ signup: { emailConfirmation: 'off' } });
    await app.client().auth.register.mutate({ email, password });
    for (const attempt of [password.slice(0, -1), password.toUpperCase(), password.slice(0, 20)]) {
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: attempt }), 'INVALID_CREDENTIALS');
    }
    const { user } = await app.client().auth.login.mutate({ identifier: email, password });
    assert.equal(user.email, email);
  });

  it('composed and decomposed forms of the same characters are the same password', async () => {
    const email = uniqueEmail();
    const app = await kit().variant({ signup: { emailConfirmation: 'off' } });
    await app.client().auth.register.mutate({ email, password: 'caf\u00e9 au lait, bitte' });
    const { user } = await app.client().auth.login.mutate({ identifier: email, password: 'cafe\u0301 au lait, bitte' });
    assert.equal(user.email, email);
  });

  it('an unconfirmed account gets EMAIL_NOT_CONFIRMED only with the right password', async () => {
    const email = uniqueEmail();
    await kit().client().auth.register.mutate({ email, password: PASSWORD });
    await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: 'not the password' }), 'INVALID_CREDENTIALS');
    const error = await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'EMAIL_NOT_CONFIRMED');
    assert.equal(error.data?.httpStatus, 403);
  });

  it('stores argon2id at the OWASP parameters with a unique salt, and counts successful logins', async () => {
    const first = await registerConfirmed(kit());
    const second = await registerConfirmed(kit());
    await kit().client().auth.login.mutate({ identifier: first.email, password: PASSWORD });
    const rows = await Promise.all(
      [first.email, second.email].map(async (email) => {
        const [row] = await kit().database.db.select().from(userTable).where(eq(userTable.email, email));
        return row;
      }),
    );
    const [a, b] = rows.map((row) => row?.passwordHash ?? '');
    assert.deepEqual(ARGON2ID_PHC.exec(a ?? '')?.slice(1), ['19456', '2', '1']);
    assert.notEqual(a, b);
    assert.equal(rows[0]?.successfulLoginAttempts, 1);
  });

  it('rehashes on login once the configured parameters rise', async () => {
    const { email } = await registerConfirmed(kit());
    const stronger = await kit().variant({ passwordHasher: 'argon2id', password: { memoryCost: 24_576, timeCost: 3 } });
    await stronger.client().auth.login.mutate({ identifier: email, password: PASSWORD });
    const [row] = await kit().database.db.select().from(userTable).where(eq(userTable.email, email));
    assert.deepEqual(ARGON2ID_PHC.exec(row?.passwordHash ?? '')?.slice(1), ['24576', '3', '1']);
    // The old parameters still verify the new hash: nothing else changed.
    await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
  });

  it('a password over the length cap is refused before any hashing', async () => {
    await expectAuthError(kit().client().auth.login.mutate({ identifier: uniqueEmail(), password: 'p'.repeat(1025) }), 'INVALID_INPUT');
    await expectAuthError(kit().client().auth.login.mutate({ identifier: '', password: PASSWORD }), 'INVALID_INPUT');
  });
},
  // What is stored and when it is rehashed is argon2id's business: this suite hashes for real.
  { passwordHasher: 'argon2id' },
);
