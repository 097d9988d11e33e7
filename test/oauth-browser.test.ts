import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readConfig } from '../reference-server/config.js';
import { startReferenceServer } from '../reference-server/server.js';
import { launchChromium, withoutChromium } from './harness/chromium.js';
import { openTestDatabase } from './harness/database.js';
import type { TestDatabase } from './harness/database.js';
import { freePort } from './harness/free-port.js';
import { OIDC_CLIENTS, startOidcIssuer } from './harness/oidc-issuer.js';
import type { OidcIssuer } from './harness/oidc-issuer.js';
import { API_CLIENT, startProviderApis } from './harness/provider-apis.js';
import type { ProviderApis } from './harness/provider-apis.js';
import { uniqueEmail } from './harness/test-kit.js';

/*
 * "Sign in with …" on the demo page of `npm start`, in Debian's Chromium (issue #13): the reference
 * server reads AUTH_OAUTH naming a real OpenID Connect issuer (oidc-provider, with a login form) and a
 * GitHub-shaped API on loopback; the browser clicks the provider's button, goes through the provider,
 * lands on /oauth/callback and ends signed in on the page, and a later sign-in finds the same account.
 * A callback URL carried to another browser signs nobody in there. Screenshots go to test-results/.
 */

const SCREENSHOTS = 'test-results/oauth-browser';
const FAILED = 'Signing in with that provider did not work. Try again, or sign in another way.';

describe('OAuth sign-in on the demo page in Chromium', { skip: withoutChromium }, () => {
  let database: TestDatabase;
  let dataDir: string;
  let issuer: OidcIssuer;
  let apis: ProviderApis;
  let server: Awaited<ReturnType<typeof startReferenceServer>>;
  let browser: Browser;
  let origin: string;
  const serverLog: string[] = [];

  before(async () => {
    database = await openTestDatabase('postgres');
    dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-oauth-browser-'));
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    issuer = await startOidcIssuer({ redirectUri: `${origin}/oauth/callback` });
    apis = await startProviderApis();
    const providers = { corp: { issuer: issuer.issuer, ...OIDC_CLIENTS.basic }, github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') } };
    const config = readConfig({ PORT: String(port), APP_URL: origin, DATABASE_URL: database.url ?? '', AUTH_DATA_DIR: dataDir, AUTH_OAUTH: JSON.stringify(providers) });
    server = await startReferenceServer(config, (line) => serverLog.push(line));
    browser = await launchChromium();
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await apis?.close();
    await issuer?.close();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function openDemo(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.getByTestId('status').getByText('signed-out').waitFor();
    return page;
  }

  /** The account id the page is signed in to, as `demo.whoami` answers it. */
  async function whoami(page: Page): Promise<string> {
    await page.getByRole('button', { name: 'Call demo.whoami' }).click();
    return (JSON.parse(await page.getByTestId('whoami').innerText()) as { userId: string }).userId;
  }

  /** Clicks the provider's button, logs `account` in at the issuer's form, and waits to be signed in. */
  async function signInAtIssuer(page: Page, user: { account: string; email: string }, shot?: string): Promise<void> {
    const { account, email } = user;
    await page.getByRole('region', { name: 'providers' }).getByRole('button', { name: 'Sign in with corp' }).click();
    const form = page.getByRole('form', { name: 'issuer login' });
    await form.waitFor();
    if (shot) await page.screenshot({ path: `${SCREENSHOTS}/${shot}`, fullPage: true });
    await form.getByLabel('Account').fill(account);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
  }

  it('a new user signs in with the OpenID Connect issuer, and signs in again to the same account', async () => {
    const context = await browser.newContext();
    const page = await openDemo(context);
    await page.screenshot({ path: `${SCREENSHOTS}/1-providers.png`, fullPage: true });
    const email = uniqueEmail('oidc-browser');
    issuer.setAccount('browser-user-1', { email, email_verified: true, name: 'Browser User' });

    await signInAtIssuer(page, { account: 'browser-user-1', email }, '2-issuer-login.png');
    await page.screenshot({ path: `${SCREENSHOTS}/3-signed-in.png`, fullPage: true });
    // The page left the callback: the code and state are out of the address bar and its history entry.
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(new URL(page.url()).search, '');
    assert.equal(await page.getByRole('status').filter({ hasText: 'Signing in' }).count(), 0, 'the callback’s notice went');
    const first = await whoami(page);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByTestId('status').getByText('signed-out').waitFor();
    // Still signed in at the issuer, the browser goes there and comes straight back.
    await page.getByRole('region', { name: 'providers' }).getByRole('button', { name: 'Sign in with corp' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    assert.equal(await whoami(page), first);
    await context.close();

    // A browser that never saw the issuer logs in there again, and reaches the same account.
    const other = await browser.newContext();
    const fresh = await openDemo(other);
    await signInAtIssuer(fresh, { account: 'browser-user-1', email });
    assert.equal(await whoami(fresh), first);
    await other.close();
  });

  it('a user signs in with the GitHub-shaped provider, and again in another browser to the same account', async () => {
    const email = uniqueEmail('github-browser');
    apis.signIn('github', { id: '77001', email, verified: true });
    const ids: string[] = [];
    for (const round of [1, 2]) {
      const context = await browser.newContext();
      const page = await openDemo(context);
      await page.getByRole('region', { name: 'providers' }).getByRole('button', { name: 'Sign in with GitHub' }).click();
      await page.getByText(`Signed in as ${email}`).waitFor();
      if (round === 1) await page.screenshot({ path: `${SCREENSHOTS}/4-github-signed-in.png`, fullPage: true });
      ids.push(await whoami(page));
      await context.close();
    }
    assert.equal(ids[1], ids[0]);
    apis.signIn('github', null);
  });

  it('a user who declines at the issuer is back on the page, told in words, with nothing of the answer run or sent on', async () => {
    const context = await browser.newContext();
    const page = await openDemo(context);
    const callbacks: string[] = [];
    const landings: string[] = [];
    context.on('request', (request) => {
      if (request.url().includes('auth.oauth.callback')) callbacks.push(request.url());
      if (request.url().includes('/oauth/callback?')) landings.push(request.url());
    });
    await page.getByRole('region', { name: 'providers' }).getByRole('button', { name: 'Sign in with corp' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('alert').getByText(FAILED).waitFor();
    assert.equal(landings.length, 1);
    assert.equal(new URL(landings[0] as string).searchParams.get('error'), 'access_denied');
    assert.equal(new URL(page.url()).search, '', 'the answer left the address bar');
    assert.equal(await page.evaluate(() => (window as unknown as { issuerScriptRan?: number }).issuerScriptRan), undefined);
    assert.deepEqual(callbacks, [], 'a refusal is not sent to the server');
    assert.equal(await page.getByTestId('status').innerText(), 'signed-out');
    // The buttons are there to try again.
    await page.getByRole('button', { name: 'Sign in with corp' }).waitFor();
    await context.close();
  });

  it('a callback URL opened in another browser signs nobody in there, before and after its own browser used it', async () => {
    const email = uniqueEmail('oidc-foreign');
    issuer.setAccount('browser-user-2', { email, email_verified: true });
    const own = await browser.newContext();
    const page = await openDemo(own);
    // The issuer's redirect back to the app is held: its URL is what an attacker would carry to a
    // victim. (A route sees the first request of a redirect chain only, so the chain is followed here.)
    const held = new Promise<string>((resolve, reject) => {
      void page.route(/\/interaction\/[^/]+\/login/, async (route) => {
        try {
          const resume = (await route.fetch({ maxRedirects: 0 })).headers().location ?? '';
          const back = (await own.request.get(new URL(resume, issuer.issuer).href, { maxRedirects: 0 })).headers().location ?? '';
          resolve(back);
          await route.fulfill({ status: 200, contentType: 'text/plain', body: 'held' });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    await page.getByRole('region', { name: 'providers' }).getByRole('button', { name: 'Sign in with corp' }).click();
    const login = page.getByRole('form', { name: 'issuer login' });
    await login.getByLabel('Account').fill('browser-user-2');
    await login.getByRole('button', { name: 'Sign in' }).click();
    const callbackUrl = await held;
    assert.ok(callbackUrl.startsWith(`${origin}/oauth/callback?code=`), callbackUrl);

    const foreign = await browser.newContext();
    // The foreign browser even knows which provider the flow was for: the server is asked, and refuses.
    await foreign.addInitScript(() => sessionStorage.setItem('trpc-auth-kit:oauth-provider', 'corp'));
    const answers: number[] = [];
    foreign.on('response', (response) => {
      if (response.url().includes('auth.oauth.callback')) answers.push(response.status());
    });
    const victim = await foreign.newPage();
    await victim.goto(callbackUrl);
    await victim.getByRole('alert').getByText(FAILED).waitFor();
    await victim.screenshot({ path: `${SCREENSHOTS}/5-foreign-callback.png`, fullPage: true });
    assert.equal(new URL(victim.url()).search, '', 'the code and state left the address bar');
    assert.deepEqual(answers, [401]);
    assert.equal(await victim.getByTestId('status').innerText(), 'signed-out');
    assert.deepEqual((await foreign.cookies()).filter(({ name }) => name === '__Host-auth-refresh'), []);

    // The browser that started the flow still finishes it: the foreign attempt spent nothing.
    await page.goto(callbackUrl);
    await page.getByText(`Signed in as ${email}`).waitFor();

    // Replayed there once used, it is refused again, and still signs nobody in.
    await victim.goto(callbackUrl);
    await victim.getByRole('alert').getByText(FAILED).waitFor();
    assert.deepEqual(answers, [401, 401]);
    assert.equal(await victim.getByTestId('status').innerText(), 'signed-out');
    assert.deepEqual((await foreign.cookies()).filter(({ name }) => name === '__Host-auth-refresh'), []);
    await foreign.close();
    await own.close();
  });
});
