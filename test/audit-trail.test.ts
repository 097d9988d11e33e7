import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { AuditEvent } from '../shared/index.js';
import { expectAuthError, registerConfirmed, withBodyRefreshToken } from './harness/flows.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import { auditEventTable } from '../db/index.js';

/*
 * The audit trail, end to end: the events of a whole flow reach the application's hook and the
 * table, in order, with their fields, and (grey box) not one of them holds a token or a password the
 * flow used. A hook that fails changes no answer.
 */

const heard: AuditEvent[] = [];

/** Everything the hook heard of one user, in order. */
function eventsOf(userId: string): AuditEvent[] {
  return heard.filter((event) => event.userId === userId);
}

describeOnEachDatabase(
  'the audit trail',
  (kit) => {
    it('register → confirm → login → refresh → reuse → logout: every event in order, with its fields, and no secret anywhere', async () => {
      const email = uniqueEmail('audited');
      const wrongPassword = 'not the password at all';
      const secrets: string[] = [PASSWORD, wrongPassword];
      const times: number[] = [];
      const step = () => times.push(kit().clock.now());

      await kit().client().auth.register.mutate({ email, password: PASSWORD });
      step();
      const mail = await kit().smtp.waitForMail(email, (received) => received.token !== null);
      secrets.push(mail.token as string);
      kit().clock.advanceSeconds(1);
      const confirmed = await kit().client().auth.confirmEmail.mutate({ token: mail.token as string, password: PASSWORD });
      step();
      const first = withBodyRefreshToken(confirmed.tokens as NonNullable<typeof confirmed.tokens>);
      secrets.push(first.accessToken, first.refreshToken);
      kit().clock.advanceSeconds(1);
      await expectAuthError(kit().client().auth.login.mutate({ identifier: email, password: wrongPassword }), 'INVALID_CREDENTIALS');
      step();
      kit().clock.advanceSeconds(1);
      const second = withBodyRefreshToken((await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD })).tokens);
      step();
      secrets.push(second.accessToken, second.refreshToken);
      kit().clock.advanceSeconds(1);
      const rotated = withBodyRefreshToken((await kit().client().auth.refresh.mutate({ refreshToken: first.refreshToken })).tokens);
      step();
      secrets.push(rotated.accessToken, rotated.refreshToken);
      kit().clock.advanceSeconds(11);
      await expectAuthError(kit().client().auth.refresh.mutate({ refreshToken: first.refreshToken }), 'REFRESH_TOKEN_REUSED');
      step();
      kit().clock.advanceSeconds(1);
      await kit().client(second.accessToken).auth.logout.mutate();
      step();
      await kit().auth.settled();

      const userId = confirmed.user.id;
      const events = eventsOf(userId);
      assert.deepEqual(
        events.map((event) => [event.type, 'method' in event ? event.method : 'reason' in event ? event.reason : 'scope' in event ? event.scope : null]),
        [
          ['signed-up', null],
          ['signed-in', 'confirm-email'],
          ['sign-in-failed', 'wrong-password'],
          ['signed-in', 'password'],
          ['refreshed', null],
          ['refresh-token-reused', null],
          ['signed-out', 'current'],
        ],
      );
      assert.deepEqual(
        events.map((event) => event.at.getTime()),
        times,
        'each event carries the time it happened',
      );
      const [signedUp, confirmedIn, failed, loggedIn, refreshed, reused, signedOut] = events as AuditEvent[] & { length: 7 };
      for (const event of [signedUp, failed]) assert.equal(event?.sessionId, null);
      assert.ok(confirmedIn?.sessionId);
      assert.ok(loggedIn?.sessionId && loggedIn.sessionId !== confirmedIn.sessionId);
      assert.equal(refreshed?.sessionId, confirmedIn.sessionId);
      assert.equal(reused?.sessionId, confirmedIn.sessionId);
      assert.equal(signedOut?.sessionId, loggedIn.sessionId);
      for (const event of events) {
        assert.match(event.ip ?? '', /127\.0\.0\.1/, `${event.type} names the client's address`);
        assert.ok('userAgent' in event);
      }

      // The table holds the same events, newest first.
      const stored = await kit().auth.admin.events.list({ userId });
      assert.deepEqual(
        stored.events.reverse().map(({ id: _id, ...event }) => event),
        events.map((event) => ({ ...event })),
      );

      // Grey box: no token, no password, not even a token's secret half, in any event or any row.
      const rows = await kit().database.db.execute(sql`SELECT * FROM ${auditEventTable}`);
      const haystacks = [...heard.map((event) => JSON.stringify(event)), JSON.stringify(rows)];
      for (const secret of secrets) {
        for (const needle of [secret, secret.slice(-20)]) {
          assert.ok(!haystacks.some((haystack) => haystack.includes(needle)), `an event holds ${needle.slice(0, 6)}…`);
        }
      }
    });

    it('API tokens, password changes and session revocations are reported by the verbs that do them', async () => {
      const email = uniqueEmail('verbs');
      await kit().client().auth.register.mutate({ email, password: PASSWORD });
      const mail = await kit().smtp.waitForMail(email, (received) => received.token !== null);
      const { user, tokens } = await kit().client().auth.confirmEmail.mutate({ token: mail.token as string, password: PASSWORD });
      const me = kit().client(tokens?.accessToken);
      const other = await kit().client().auth.login.mutate({ identifier: email, password: PASSWORD });
      const { sessionId: otherSession } = await kit().client(other.tokens.accessToken).demo.whoami.query();
      const made = await me.auth.apiTokens.create.mutate({ name: 'ci', scopes: ['todos:read', 'todos:read'] });
      await me.auth.apiTokens.revoke.mutate({ id: made.id });
      await me.auth.apiTokens.revoke.mutate({ id: made.id });
      await me.auth.sessions.revoke.mutate({ sessionId: otherSession });
      await me.auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'a brand new passphrase' });
      await kit().auth.grantRole(user.id, 'support');
      await kit().auth.settled();

      const events = eventsOf(user.id).slice(3);
      assert.deepEqual(
        events.map((event) => event.type),
        ['api-token-created', 'api-token-revoked', 'session-revoked', 'password-changed', 'role-granted'],
      );
      assert.deepEqual(events[0], { ...events[0], apiTokenId: made.id, scopes: ['todos:read'] });
      assert.deepEqual(events[2], { ...events[2], sessionId: otherSession, reason: 'revoked-by-user' });
      assert.deepEqual(events[4], { ...events[4], role: 'support', by: { kind: 'server' }, ip: null });
    });

    it('a hook that throws or rejects is logged and changes no answer; the other hook and the table still get everything', async () => {
      const logged: string[] = [];
      const logger = { info() {}, warn() {}, error: (message: string) => logged.push(message) };
      for (const onEvent of [() => { throw new Error('hook down'); }, () => Promise.reject(new Error('hook down'))]) {
        const app = await kit().variant({ logger, audit: { onEvent, store: true } });
        const { email, user } = await registerConfirmed(kit(), app);
        await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
        await app.auth.settled();
        assert.ok(logged.includes('audit onEvent failed'));
        assert.deepEqual(
          (await app.auth.admin.events.list({ userId: user.id })).events.map((event) => event.type),
          ['signed-in', 'signed-in', 'signed-up'],
          'newest first',
        );
      }
    });

    it('stored events older than audit.retentionDays go', async () => {
      const app = await kit().variant({ audit: { store: true, retentionDays: 1 } });
      const { email, user } = await registerConfirmed(kit(), app);
      await app.auth.settled();
      kit().clock.advanceSeconds(2 * 86_400);
      await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
      await app.auth.settled();
      const { events } = await app.auth.admin.events.list({ userId: user.id });
      assert.deepEqual(
        events.map((event) => event.type),
        ['signed-in'],
      );
    });
  },
  { audit: { onEvent: (event) => void heard.push(event), store: true } },
);
