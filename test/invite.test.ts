import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashClientSecret } from '../server/basic/client-secrets.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { basicHeader, rawRequest } from './harness/raw-http.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestKit } from './harness/test-kit.js';

const ADMIN_CHALLENGE = 'Basic realm="admin", charset="UTF-8"';
// A sha256: secret: these tests are about invitations, and their app hashes with the tests' fast hasher.
const basic = { clients: { admin: { ops: await hashClientSecret('secret', 'sha256') } } };

/** `curl -u <id:secret> -H 'content-type: application/json' -d '{"json":{"email":…}}' …/auth.invite` */
function curlInvite(kit: TestKit, email: string, headers: string[]) {
  return rawRequest(kit.url, { path: '/auth.invite', headers, body: JSON.stringify({ json: { email } }) });
}

async function invitationToken(kit: TestKit, email: string, after = 0): Promise<string> {
  const mail = await kit.smtp.waitForMail(email, (received) => received.subject === 'You are invited' && received.token !== null && kit.smtp.mailsTo(email).indexOf(received) >= after);
  return mail.token as string;
}

describeOnEachDatabase(
  'invitations',
  (kit) => {
    it('curl -u ops:secret invites; the mailed link opens a confirmed account and signs in', async () => {
      const email = uniqueEmail('invitee');
      const response = await curlInvite(kit(), email, [basicHeader('ops', 'secret')]);
      assert.equal(response.status, 200, response.body);
      assert.deepEqual(response.json(), { result: { data: { json: { ok: true } } } });
      const token = await invitationToken(kit(), email);
      const mail = kit().smtp.mailsTo(email)[0];
      assert.ok(mail?.body.includes(`${APP_URL}/accept-invite?token=${token}`));

      // Waiting for the invitation, the account has no password anyone could sign in with.
      await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');

      const { user, tokens } = await kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD, username: 'invited1' });
      assert.deepEqual({ email: user.email, emailConfirmed: user.emailConfirmed, username: user.username }, { email, emailConfirmed: true, username: 'invited1' });
      assert.equal((await kit().client(tokens.accessToken).auth.me.query()).id, user.id);
      await kit().client().auth.login.mutate({ identifier: 'invited1', password: PASSWORD });
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: 'another passphrase' }), 'LINK_INVALID');
    });

    it('an invitation not yet accepted can be revoked, by the procedure or the server; its link then dies; a real account is untouched', async () => {
      const email = uniqueEmail('revoked');
      assert.equal((await curlInvite(kit(), email, [basicHeader('ops', 'secret')])).status, 200);
      const token = await invitationToken(kit(), email);
      const revoke = await rawRequest(kit().url, { path: '/auth.revokeInvitation', headers: [basicHeader('ops', 'secret')], body: JSON.stringify({ json: { email } }) });
      assert.equal(revoke.status, 200, revoke.body);
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD }), 'LINK_INVALID');
      // Invited again, it works again; revoked from the server's own code, it dies again.
      const mailsBefore = kit().smtp.mailsTo(email).length;
      await kit().auth.invite({ email });
      const second = await invitationToken(kit(), email, mailsBefore);
      await kit().auth.revokeInvitation(email);
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: second, password: PASSWORD }), 'LINK_INVALID');

      const { email: member } = await registerConfirmed(kit());
      await kit().auth.revokeInvitation(member);
      await kit().client().auth.login.mutate({ identifier: member, password: PASSWORD });
      const stranger = await rawRequest(kit().url, { path: '/auth.revokeInvitation', body: JSON.stringify({ json: { email: member } }) });
      assert.equal(stranger.status, 401);
      for (const input of [{ email: 'not an address' }, { email: member, extra: true }, {}, null]) {
        const garbage = await rawRequest(kit().url, { path: '/auth.revokeInvitation', headers: [basicHeader('ops', 'secret')], body: JSON.stringify({ json: input }) });
        assert.equal(garbage.status, 400, garbage.body);
        assert.equal(garbage.json<{ error: { json: { data: { authCode: string } } } }>().error.json.data.authCode, 'INVALID_INPUT');
      }
      await kit().client().auth.login.mutate({ identifier: member, password: PASSWORD });
    });

    it('who may invite: no credentials get both challenges; a wrong Basic secret the Basic one; a plain user 403', async () => {
      const missing = await curlInvite(kit(), uniqueEmail(), []);
      assert.equal(missing.status, 401);
      assert.deepEqual(missing.header('www-authenticate'), ['Bearer realm="app.example.test"', ADMIN_CHALLENGE]);

      const wrong = await curlInvite(kit(), uniqueEmail(), [basicHeader('ops', 'wrong')]);
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.header('www-authenticate'), [ADMIN_CHALLENGE]);

      const { tokens } = await registerConfirmed(kit());
      const plain = await curlInvite(kit(), uniqueEmail(), [`Authorization: Bearer ${tokens.accessToken}`]);
      assert.equal(plain.status, 403);
      assert.equal(plain.json<{ error: { json: { data: { authCode: string } } } }>().error.json.data.authCode, 'ROLE_REQUIRED');
      assert.deepEqual(plain.header('www-authenticate'), []);
    });

    it('the admin role is granted on the server only: meta cannot stand in for it, updateUser cannot set it', async () => {
      const { tokens, user } = await registerConfirmed(kit());
      const me = kit().client(tokens.accessToken);
      await me.auth.updateUser.mutate({ meta: { roles: ['admin'], admin: true } });
      await expectAuthError(me.auth.invite.mutate({ email: uniqueEmail() }), 'ROLE_REQUIRED');
      await expectAuthError(me.auth.updateUser.mutate({ roles: ['admin'] } as never), 'INVALID_INPUT');

      assert.equal(await kit().auth.grantRole(user.id, 'admin'), true);
      const invited = uniqueEmail('by-admin');
      assert.deepEqual(await me.auth.invite.mutate({ email: invited }), { ok: true });
      await invitationToken(kit(), invited);

      // An admin's API token needs the users:invite scope.
      const plainToken = await me.auth.apiTokens.create.mutate({ name: 'no scope' });
      await expectAuthError(kit().client(plainToken.token).auth.invite.mutate({ email: uniqueEmail() }), 'INSUFFICIENT_SCOPE');
      const inviter = await me.auth.apiTokens.create.mutate({ name: 'inviter', scopes: ['users:invite'] });
      await kit().client(inviter.token).auth.invite.mutate({ email: uniqueEmail() });

      assert.equal(await kit().auth.revokeRole(user.id, 'admin'), true);
      await expectAuthError(me.auth.invite.mutate({ email: uniqueEmail() }), 'ROLE_REQUIRED');
      // The token keeps its scope but not its power: the role is checked at every call.
      await expectAuthError(kit().client(inviter.token).auth.invite.mutate({ email: uniqueEmail() }), 'ROLE_REQUIRED');
    });

    it('a user who is not an admin cannot mint an admin-scoped API token to wait for the role', async () => {
      const { tokens, user } = await registerConfirmed(kit());
      const me = kit().client(tokens.accessToken);
      for (const scopes of [['users:admin'], ['users:invite'], ['todos:read', 'users:admin']]) {
        await expectAuthError(me.auth.apiTokens.create.mutate({ name: 'for later', scopes }), 'ROLE_REQUIRED');
      }
      assert.deepEqual(await me.auth.apiTokens.list.query(), [], 'a refused mint leaves no token');
      // Other scopes are the application's to define, and are minted as asked.
      await me.auth.apiTokens.create.mutate({ name: 'app scope', scopes: ['todos:read'] });

      assert.equal(await kit().auth.grantRole(user.id, 'admin'), true);
      const admin = await me.auth.apiTokens.create.mutate({ name: 'now an admin', scopes: ['users:admin'] });
      assert.deepEqual((await kit().client(admin.token).auth.admin.users.get.query({ userId: user.id })).user.roles, ['admin']);
    });

    it('inviting an address that has an account answers the same, mails a notice without a link, and changes nothing', async () => {
      const { email, tokens } = await registerConfirmed(kit());
      const response = await curlInvite(kit(), email, [basicHeader('ops', 'secret')]);
      assert.deepEqual(response.json(), { result: { data: { json: { ok: true } } } });
      const notice = await kit().smtp.waitForMail(email, (received) => received.subject === 'You are invited');
      assert.equal(notice.token, null);
      assert.doesNotMatch(notice.body, /accept-invite/);
      await kit().client(tokens.accessToken).auth.me.query();
      await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
    });

    it('only the newest invitation works, and it expires after 7 days', async () => {
      const email = uniqueEmail('twice');
      await kit().auth.invite({ email });
      const first = await invitationToken(kit(), email);
      await kit().auth.invite({ email });
      const second = await invitationToken(kit(), email, 1);
      assert.notEqual(first, second);
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: first, password: PASSWORD }), 'LINK_INVALID');

      kit().clock.advanceSeconds(7 * 86_400 + 1);
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: second, password: PASSWORD }), 'LINK_EXPIRED');
      await kit().auth.invite({ email });
      const third = await invitationToken(kit(), email, 2);
      await kit().client().auth.acceptInvite.mutate({ token: third, password: PASSWORD });
    });

    it('a refused acceptance (weak password, taken username, bad input) leaves the link usable', async () => {
      await registerConfirmed(kit(), kit(), { username: 'takenname' });
      const email = uniqueEmail('careful');
      await kit().auth.invite({ email, meta: { team: 'ops' } });
      const token = await invitationToken(kit(), email);
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: 'short' }), 'WEAK_PASSWORD');
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD, username: 'TakenName' }), 'USERNAME_TAKEN');
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD, extra: 1 } as never), 'INVALID_INPUT');
      await expectAuthError(kit().client().auth.acceptInvite.mutate({ token: 'lk_made_up', password: PASSWORD }), 'LINK_INVALID');
      const { user } = await kit().client().auth.acceptInvite.mutate({ token, password: PASSWORD });
      assert.deepEqual(user.meta, { team: 'ops' });
    });

    it('a bad address is refused before anything happens, by the procedure and by auth.invite', async () => {
      const response = await curlInvite(kit(), 'not an address', [basicHeader('ops', 'secret')]);
      assert.equal(response.status, 400);
      await assert.rejects(kit().auth.invite({ email: 'not an address' }));
    });
  },
  { basic },
);
