import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createAuthClient, getAuthErrorCode } from '../client/index.js';
import { CookieJar } from './harness/cookie-jar.js';
import { startGithubApp } from './harness/github-app.js';
import type { ProviderApis } from './harness/provider-apis.js';
import { APP_URL, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';

/*
 * The client SDK's two steps, `oauth.start` and `oauth.complete`, as a page uses them: the second
 * reads the provider's redirect, signs in, and the client's calls then carry the new token.
 */

describeOnEachDatabase('the client SDK signs in with an OAuth provider', (kit) => {
  let apis: ProviderApis;
  let app: TestApp;

  before(async () => ({ apis, app } = await startGithubApp(kit())));

  after(async () => {
    await apis.close();
  });

  /** A client whose fetch keeps cookies, as a browser on the app's origin would. */
  function browserClient() {
    const jar = new CookieJar();
    return createAuthClient<TestApp['auth']['authRouter']>({
      url: app.url,
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        if (jar.cookies.size > 0) headers.set('cookie', jar.header());
        const response = await fetch(input, { ...init, headers });
        jar.store(response);
        return response;
      },
    });
  }

  it('start, then complete with the redirect the provider sent: signed in, and back where the flow began', async () => {
    const auth = browserClient();
    const email = uniqueEmail('sdk');
    const { url } = await auth.oauth.start('github', { redirectTo: '/welcome' });
    const query = apis.authorize('github', url, { id: '424242', email, verified: true });
    const { user, redirectTo } = await auth.oauth.complete(`${APP_URL}/oauth/callback?${query}`, { provider: 'github' });
    assert.equal(user.email, email);
    assert.equal(redirectTo, `${APP_URL}/welcome`);
    assert.equal(auth.getState().status, 'signed-in');
    await auth.close();
  });

  it("a provider's refusal fails with OAUTH_FAILED and signs nobody in", async () => {
    const auth = browserClient();
    await auth.oauth.start('github');
    const failed = await auth.oauth.complete(`${APP_URL}/oauth/callback?error=access_denied&error_description=%3Cscript%3E`, { provider: 'github' }).catch((error: unknown) => error);
    assert.equal(getAuthErrorCode(failed), 'OAUTH_FAILED');
    assert.equal(auth.getState().status, 'signed-out');
    await auth.close();
  });
});
