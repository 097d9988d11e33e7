import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTestDatabase } from './harness/database.js';
import { browserAt } from './harness/kit-browser.js';
import type { KitBrowser } from './harness/kit-browser.js';
import { OIDC_CLIENTS, startOidcIssuer } from './harness/oidc-issuer.js';
import { API_CLIENT, startProviderApis } from './harness/provider-apis.js';
import { startServer } from './harness/reference-server.js';
import { APP_URL, uniqueEmail } from './harness/test-kit.js';

/*
 * The reference server reads its providers from AUTH_OAUTH, lists them in `auth.settings`, serves
 * the callback page at /oauth/callback, and signs in end to end with a real OpenID Connect issuer
 * and with each preset (Google's on a real issuer, the others on loopback servers speaking their APIs).
 */

describe('the reference server with AUTH_OAUTH', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Signs in at `provider` from a browser of its own, as the callback page would: the provider's query, then the callback. */
  async function callbackFor(browser: KitBrowser, provider: string, query: URLSearchParams) {
    return browser.client.auth.oauth.callback.mutate({ provider, code: query.get('code') ?? '', state: query.get('state') ?? '', iss: query.get('iss') ?? undefined });
  }

  async function signInThrough(env: Record<string, string>) {
    const issuer = await startOidcIssuer({ redirectUri: `${APP_URL}/oauth/callback` });
    cleanups.push(() => issuer.close());
    const google = await startOidcIssuer({ redirectUri: `${APP_URL}/oauth/callback`, claimsInIdToken: true });
    cleanups.push(() => google.close());
    const apis = await startProviderApis();
    cleanups.push(() => apis.close());
    // A generic issuer and each of the five presets, every endpoint on loopback.
    const oauth = {
      corp: { issuer: issuer.issuer, ...OIDC_CLIENTS.basic },
      google: { preset: 'google', issuer: google.issuer, ...OIDC_CLIENTS.post },
      github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') },
      gitlab: { preset: 'gitlab', issuer: `${apis.base}/gitlab/`, ...API_CLIENT },
      bitbucket: { preset: 'bitbucket', ...API_CLIENT, endpoints: apis.endpoints('bitbucket') },
      facebook: { preset: 'facebook', ...API_CLIENT, endpoints: apis.endpoints('facebook') },
    };
    const server = await startServer({ ...env, AUTH_OAUTH: JSON.stringify(oauth) });
    cleanups.push(() => server.stop());

    const page = await fetch(`${server.url}/oauth/callback?code=abc&state=def&iss=${encodeURIComponent(issuer.issuer)}`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

    const browser = browserAt(`${server.url}/trpc`);
    assert.deepEqual((await browser.client.auth.settings.query()).providers, Object.keys(oauth));
    const email = uniqueEmail('reference');
    issuer.setAccount('reference-user', { email, email_verified: true });
    const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'corp', redirectTo: '/after' });
    const signedIn = await callbackFor(browser, 'corp', await issuer.authorize(url, 'reference-user'));
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.redirectTo, `${APP_URL}/after`);

    // Each preset signs up a new account with the address it vouches for, and signs it in again.
    google.setAccount('google-user', { email: uniqueEmail('google'), email_verified: true });
    const viaGoogle = async () => {
      const elsewhere = browserAt(`${server.url}/trpc`);
      const started = await elsewhere.client.auth.oauth.start.mutate({ provider: 'google' });
      return (await callbackFor(elsewhere, 'google', await google.authorize(started.url, 'google-user'))).user.id;
    };
    assert.equal(await viaGoogle(), await viaGoogle(), 'google');
    for (const [index, api] of (['github', 'gitlab', 'bitbucket'] as const).entries()) {
      // Numeric ids, as GitHub's and GitLab's are.
      const user = { id: String(4711 + index), email: uniqueEmail(api), verified: true };
      const viaApi = async () => {
        const elsewhere = browserAt(`${server.url}/trpc`);
        const started = await elsewhere.client.auth.oauth.start.mutate({ provider: api });
        return (await callbackFor(elsewhere, api, apis.authorize(api, started.url, user))).user;
      };
      const first = await viaApi();
      assert.equal(first.email, user.email, api);
      assert.equal((await viaApi()).id, first.id, api);
    }
    // Facebook vouches for no address: the signed-in user links it, then signs in with it.
    const facebookUser = { id: '4799', email: null, verified: false };
    browser.signIn(signedIn.tokens.accessToken);
    const linking = await browser.client.auth.oauth.link.mutate({ provider: 'facebook' });
    assert.equal((await callbackFor(browser, 'facebook', apis.authorize('facebook', linking.url, facebookUser))).user.id, signedIn.user.id);
    const elsewhere = browserAt(`${server.url}/trpc`);
    const started = await elsewhere.client.auth.oauth.start.mutate({ provider: 'facebook' });
    assert.equal((await callbackFor(elsewhere, 'facebook', apis.authorize('facebook', started.url, facebookUser))).user.id, signedIn.user.id);
  }

  it('on PGlite', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-oauth-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await signInThrough({ AUTH_DATA_DIR: dataDir });
  });

  it('on PostgreSQL', async () => {
    const database = await openTestDatabase('postgres');
    cleanups.push(() => database.close());
    await signInThrough({ DATABASE_URL: database.url ?? '' });
  });

  it('refuses to start with a provider AUTH_OAUTH gets wrong, naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-oauth-ref-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await assert.rejects(
      startServer({ AUTH_DATA_DIR: dataDir, AUTH_OAUTH: JSON.stringify({ corp: { issuer: 'http://idp.example.com', clientId: 'a', clientSecret: 'b' } }) }),
      /oauth\.providers\.corp\.issuer/,
    );
  });
});
