import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { oauthFlowTable, oauthIdentityTable, userTable } from '../db/schema.js';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { browserAt } from './harness/kit-browser.js';
import type { KitBrowser } from './harness/kit-browser.js';
import { OIDC_CLIENTS, signJwt, startOidcIssuer } from './harness/oidc-issuer.js';
import type { OidcIssuer } from './harness/oidc-issuer.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';
import { until } from './harness/poll.js';

/*
 * Sign-in with a real OpenID Connect issuer (oidc-provider on loopback): a generic provider found by
 * discovery, and the Google preset pointed at a second issuer that, as Google does, puts the address
 * in the ID token. Then what an attacker or a broken issuer does to the flow: every case ends in
 * `OAUTH_FAILED` (or the linking refusals), with no session and nothing written.
 */

const CALLBACK_URL = `${APP_URL}/oauth/callback`;
let subjects = 0;
const newSubject = () => `subject-${process.pid}-${++subjects}`;

describeOnEachDatabase('OAuth sign-in with OpenID Connect', (kit) => {
  let corp: OidcIssuer;
  let google: OidcIssuer;
  let app: TestApp;

  before(async () => {
    corp = await startOidcIssuer({ redirectUri: CALLBACK_URL });
    google = await startOidcIssuer({ redirectUri: CALLBACK_URL, claimsInIdToken: true });
    app = await kit().variant({
      oauth: {
        timeoutMs: 1500,
        providers: {
          corp: { issuer: corp.issuer, ...OIDC_CLIENTS.basic },
          google: { preset: 'google', issuer: google.issuer, ...OIDC_CLIENTS.post },
        },
      },
    });
  });

  after(async () => {
    await corp.close();
    await google.close();
  });

  /** Starts a flow in `browser`, logs `sub` in at the issuer, and answers the callback's query. */
  async function authorize(browser: KitBrowser, issuer: OidcIssuer, flow: { provider: string; sub: string; redirectTo?: string }) {
    const { url } = await browser.client.auth.oauth.start.mutate({ provider: flow.provider, redirectTo: flow.redirectTo });
    return issuer.authorize(url, flow.sub);
  }

  function callbackOf(provider: string, query: URLSearchParams) {
    return { provider, code: query.get('code') ?? '', state: query.get('state') ?? '', iss: query.get('iss') ?? undefined };
  }

  async function signInWith(issuer: OidcIssuer, provider: string, sub: string) {
    const browser = browserAt(app.url);
    const query = await authorize(browser, issuer, { provider, sub });
    return { browser, query, signedIn: await browser.client.auth.oauth.callback.mutate(callbackOf(provider, query)) };
  }

  it('settings list the configured providers', async () => {
    const settings = await app.client().auth.settings.query();
    assert.deepEqual(settings.providers, ['corp', 'google']);
  });

  it('a new identity signs up a confirmed account, and signs in to it again', async () => {
    const email = uniqueEmail('oidc');
    const sub = newSubject();
    corp.setAccount(sub, { email, email_verified: true });
    const first = await signInWith(corp, 'corp', sub);
    assert.equal(first.signedIn.user.email, email);
    assert.equal(first.signedIn.user.emailConfirmed, true);
    assert.equal(first.signedIn.redirectTo, APP_URL);
    const whoami = await app.client(first.signedIn.tokens.accessToken).demo.whoami.query();
    assert.equal(whoami.userId, first.signedIn.user.id);

    const again = await signInWith(corp, 'corp', sub);
    assert.equal(again.signedIn.user.id, first.signedIn.user.id);
    const identities = await app.client(again.signedIn.tokens.accessToken).auth.oauth.identities.query();
    assert.deepEqual(
      identities.map(({ provider, issuer, subject, email: address }) => ({ provider, issuer, subject, email: address })),
      [{ provider: 'corp', issuer: corp.issuer, subject: sub, email }],
    );
  });

  it('the Google preset reads the vouched-for address from the ID token', async () => {
    const email = uniqueEmail('google');
    const sub = newSubject();
    google.setAccount(sub, { email, email_verified: true });
    const { signedIn } = await signInWith(google, 'google', sub);
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.user.emailConfirmed, true);
  });

  it('the authorization URL carries S256 PKCE, a nonce and a fresh state, never a verifier; the state is stored only hashed', async () => {
    const browser = browserAt(app.url);
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'corp' });
      const query = new URL(url).searchParams;
      assert.equal(query.get('code_challenge_method'), 'S256');
      assert.match(query.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.equal(query.get('code_verifier'), null);
      assert.equal(query.get('redirect_uri'), CALLBACK_URL);
      for (const value of [query.get('state'), query.get('nonce'), query.get('code_challenge')]) {
        assert.ok(value && !seen.has(value), 'every state, nonce and challenge is new');
        seen.add(value);
      }
      const state = query.get('state') ?? '';
      const stored = await kit().database.db.select().from(oauthFlowTable).where(eq(oauthFlowTable.stateHash, createHash('sha256').update(state).digest('base64url')));
      assert.equal(stored.length, 1);
      assert.ok(!JSON.stringify(stored).includes(state), 'the state itself is not stored');
    }
    const cookie = browser.jar.cookies.get('__Host-auth-oauth');
    assert.match(cookie ?? '', /^ob_/);
  });

  it('a replayed callback creates no session and sends no second token request', async () => {
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('replay'), email_verified: true });
    const { browser, query } = await signInWith(corp, 'corp', sub);
    const requests = corp.tokenRequests;
    await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
    assert.equal(corp.tokenRequests, requests);
  });

  it('a callback in another browser than the one that started the flow fails (login CSRF), and leaves the flow to its browser', async () => {
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('csrf'), email_verified: true });
    const attacker = browserAt(app.url);
    const query = await authorize(attacker, corp, { provider: 'corp', sub });
    const victim = browserAt(app.url);
    await expectAuthError(victim.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
    await victim.client.auth.oauth.start.mutate({ provider: 'corp' });
    await expectAuthError(victim.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
    const signedIn = await attacker.client.auth.oauth.callback.mutate(callbackOf('corp', query));
    assert.ok(signedIn.tokens.accessToken);
  });

  it('a modified state, and a flow older than ten minutes, fail', async () => {
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('expired'), email_verified: true });
    const browser = browserAt(app.url);
    const query = await authorize(browser, corp, { provider: 'corp', sub });
    const modified = { ...callbackOf('corp', query), state: `${query.get('state')?.slice(0, -1)}A` };
    if (modified.state !== query.get('state')) await expectAuthError(browser.client.auth.oauth.callback.mutate(modified), 'OAUTH_FAILED');
    kit().clock.advanceSeconds(601);
    try {
      await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
    } finally {
      kit().clock.advanceSeconds(-601);
    }
  });

  it('a code and issuer of one provider presented with a flow of another fail before any token request (mix-up)', async () => {
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('mixup'), email_verified: true });
    google.setAccount(sub, { email: uniqueEmail('mixup'), email_verified: true });
    const browser = browserAt(app.url);
    const corpQuery = await authorize(browser, corp, { provider: 'corp', sub });
    const googleQuery = await authorize(browser, google, { provider: 'google', sub });
    const before = { corp: corp.tokenRequests, google: google.tokenRequests };
    // The corp flow's state with Google's code and issuer, at corp's callback.
    await expectAuthError(
      browser.client.auth.oauth.callback.mutate({ ...callbackOf('corp', googleQuery), state: corpQuery.get('state') ?? '' }),
      'OAUTH_FAILED',
    );
    // Google's flow presented as corp's.
    await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', googleQuery)), 'OAUTH_FAILED');
    assert.deepEqual({ corp: corp.tokenRequests, google: google.tokenRequests }, before);
  });

  it('an issuer that sends `iss` (RFC 9207) is refused a callback without it', async () => {
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('no-iss'), email_verified: true });
    const browser = browserAt(app.url);
    const query = await authorize(browser, corp, { provider: 'corp', sub });
    assert.equal(query.get('iss'), corp.issuer);
    await expectAuthError(browser.client.auth.oauth.callback.mutate({ ...callbackOf('corp', query), iss: undefined }), 'OAUTH_FAILED');
  });

  it('an ID token for another audience, with alg none, signed by a foreign key, or with another nonce, signs nobody in', async () => {
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const tampers = {
      'another audience': (token: Parameters<typeof signJwt>[0], key: Parameters<typeof signJwt>[1]) => signJwt({ ...token, payload: { ...token.payload, aud: 'someone-else' } }, key),
      'alg none': (token: Parameters<typeof signJwt>[0], key: Parameters<typeof signJwt>[1]) => signJwt({ ...token, header: { ...token.header, alg: 'none' } }, key),
      'a foreign key': (token: Parameters<typeof signJwt>[0]) => signJwt(token, foreign),
      'another nonce': (token: Parameters<typeof signJwt>[0], key: Parameters<typeof signJwt>[1]) => signJwt({ ...token, payload: { ...token.payload, nonce: 'not-this-flows' } }, key),
    };
    for (const [name, tamper] of Object.entries(tampers)) {
      const sub = newSubject();
      const email = uniqueEmail('forged');
      corp.setAccount(sub, { email, email_verified: true });
      corp.tamper = tamper;
      try {
        const browser = browserAt(app.url);
        const query = await authorize(browser, corp, { provider: 'corp', sub });
        await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
      } finally {
        corp.tamper = null;
      }
      const made = await kit().database.db.select().from(userTable).where(eq(userTable.email, email));
      assert.equal(made.length, 0, `${name}: no account`);
    }
    // The untampered token still works: the checks refused the forgeries, not the issuer.
    const sub = newSubject();
    corp.setAccount(sub, { email: uniqueEmail('genuine'), email_verified: true });
    assert.ok((await signInWith(corp, 'corp', sub)).signedIn.tokens.accessToken);
  });

  it('an address the issuer does not vouch for never signs in to the account that has it', async () => {
    const victim = await registerConfirmed(kit(), app);
    const sub = newSubject();
    corp.setAccount(sub, { email: victim.email, email_verified: false });
    const browser = browserAt(app.url);
    const query = await authorize(browser, corp, { provider: 'corp', sub });
    await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_EMAIL_IN_USE');
    const linked = await kit().database.db.select().from(oauthIdentityTable).where(eq(oauthIdentityTable.userId, victim.user.id));
    assert.equal(linked.length, 0);
    // The victim's session is untouched.
    assert.equal((await app.client(victim.tokens.accessToken).auth.me.query()).id, victim.user.id);
  });

  it('a vouched-for address joins the confirmed account that has it; a new identity without a vouched address makes none', async () => {
    const owner = await registerConfirmed(kit(), app);
    const sub = newSubject();
    corp.setAccount(sub, { email: owner.email, email_verified: true });
    const { signedIn } = await signInWith(corp, 'corp', sub);
    assert.equal(signedIn.user.id, owner.user.id);
    // The password still works: the account was its owner's already.
    await app.client().auth.login.mutate({ identifier: owner.email, password: PASSWORD });

    const stranger = newSubject();
    corp.setAccount(stranger, { email: uniqueEmail('unvouched'), email_verified: false });
    const browser = browserAt(app.url);
    const query = await authorize(browser, corp, { provider: 'corp', sub: stranger });
    await expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_EMAIL_UNVERIFIED');
  });

  it('an unconfirmed account with the vouched-for address is proven, not joined as it stands: its password and sessions end', async () => {
    const email = uniqueEmail('squatted');
    // Someone signed up with the address and never proved it.
    const squatter = await app.client().auth.register.mutate({ email, password: PASSWORD });
    assert.equal(squatter.confirmationSent, true);
    const sub = newSubject();
    corp.setAccount(sub, { email, email_verified: true });
    const { signedIn } = await signInWith(corp, 'corp', sub);
    assert.equal(signedIn.user.emailConfirmed, true);
    const [row] = await kit().database.db.select().from(userTable).where(eq(userTable.email, email));
    assert.equal(row?.passwordHash, null, 'the password the squatter chose no longer works');
    await expectAuthError(app.client().auth.login.mutate({ identifier: email, password: PASSWORD }), 'INVALID_CREDENTIALS');
  });

  it('a failing token endpoint, and one that never answers, end the callback with OAUTH_FAILED while other calls go on', async () => {
    for (const mode of ['fail', 'hang'] as const) {
      const sub = newSubject();
      corp.setAccount(sub, { email: uniqueEmail(mode), email_verified: true });
      const browser = browserAt(app.url);
      const query = await authorize(browser, corp, { provider: 'corp', sub });
      corp.tokenEndpoint = mode;
      try {
        const started = Date.now();
        const requests = corp.tokenRequests;
        const callback = expectAuthError(browser.client.auth.oauth.callback.mutate(callbackOf('corp', query)), 'OAUTH_FAILED');
        if (mode === 'hang') {
          await until(() => corp.tokenRequests > requests, 'the token request');
          assert.ok((await app.client().auth.settings.query()).providers.length > 0, 'other calls are answered meanwhile');
        }
        await callback;
        assert.ok(Date.now() - started < 10_000, 'within 10 s');
      } finally {
        corp.tokenEndpoint = 'normal';
      }
    }
  });
});
