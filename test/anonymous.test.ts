import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { count, eq } from 'drizzle-orm';
import { getAuthErrorCode } from '../client/index.js';
import { userTable } from '../db/schema.js';
import { accepts, expectAuthError, registerConfirmed, withBodyRefreshToken } from './harness/flows.js';
import { browserAt } from './harness/kit-browser.js';
import { OIDC_CLIENTS, startOidcIssuer } from './harness/oidc-issuer.js';
import type { OidcIssuer } from './harness/oidc-issuer.js';
import { call, startServer } from './harness/reference-server.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp, TestKit } from './harness/test-kit.js';

/*
 * Anonymous users: a session for an account with no address and no password, upgraded in place by
 * an address (its password set, then the address confirmed through the mailed link) or by an OAuth
 * identity, keeping its id and meta; and what an attacker tries with them: the switch left off, a
 * flood from one client, an address someone else holds, a password never set, garbage input. The
 * cleaner deletes the anonymous accounts left unused, and only those.
 */

const ON = { anonymous: { enabled: true } } as const;
// Every call of the suite's own app comes from one address: its limit would measure the suite.
const SUITE_OPTIONS = { ...ON, rateLimits: { anonymousSignInsPerIpPerHour: 100_000 } };

let subjects = 0;
const newSubject = () => `anonymous-subject-${process.pid}-${++subjects}`;

async function anonymousRows(kit: TestKit): Promise<number> {
  const [row] = await kit.database.db.select({ n: count() }).from(userTable).where(eq(userTable.isAnonymous, true));
  return row?.n ?? 0;
}

async function userRow(kit: TestKit, userId: string) {
  const [row] = await kit.database.db.select().from(userTable).where(eq(userTable.userId, userId));
  return row ?? null;
}

async function signInAnonymously(app: TestApp) {
  const { user, tokens } = await app.client().auth.signInAnonymously.mutate();
  return { user, tokens: withBodyRefreshToken(tokens) };
}

describeOnEachDatabase(
  'anonymous users',
  (kit) => {
    it('signs in an account with no address and no password, which calls protected procedures', async () => {
      assert.equal((await kit().client().auth.settings.query()).anonymousSignIn, true);
      const { user, tokens } = await signInAnonymously(kit());
      assert.equal(user.isAnonymous, true);
      assert.equal(user.email, null);
      assert.equal(user.username, null);
      assert.equal(user.emailConfirmed, false);
      const client = kit().client(tokens.accessToken);
      assert.equal((await client.demo.whoami.query()).userId, user.id);
      assert.deepEqual(await client.auth.me.query(), user);
      const row = await userRow(kit(), user.id);
      assert.equal(row?.passwordHash, null);
      assert.equal(row?.email, null);
      // Its session refreshes as any other does.
      const { tokens: next } = await kit().client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
      assert.equal((await kit().client(next.accessToken).auth.me.query()).id, user.id);
    });

    it('upgrades by address: the password it sets and the address, once confirmed, sign in to the same id and meta', async () => {
      // Its own clock: the upgrade comes long after the sign-in, past the recent-authentication window.
      const app = await kit().ownApp(ON);
      const { user, tokens } = await signInAnonymously(app);
      const client = app.client(tokens.accessToken);
      await client.auth.updateUser.mutate({ meta: { cart: ['tea', 'scones'] } });
      app.clock.advanceSeconds(3 * 86_400);
      const { tokens: later } = await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
      const laterClient = app.client(later.accessToken);
      assert.deepEqual(await laterClient.auth.changePassword.mutate({ newPassword: PASSWORD }), { ok: true });

      const email = uniqueEmail('upgraded');
      assert.deepEqual(await laterClient.auth.changeEmail.mutate({ newEmail: email, password: PASSWORD }), { ok: true });
      // Nothing is the account's before the link is spent: no address, and no way to sign in by it.
      const pending = await laterClient.auth.me.query();
      assert.equal(pending.email, null);
      assert.equal(pending.isAnonymous, true);
      await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');

      const mail = await kit().smtp.waitForMail(email, (received) => received.token !== null);
      const confirmed = await app.client().auth.confirmEmail.mutate({ token: mail.token as string });
      assert.equal(confirmed.user.id, user.id);
      assert.equal(confirmed.user.email, email);
      assert.equal(confirmed.user.isAnonymous, false);
      assert.equal(confirmed.tokens, undefined);

      const signedIn = await app.client().auth.login.mutate({ identifier: email, password: PASSWORD });
      assert.equal(signedIn.user.id, user.id);
      assert.deepEqual(signedIn.user.meta, { cart: ['tea', 'scones'] });
      assert.equal(signedIn.user.isAnonymous, false);
      assert.equal(signedIn.user.emailConfirmed, true);
      // An upgraded account may now have what an anonymous one may not.
      const upgraded = app.client(signedIn.tokens.accessToken);
      assert.ok((await upgraded.auth.apiTokens.create.mutate({ name: 'script' })).token.startsWith('pat_'));
    });

    it("upgrading to an address another account holds takes nothing from it and mails it nothing", async () => {
      const victim = await registerConfirmed(kit());
      const { user, tokens } = await signInAnonymously(kit());
      const client = kit().client(tokens.accessToken);
      await client.auth.changePassword.mutate({ newPassword: PASSWORD });
      await kit().auth.settled();
      const mailsBefore = kit().smtp.mailsTo(victim.email).length;
      // The same answer as for a free address: no enumeration beyond what changeEmail already reveals.
      assert.deepEqual(await client.auth.changeEmail.mutate({ newEmail: victim.email, password: PASSWORD }), { ok: true });
      await kit().auth.settled();
      assert.equal(kit().smtp.mailsTo(victim.email).length, mailsBefore);
      assert.equal((await client.auth.me.query()).email, null);
      assert.equal((await userRow(kit(), user.id))?.isAnonymous, true);
      const owner = await kit().client().auth.login.mutate({ identifier: victim.email, password: PASSWORD });
      assert.equal(owner.user.id, victim.user.id);

      // A link to a free address that someone else takes before it is spent is worthless.
      const contested = uniqueEmail('contested');
      await client.auth.changeEmail.mutate({ newEmail: contested, password: PASSWORD });
      const link = await kit().smtp.waitForMail(contested, (received) => received.token !== null);
      await kit().client().auth.register.mutate({ email: contested, password: PASSWORD });
      await expectAuthError(kit().client().auth.confirmEmail.mutate({ token: link.token as string }), 'LINK_INVALID');
      assert.equal((await userRow(kit(), user.id))?.email, null);
    });

    it('an anonymous account has no password to sign in with, and may not gain a name, an API token or an address without one', async () => {
      const { user, tokens } = await signInAnonymously(kit());
      const client = kit().client(tokens.accessToken);
      for (const password of [PASSWORD, 'anything at all here']) {
        for (const identifier of [user.id, `${user.id}@example.test`]) {
          await expectAuthError(kit().client().auth.login.mutate({ identifier, password }), 'INVALID_CREDENTIALS');
        }
        await expectAuthError(client.auth.changeEmail.mutate({ newEmail: uniqueEmail(), password }), 'INVALID_CREDENTIALS');
      }
      await expectAuthError(client.auth.updateUser.mutate({ username: `anon${subjects++}` }), 'ANONYMOUS_NOT_ALLOWED');
      await expectAuthError(client.auth.apiTokens.create.mutate({ name: 'script' }), 'ANONYMOUS_NOT_ALLOWED');
      const row = await userRow(kit(), user.id);
      assert.equal(row?.username, null);
      assert.equal(row?.email, null);
      assert.deepEqual(await client.auth.apiTokens.list.query(), []);
    });

    it('its session, however old, is the recent authentication it can give: it deletes itself a week on', async () => {
      const app = await kit().ownApp(ON);
      const { user, tokens } = await signInAnonymously(app);
      app.clock.advanceSeconds(7 * 86_400);
      const { tokens: later } = await app.client().auth.refresh.mutate({ refreshToken: tokens.refreshToken });
      assert.deepEqual(await app.client(later.accessToken).auth.deleteAccount.mutate(), { ok: true });
      assert.equal(await userRow(kit(), user.id), null);
      assert.equal(await accepts(app, later.accessToken), false);
    });

    it('garbage input is a typed error, never a 500, and makes no account', async () => {
      const before = await anonymousRows(kit());
      const bodies = ['{"json":{"x":1}}', '{"json":5}', '{"json":"anonymous"}', '{"json":null}', '{"json":[]}', '{"json":', 'not json', '{"json":{"": 0}}'];
      for (const body of bodies) {
        const response = await fetch(`${kit().url}/auth.signInAnonymously`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const answer = (await response.json()) as { error?: { json: { data: { authCode: string | null } } } };
        assert.ok(response.status >= 400 && response.status < 500, `${body}: ${response.status}`);
        assert.ok(answer.error?.json.data.authCode, `${body}: a typed error`);
      }
      assert.equal(await anonymousRows(kit()), before);
    });

    it('off unless enabled: ANONYMOUS_SIGN_IN_DISABLED, and no account', async () => {
      const off = await kit().variant({});
      assert.equal((await off.client().auth.settings.query()).anonymousSignIn, false);
      const before = await anonymousRows(kit());
      const refused = await expectAuthError(off.client().auth.signInAnonymously.mutate(), 'ANONYMOUS_SIGN_IN_DISABLED');
      assert.equal(refused.data?.httpStatus, 403);
      assert.equal(await anonymousRows(kit()), before);
    });

    it('a flood from one client is refused after its hourly allowance, with no account beyond it', async () => {
      const app = await kit().ownApp(ON);
      const before = await anonymousRows(kit());
      const outcomes = await Promise.allSettled(Array.from({ length: 16 }, () => app.client().auth.signInAnonymously.mutate()));
      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
      const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [getAuthErrorCode(outcome.reason)] : []));
      assert.deepEqual(refusals, Array<string>(6).fill('RATE_LIMITED'));
      assert.equal(await anonymousRows(kit()), before + 10);
      const refused = await expectAuthError(app.client().auth.signInAnonymously.mutate(), 'RATE_LIMITED');
      assert.equal(refused.data?.httpStatus, 429);
      assert.equal(await anonymousRows(kit()), before + 10);
      // The allowance is the client's, and comes back with the hour.
      app.clock.advanceSeconds(3601);
      await signInAnonymously(app);
    });

    it('the cleaner deletes the anonymous accounts left unused, and only those; their tokens stop working', async () => {
      const app = await kit().ownApp({ anonymous: { enabled: true, deleteUnusedAfterSeconds: 600 }, tokens: { accessTokenTtlSeconds: 3600 } });
      const idle = await signInAnonymously(app);
      const refreshed = await signInAnonymously(app);
      const edited = await signInAnonymously(app);
      const registered = await registerConfirmed(kit(), app);
      // Each token is cached on this node before the cleaner runs.
      for (const account of [idle, refreshed, edited, registered]) assert.ok(await accepts(app, account.tokens.accessToken));

      app.clock.advanceSeconds(300);
      const { tokens: renewed } = await app.client().auth.refresh.mutate({ refreshToken: refreshed.tokens.refreshToken });
      await app.client(edited.tokens.accessToken).auth.updateUser.mutate({ meta: { seen: true } });
      app.clock.advanceSeconds(301);
      const run = await app.auth.cleanUp();
      assert.ok(run.deleted.anonymousUsers >= 1);

      assert.equal(await userRow(kit(), idle.user.id), null);
      assert.equal(await accepts(app, idle.tokens.accessToken), false);
      await expectAuthError(app.client().auth.refresh.mutate({ refreshToken: idle.tokens.refreshToken }), 'TOKEN_INVALID');
      for (const kept of [refreshed.user.id, edited.user.id, registered.user.id]) assert.ok(await userRow(kit(), kept), 'a used account stays');
      assert.ok(await accepts(app, renewed.accessToken));
      assert.ok(await accepts(app, edited.tokens.accessToken));

      // Unused in their turn, the anonymous ones go; an account with an address never does.
      app.clock.advanceSeconds(3600);
      await app.auth.cleanUp();
      assert.equal(await userRow(kit(), refreshed.user.id), null);
      assert.equal(await userRow(kit(), edited.user.id), null);
      assert.ok(await userRow(kit(), registered.user.id));
    });
  },
  SUITE_OPTIONS,
);

describeOnEachDatabase('anonymous users upgraded by OAuth', (kit) => {
  const CALLBACK_URL = `${APP_URL}/oauth/callback`;
  let corp: OidcIssuer;
  let app: TestApp;

  before(async () => {
    corp = await startOidcIssuer({ redirectUri: CALLBACK_URL });
    app = await kit().variant({ ...SUITE_OPTIONS, oauth: { timeoutMs: 1500, providers: { corp: { issuer: corp.issuer, ...OIDC_CLIENTS.basic } } } });
  });

  after(async () => {
    await corp.close();
  });

  it('linking an identity keeps the id and meta, and the identity signs in to that account', async () => {
    const browser = browserAt(app.url);
    const { user, tokens } = await browser.client.auth.signInAnonymously.mutate();
    browser.signIn(tokens.accessToken);
    await browser.client.auth.updateUser.mutate({ meta: { level: 7 } });
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('linked'), email_verified: true });
    const { url } = await browser.client.auth.oauth.link.mutate({ provider: 'corp' });
    const query = await corp.authorize(url, sub);
    const linked = await browser.client.auth.oauth.callback.mutate({ provider: 'corp', code: query.get('code') ?? '', state: query.get('state') ?? '', iss: query.get('iss') ?? undefined });
    assert.equal(linked.user.id, user.id);
    assert.equal(linked.user.isAnonymous, false);
    assert.deepEqual(linked.user.meta, { level: 7 });
    assert.equal((await userRow(kit(), user.id))?.isAnonymous, false);

    // Another browser, signing in with the identity, reaches the same account.
    const elsewhere = browserAt(app.url);
    const again = await elsewhere.client.auth.oauth.start.mutate({ provider: 'corp' });
    const second = await corp.authorize(again.url, sub);
    const signedIn = await elsewhere.client.auth.oauth.callback.mutate({ provider: 'corp', code: second.get('code') ?? '', state: second.get('state') ?? '', iss: second.get('iss') ?? undefined });
    assert.equal(signedIn.user.id, user.id);
    // Its only way in is the identity: unlinking it is refused.
    elsewhere.signIn(signedIn.tokens.accessToken);
    await expectAuthError(elsewhere.client.auth.oauth.unlink.mutate({ provider: 'corp' }), 'LAST_SIGN_IN_METHOD');
  });
});

describe('the reference server with AUTH_ANONYMOUS', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('=on answers signInAnonymously, with a token demo.whoami takes; unset, it is refused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-anonymous-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const off = await startServer({ AUTH_DATA_DIR: dataDir });
    assert.equal((await call(off, 'auth.signInAnonymously', { input: {} })).authCode, 'ANONYMOUS_SIGN_IN_DISABLED');
    await off.stop();

    const on = await startServer({ AUTH_DATA_DIR: dataDir, AUTH_ANONYMOUS: 'on' });
    cleanups.push(() => on.stop());
    assert.equal((await call(on, 'auth.settings')).data?.anonymousSignIn, true);
    const signedIn = await call(on, 'auth.signInAnonymously', { input: {} });
    assert.equal(signedIn.status, 200);
    const { user, tokens } = signedIn.data as unknown as { user: { id: string; isAnonymous: boolean }; tokens: { accessToken: string } };
    assert.equal(user.isAnonymous, true);
    assert.equal((await call(on, 'demo.whoami', { accessToken: tokens.accessToken })).data?.userId, user.id);
  });
});
