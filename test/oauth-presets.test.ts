import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { expectAuthError, registerConfirmed } from './harness/flows.js';
import { browserAt } from './harness/kit-browser.js';
import type { KitBrowser } from './harness/kit-browser.js';
import { API_CLIENT, startProviderApis } from './harness/provider-apis.js';
import type { ApiUser, ProviderApi, ProviderApis } from './harness/provider-apis.js';
import { APP_URL, PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import type { TestApp } from './harness/test-kit.js';
import type { AuditEvent } from '../server/index.js';

/*
 * The GitHub, GitLab (a self-managed instance, by its base URL), Bitbucket and Facebook presets
 * against loopback servers speaking their APIs; then linking and unlinking identities.
 */

let ids = 1000;
const newUser = (email: string | null, verified: boolean): ApiUser => ({ id: String(++ids), email, verified });

describeOnEachDatabase('OAuth sign-in with the GitHub, GitLab, Bitbucket and Facebook presets', (kit) => {
  let apis: ProviderApis;
  let app: TestApp;
  const heard: AuditEvent[] = [];

  before(async () => {
    apis = await startProviderApis();
    app = await kit().variant({
      audit: { onEvent: (event) => void heard.push(event) },
      // Shorter than an access token's life, so a session can be signed in long ago with a live token.
      recentAuth: { windowSeconds: 60 },
      oauth: {
        providers: {
          github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') },
          gitlab: { preset: 'gitlab', issuer: `${apis.base}/gitlab/`, ...API_CLIENT },
          bitbucket: { preset: 'bitbucket', ...API_CLIENT, endpoints: apis.endpoints('bitbucket') },
          facebook: { preset: 'facebook', ...API_CLIENT, endpoints: apis.endpoints('facebook') },
        },
      },
    });
  });

  after(async () => {
    await apis.close();
  });

  /** Starts a flow (`link`: by `oauth.link`) and has `user` consent at `api`: answers the callback's input. */
  async function consent(browser: KitBrowser, api: ProviderApi, user: ApiUser & { link?: boolean }) {
    const { url } = user.link
      ? await browser.client.auth.oauth.link.mutate({ provider: api })
      : await browser.client.auth.oauth.start.mutate({ provider: api });
    const query = apis.authorize(api, url, user);
    return { provider: api, code: query.get('code') ?? '', state: query.get('state') ?? '' };
  }

  async function signInWith(api: ProviderApi, user: ApiUser, browser = browserAt(app.url)) {
    return browser.client.auth.oauth.callback.mutate(await consent(browser, api, user));
  }

  const issuers = (): Record<Exclude<ProviderApi, 'facebook'>, string> => ({
    github: 'https://github.com',
    gitlab: `${apis.base}/gitlab`,
    bitbucket: 'https://bitbucket.org',
  });

  for (const api of ['github', 'gitlab', 'bitbucket'] as const) {
    it(`${api}: a vouched-for address signs up a confirmed account, kept under the preset's issuer`, async () => {
      const email = uniqueEmail(api);
      const user = newUser(email, true);
      const signedIn = await signInWith(api, user);
      assert.equal(signedIn.user.email, email);
      assert.equal(signedIn.user.emailConfirmed, true);
      assert.ok(!JSON.stringify(signedIn).includes('canary-access-token'), "the provider's token stays on the server");
      const identities = await app.client(signedIn.tokens.accessToken).auth.oauth.identities.query();
      assert.deepEqual(
        identities.map(({ provider, issuer }) => ({ provider, issuer })),
        [{ provider: api, issuer: issuers()[api] }],
      );
      assert.equal((await signInWith(api, user)).user.id, signedIn.user.id);
    });

    it(`${api}: an address the provider does not vouch for joins no account and makes none`, async () => {
      const owner = await registerConfirmed(kit(), app);
      const browser = browserAt(app.url);
      await expectAuthError(browser.client.auth.oauth.callback.mutate(await consent(browser, api, newUser(owner.email, false))), 'OAUTH_EMAIL_IN_USE');
      await expectAuthError(browser.client.auth.oauth.callback.mutate(await consent(browser, api, newUser(uniqueEmail(api), false))), 'OAUTH_EMAIL_UNVERIFIED');
    });
  }

  it('the same subject at two providers is two identities, and two accounts', async () => {
    const github = await signInWith('github', { id: '777000', email: uniqueEmail('same-sub'), verified: true });
    const gitlab = await signInWith('gitlab', { id: '777000', email: uniqueEmail('same-sub'), verified: true });
    assert.notEqual(github.user.id, gitlab.user.id);
  });

  it("github: a refused code, answered GitHub's way (200 with an error body), fails the sign-in", async () => {
    const browser = browserAt(app.url);
    const callback = await consent(browser, 'github', newUser(uniqueEmail('bad-code'), true));
    await expectAuthError(browser.client.auth.oauth.callback.mutate({ ...callback, code: 'not-a-code-github-issued' }), 'OAUTH_FAILED');
  });

  it('facebook never vouches: a new identity makes no account, and one with a taken address joins none', async () => {
    const browser = browserAt(app.url);
    await expectAuthError(browser.client.auth.oauth.callback.mutate(await consent(browser, 'facebook', newUser(uniqueEmail('fb'), true))), 'OAUTH_EMAIL_UNVERIFIED');
    const owner = await registerConfirmed(kit(), app);
    await expectAuthError(browser.client.auth.oauth.callback.mutate(await consent(browser, 'facebook', newUser(owner.email, true))), 'OAUTH_EMAIL_IN_USE');
  });

  it('a signed-in user links facebook, then signs in with it; linking needs a recent sign-in or the password', async () => {
    const owner = await registerConfirmed(kit(), app);
    const browser = browserAt(app.url);
    browser.signIn(owner.tokens.accessToken);
    const facebookUser = newUser(owner.email, false);
    const linked = await browser.client.auth.oauth.callback.mutate(await consent(browser, 'facebook', { ...facebookUser, link: true }));
    assert.equal(linked.user.id, owner.user.id);
    const again = await signInWith('facebook', facebookUser);
    assert.equal(again.user.id, owner.user.id);

    kit().clock.advanceSeconds(120);
    try {
      await expectAuthError(browser.client.auth.oauth.link.mutate({ provider: 'github' }), 'RECENT_AUTH_REQUIRED');
      const { url } = await browser.client.auth.oauth.link.mutate({ provider: 'github', password: PASSWORD });
      assert.ok(url.startsWith(apis.base));
    } finally {
      kit().clock.advanceSeconds(-120);
    }
  });

  it('an identity another account holds cannot be linked', async () => {
    const held = newUser(uniqueEmail('held'), true);
    await signInWith('gitlab', held);
    const other = await registerConfirmed(kit(), app);
    const browser = browserAt(app.url);
    browser.signIn(other.tokens.accessToken);
    await expectAuthError(browser.client.auth.oauth.callback.mutate(await consent(browser, 'gitlab', { ...held, link: true })), 'OAUTH_IDENTITY_IN_USE');
  });

  it("a thief's link flow, started with a stolen fresh token, dies with the owner's remedy or a disable", async () => {
    const remedies = {
      'sign out everywhere': (owner: { tokens: { accessToken: string } }) => kit().client(owner.tokens.accessToken).auth.logout.mutate({ scope: 'all' }),
      'a new password': (owner: { tokens: { accessToken: string } }) =>
        kit().client(owner.tokens.accessToken).auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: `${PASSWORD}-new` }),
      'a disable, then an enable': async (owner: { user: { id: string } }) => {
        await app.auth.admin.users.disable(owner.user.id);
        await app.auth.admin.users.enable(owner.user.id);
      },
    };
    for (const [remedy, apply] of Object.entries(remedies)) {
      const owner = await registerConfirmed(kit(), app);
      const thief = browserAt(app.url);
      thief.signIn(owner.tokens.accessToken);
      const callback = await consent(thief, 'github', { ...newUser(uniqueEmail('thief'), true), link: true });
      await apply(owner);
      await expectAuthError(thief.client.auth.oauth.callback.mutate(callback), 'OAUTH_FAILED');
      assert.deepEqual((await app.auth.admin.users.get(owner.user.id))?.identities, [], remedy);
    }
  });

  it('a link reaches the owner by mail, and an administrator sees it', async () => {
    const owner = await registerConfirmed(kit(), app);
    const browser = browserAt(app.url);
    browser.signIn(owner.tokens.accessToken);
    await browser.client.auth.oauth.callback.mutate(await consent(browser, 'bitbucket', { ...newUser(null, false), link: true }));
    const notice = await kit().smtp.waitForMail(owner.email, (mail) => mail.subject === 'A sign-in method was added to your account');
    assert.match(notice.text, /bitbucket/);
    assert.deepEqual(
      (await app.auth.admin.users.get(owner.user.id))?.identities.map((identity) => identity.provider),
      ['bitbucket'],
    );
  });

  it('the audit trail tells of an account an identity made, of each identity linked and unlinked, and of the sign-in', async () => {
    const signedIn = await signInWith('github', newUser(uniqueEmail('audited'), true));
    const browser = browserAt(app.url);
    browser.signIn(signedIn.tokens.accessToken);
    await browser.client.auth.oauth.callback.mutate(await consent(browser, 'bitbucket', { ...newUser(null, false), link: true }));
    await browser.client.auth.oauth.unlink.mutate({ provider: 'github' });
    await app.auth.settled();
    const told = heard
      .filter((event) => event.userId === signedIn.user.id)
      .map((event) => [event.type, 'provider' in event ? event.provider : 'method' in event ? event.method : null]);
    assert.deepEqual(told, [
      ['signed-up', null],
      ['oauth-linked', 'github'],
      ['signed-in', 'oauth'],
      ['oauth-linked', 'bitbucket'],
      ['signed-in', 'oauth'],
      ['oauth-unlinked', 'github'],
    ]);
  });

  it('unlinking never removes the last way to sign in', async () => {
    const signedIn = await signInWith('github', newUser(uniqueEmail('unlink'), true));
    const browser = browserAt(app.url);
    browser.signIn(signedIn.tokens.accessToken);
    await expectAuthError(browser.client.auth.oauth.unlink.mutate({ provider: 'github' }), 'LAST_SIGN_IN_METHOD');
    await browser.client.auth.oauth.callback.mutate(await consent(browser, 'bitbucket', { ...newUser(null, false), link: true }));
    assert.deepEqual(await browser.client.auth.oauth.unlink.mutate({ provider: 'github' }), { ok: true });
    const left = await browser.client.auth.oauth.identities.query();
    assert.deepEqual(
      left.map((identity) => identity.provider),
      ['bitbucket'],
    );
    await expectAuthError(browser.client.auth.oauth.unlink.mutate({ provider: 'bitbucket' }), 'LAST_SIGN_IN_METHOD');
    // With a password of its own, the account may drop its last identity.
    await browser.client.auth.changePassword.mutate({ newPassword: PASSWORD });
    assert.deepEqual(await browser.client.auth.oauth.unlink.mutate({ provider: 'bitbucket' }), { ok: true });
  });

  it(`the flow's return URL comes back from the callback; ${APP_URL} is the default`, async () => {
    const browser = browserAt(app.url);
    const { url } = await browser.client.auth.oauth.start.mutate({ provider: 'gitlab', redirectTo: '/settings?tab=security' });
    const query = apis.authorize('gitlab', url, newUser(uniqueEmail('return'), true));
    const signedIn = await browser.client.auth.oauth.callback.mutate({ provider: 'gitlab', code: query.get('code') ?? '', state: query.get('state') ?? '' });
    assert.equal(signedIn.redirectTo, `${APP_URL}/settings?tab=security`);
  });
});
