import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTestDatabase } from './harness/database.js';
import { browserAt } from './harness/kit-browser.js';
import { OIDC_CLIENTS, startOidcIssuer } from './harness/oidc-issuer.js';
import { startServer } from './harness/reference-server.js';
import { APP_URL, uniqueEmail } from './harness/test-kit.js';

/*
 * The reference server reads its providers from AUTH_OAUTH, lists them in `auth.settings`, serves
 * the callback page at /oauth/callback, and signs in end to end with a real OpenID Connect issuer.
 */

describe('the reference server with AUTH_OAUTH', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function signInThrough(env: Record<string, string>) {
    const issuer = await startOidcIssuer({ redirectUri: `${APP_URL}/oauth/callback` });
    cleanups.push(() => issuer.close());
    const oauth = { corp: { issuer: issuer.issuer, ...OIDC_CLIENTS.basic }, github: { preset: 'github', clientId: 'id', clientSecret: 'secret' } };
    const server = await startServer({ ...env, AUTH_OAUTH: JSON.stringify(oauth) });
    cleanups.push(() => server.stop());

    const page = await fetch(`${server.url}/oauth/callback?code=abc&state=def&iss=${encodeURIComponent(issuer.issuer)}`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

    const browser = browserAt(`${server.url}/trpc`);
    assert.deepEqual((await browser.client.auth.settings.query()).providers, ['corp', 'github']);
    const email = uniqueEmail('reference');
    issuer.setAccount('reference-user', { email, email_verified: true });
    const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'corp', redirectTo: '/after' });
    const query = await issuer.authorize(url, 'reference-user');
    const signedIn = await browser.client.auth.oauth.callback.mutate({
      provider: 'corp',
      code: query.get('code') ?? '',
      state: query.get('state') ?? '',
      iss: query.get('iss') ?? undefined,
    });
    assert.equal(signedIn.user.email, email);
    assert.equal(signedIn.redirectTo, `${APP_URL}/after`);
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
