import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { browserAt } from './harness/kit-browser.js';
import { startGithubApp } from './harness/github-app.js';
import { API_CLIENT } from './harness/provider-apis.js';
import { oauthFlowTable } from '../db/index.js';
import type { ProviderApis } from './harness/provider-apis.js';
import { APP_URL, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';

/*
 * What an attacker sends the OAuth procedures: redirects off the app, providers that do not exist,
 * and garbage in every input. Each answer is a typed refusal, never a 500.
 */

const OPEN_REDIRECTS = [
  'https://evil.example',
  '//evil.example',
  '/\\evil.example',
  'https://app.example.test.evil.example',
  'https://app.example.test@evil.example',
  'javascript:alert(1)',
  '%2F%2Fevil.example',
  '/%2F/evil.example',
  'http://app.example.test/',
  ' https://evil.example',
  'https://evil.example/https://app.example.test',
];

describeOnEachDatabase('OAuth procedures under attack', (kit) => {
  let apis: ProviderApis;
  let app: TestApp;

  before(async () => ({ apis, app } = await startGithubApp(kit())));

  after(async () => {
    await apis.close();
  });

  it('redirectTo off the app is refused; paths under it are kept', async () => {
    const browser = browserAt(app.url);
    for (const redirectTo of OPEN_REDIRECTS) {
      await expectAuthError(browser.client.auth.oauth.start.mutate({ provider: 'github', redirectTo }), 'REDIRECT_NOT_ALLOWED');
    }
    for (const redirectTo of ['/', '/settings', `${APP_URL}/a/b?c=d#e`]) {
      const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'github', redirectTo });
      assert.ok(url.startsWith(`${apis.base}/github/login/oauth/authorize?`));
    }
  });

  it('a client starting flows without end is refused past its allowance, and writes no flow for it; another client goes on', async () => {
    let clientIp = '203.0.113.9';
    const limited = await kit().variant({
      clientIp: () => clientIp,
      rateLimits: { oauthFlowsPerIp: 3 },
      oauth: { providers: { github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') } } },
    });
    const flows = async () => (await kit().database.db.select({ stateHash: oauthFlowTable.stateHash }).from(oauthFlowTable)).length;
    // Without a cookie every start is a new browser: the per-browser bound alone would not hold it.
    for (let start = 0; start < 3; start++) await browserAt(limited.url).client.auth.oauth.start.mutate({ provider: 'github' });
    const stored = await flows();
    await expectAuthError(browserAt(limited.url).client.auth.oauth.start.mutate({ provider: 'github' }), 'RATE_LIMITED');
    assert.equal(await flows(), stored);
    clientIp = '198.51.100.4';
    await browserAt(limited.url).client.auth.oauth.start.mutate({ provider: 'github' });
  });

  it('a client guessing states is refused past its allowance of failed lookups; a real flow of another client finishes', async () => {
    let clientIp = '203.0.113.10';
    const limited = await kit().variant({
      clientIp: () => clientIp,
      rateLimits: { tokenFailuresPerIp: 5 },
      oauth: { providers: { github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') } } },
    });
    const guesser = browserAt(limited.url);
    // A flow of its own gives the guesser a flow cookie: the guesses get as far as the flows' table.
    await guesser.client.auth.oauth.start.mutate({ provider: 'github' });
    const guess = () => guesser.client.auth.oauth.callback.mutate({ provider: 'github', code: 'x', state: randomBytes(32).toString('base64url') });
    for (let attempt = 0; attempt < 5; attempt++) await expectAuthError(guess(), 'OAUTH_FAILED');
    await expectAuthError(guess(), 'RATE_LIMITED');
    clientIp = '198.51.100.5';
    const browser = browserAt(limited.url);
    const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'github' });
    const query = apis.authorize('github', url, { id: '77077', email: uniqueEmail('guessed'), verified: true });
    const signedIn = await browser.client.auth.oauth.callback.mutate({ provider: 'github', code: query.get('code') ?? '', state: query.get('state') ?? '' });
    assert.ok(signedIn.tokens.accessToken);
  });

  it('a provider the server does not have is refused, on a server with providers and on one without', async () => {
    const browser = browserAt(app.url);
    await expectAuthError(browser.client.auth.oauth.start.mutate({ provider: 'gitlab' }), 'OAUTH_PROVIDER_UNKNOWN');
    await expectAuthError(browserAt(kit().url).client.auth.oauth.start.mutate({ provider: 'github' }), 'OAUTH_PROVIDER_UNKNOWN');
    assert.deepEqual((await kit().client().auth.settings.query()).providers, []);
  });

  it('the flow cookie is HttpOnly, Secure, SameSite=Lax and host-only, and lives as long as a flow', async () => {
    const response = await fetch(`${app.url}/auth.oauth.start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: { provider: 'github' } }),
    });
    assert.equal(response.status, 200);
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith('__Host-auth-oauth='));
    assert.match(cookie ?? '', /^__Host-auth-oauth=ob_[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=600$/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it('garbage in every input of the OAuth procedures gets a typed refusal, never a 500', async () => {
    const owner = await registerConfirmed(kit(), app);
    const bodies = [
      'null',
      '{}',
      '[]',
      '"x"',
      '{"json":null}',
      '{"json":{"provider":1}}',
      '{"json":{"provider":"GitHub"}}',
      '{"json":{"provider":"github","redirectTo":{"a":1}}}',
      '{"json":{"provider":"github","redirectTo":"\\u0000"}}',
      '{"json":{"provider":"github","extra":true}}',
      `{"json":{"provider":"github","code":"${'c'.repeat(5000)}","state":"s"}}`,
      '{"json":{"provider":"github","code":"\\ud800","state":"x"}}',
      '{"json":{"provider":"github","code":"c","state":"short"}}',
      `{"json":{"provider":"github","code":"c","state":"${'A'.repeat(43)}","iss":"https://evil.example"}}`,
      '{"json":{"provider":"' + 'a'.repeat(100) + '"}}',
      '{"json":{"provider":"github","password":5}}',
      '{"json":',
    ];
    for (const path of ['auth.oauth.start', 'auth.oauth.callback', 'auth.oauth.link', 'auth.oauth.unlink']) {
      for (const accessToken of [undefined, owner.tokens.accessToken]) {
        for (const body of bodies) {
          const response = await fetch(`${app.url}/${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(accessToken && { authorization: `Bearer ${accessToken}` }) },
            body,
          });
          const answer = (await response.json()) as { result?: unknown; error?: { json: { data: { authCode: string | null } } } };
          assert.ok(response.status < 500, `${path} ${body.slice(0, 60)}: ${response.status}`);
          if (answer.error) assert.ok(answer.error.json.data.authCode, `${path} ${body.slice(0, 60)}: a typed error`);
        }
      }
    }
    const query = await fetch(`${app.url}/auth.oauth.identities?input=${encodeURIComponent('{"json":{"x":1}}')}`, {
      headers: { authorization: `Bearer ${owner.tokens.accessToken}` },
    });
    assert.ok(query.status < 500);
  });

  it('the signed-in procedures want a session, and an API token is not one', async () => {
    const owner = await registerConfirmed(kit(), app);
    const anonymous = browserAt(app.url);
    await expectAuthError(anonymous.client.auth.oauth.identities.query(), 'TOKEN_MISSING');
    await expectAuthError(anonymous.client.auth.oauth.link.mutate({ provider: 'github' }), 'TOKEN_MISSING');
    await expectAuthError(anonymous.client.auth.oauth.unlink.mutate({ provider: 'github' }), 'TOKEN_MISSING');
    const { token } = await app.client(owner.tokens.accessToken).auth.apiTokens.create.mutate({ name: 'script' });
    const script = browserAt(app.url);
    script.signIn(token);
    await expectAuthError(script.client.auth.oauth.link.mutate({ provider: 'github' }), 'INSUFFICIENT_SCOPE');
    await expectAuthError(script.client.auth.oauth.unlink.mutate({ provider: 'github' }), 'INSUFFICIENT_SCOPE');
  });
});
