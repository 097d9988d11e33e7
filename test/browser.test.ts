import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readConfig } from '../reference-server/config.js';
import { startReferenceServer } from '../reference-server/server.js';
import { createRunningClock } from './harness/clock.js';
import { openTestDatabase } from './harness/database.js';
import type { TestDatabase } from './harness/database.js';
import { PASSWORD, uniqueEmail } from './harness/test-kit.js';
import { launchChromium, withoutChromium } from './harness/chromium.js';
import { until } from './harness/poll.js';
import { freePort } from './harness/free-port.js';

/*
 * The demo page of `npm start` in Debian's Chromium: the flow a new user tries first, tabs that share
 * a sign-in, and cookie mode keeping every token out of page-readable storage. Screenshots land in
 * test-results/ (not committed) for a person to look at.
 */

const SCREENSHOTS = 'test-results/browser';

/**
 * Every token-looking string a page script could read: storage, IndexedDB, and cookies. Sent as
 * source text: the test runner's TypeScript transform would add helpers the page does not have.
 */
const READ_PAGE_SECRETS = `(async () => {
  const found = [];
  const look = (text) => { for (const match of (text || '').matchAll(/\\b(at|rt|pat)_[A-Za-z0-9_-]{20,}/g)) found.push(match[0]); };
  for (const storage of [localStorage, sessionStorage]) {
    for (let index = 0; index < storage.length; index++) look(storage.getItem(storage.key(index)));
  }
  look(document.cookie);
  for (const { name } of await indexedDB.databases()) found.push('indexedDB:' + name);
  return found;
})()`;

function tokensReadableByScripts(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(READ_PAGE_SECRETS);
}

describe('the demo page in Chromium', { skip: withoutChromium }, () => {
  let database: TestDatabase;
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startReferenceServer>>;
  let browser: Browser;
  let origin: string;
  const serverLog: string[] = [];
  // The server's time: the access tokens last 2 s of it, and a test moves it past them.
  const clock = createRunningClock();

  before(async () => {
    database = await openTestDatabase('postgres');
    dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-browser-'));
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const config = readConfig({ PORT: String(port), APP_URL: origin, DATABASE_URL: database.url ?? '', AUTH_DATA_DIR: dataDir, AUTH_ACCESS_TTL: '2' });
    server = await startReferenceServer(config, (line) => serverLog.push(line), { clock });
    browser = await launchChromium();
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await database?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function mailedLink(email: string, path = 'confirm-email'): Promise<string> {
    return until(() => {
      const line = serverLog.find((each) => each.includes(`mail to ${email}`) && each.includes(`/${path}?token=`));
      return line === undefined ? undefined : /https?:\/\/\S+token=lk_\S+/.exec(line)?.[0];
    }, `a mail to ${email} in the server's log`);
  }

  async function registerThroughPage(page: Page, email: string): Promise<void> {
    const form = page.getByRole('form', { name: 'register' });
    await form.getByPlaceholder('email').fill(email);
    await form.getByPlaceholder(/password/).fill(PASSWORD);
    await form.getByRole('button', { name: 'Register' }).click();
    await page.getByText(`We sent a confirmation link to ${email}`).waitFor();
  }

  /** The confirmation landing page, given the password chosen at sign-up so that it is kept. */
  async function confirmThroughPage(page: Page): Promise<void> {
    const form = page.getByRole('form', { name: 'confirm' });
    await form.getByPlaceholder('the password you chose at sign-up').fill(PASSWORD);
    await form.getByRole('button', { name: 'Confirm' }).click();
  }

  async function confirmedAccount(context: BrowserContext, query = ''): Promise<{ page: Page; email: string }> {
    const page = await context.newPage();
    await page.goto(`${origin}/${query}`);
    const email = uniqueEmail('browser');
    await registerThroughPage(page, email);
    const link = new URL(await mailedLink(email));
    await page.goto(`${origin}${link.pathname}${link.search}${query ? `&${query.slice(1)}` : ''}`);
    await confirmThroughPage(page);
    await page.getByTestId('status').getByText('signed-in').waitFor();
    return { page, email };
  }

  async function logIn(page: Page, email: string): Promise<void> {
    const form = page.getByRole('form', { name: 'login' });
    await form.getByPlaceholder('email or username').fill(email);
    await form.getByPlaceholder('password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('status').getByText('signed-in').waitFor();
  }

  it('register, confirm through the mailed link, call whoami, see the session, log out — with no token readable by scripts', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.getByTestId('status').getByText('signed-out').waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/1-signed-out.png`, fullPage: true });

    const email = uniqueEmail('demo');
    await registerThroughPage(page, email);
    const link = await mailedLink(email);
    assert.ok(link.startsWith(`${origin}/confirm-email?token=`));
    // Opening the link (as a mail scanner would) spends nothing: the page asks first.
    await page.goto(link);
    await page.screenshot({ path: `${SCREENSHOTS}/2-confirm-landing.png`, fullPage: true });
    await confirmThroughPage(page);
    await page.getByText(`Signed in as ${email}`).waitFor();

    await page.getByRole('button', { name: 'Call demo.whoami' }).click();
    const whoami = JSON.parse(await page.getByTestId('whoami').innerText()) as { userId: string };
    assert.match(whoami.userId, /^[0-9a-f-]{36}$/);
    await page.getByRole('cell', { name: 'this one' }).waitFor();

    // The two-second access token is refreshed silently, more than once, before anything fails.
    await page.getByTestId('refreshes').getByText('2').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${SCREENSHOTS}/3-signed-in.png`, fullPage: true });
    assert.deepEqual(await tokensReadableByScripts(page), []);
    const cookies = await context.cookies();
    assert.deepEqual(
      cookies.map(({ name, httpOnly, secure, sameSite, path }) => ({ name, httpOnly, secure, sameSite, path })).sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: '__Host-auth-device', httpOnly: true, secure: true, sameSite: 'Strict', path: '/' },
        { name: '__Host-auth-refresh', httpOnly: true, secure: true, sameSite: 'Strict', path: '/' },
      ],
    );

    // A reload keeps the sign-in: the cookie alone brings it back.
    await page.reload();
    await page.getByText(`Signed in as ${email}`).waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByTestId('status').getByText('signed-out').waitFor();
    // The device cookie stays: the browser remains one the account knows (server/sessions/devices.ts).
    assert.deepEqual((await context.cookies()).map(({ name }) => name), ['__Host-auth-device']);
    assert.deepEqual(await tokensReadableByScripts(page), []);
    await context.close();
  });

  it('two tabs with an expired token and 20 parallel queries each refresh once, and stay signed in', async () => {
    const context = await browser.newContext();
    // The pages' clocks stand still an hour back: they believe the token fresh and send it, so the
    // server's TOKEN_EXPIRED is what starts the refresh, in both tabs at once.
    await context.clock.setFixedTime(Date.now() - 3_600_000);
    const { page: first, email } = await confirmedAccount(context, '?tokens=local');
    const second = await context.newPage();
    await second.goto(`${origin}/?tokens=local`);
    await second.getByText(`Signed in as ${email}`).waitFor();

    const refreshes: string[] = [];
    context.on('request', (request) => {
      if (request.url().includes('auth.refresh')) refreshes.push(request.url());
    });
    clock.advanceSeconds(3);
    const burst = (page: Page) =>
      page.evaluate(async () => {
        const { auth } = (window as unknown as { trpcAuthDemo: { auth: { trpc: { demo: { whoami: { query(): Promise<{ userId: string }> } } } } } }).trpcAuthDemo;
        const answers = await Promise.all(Array.from({ length: 20 }, () => auth.trpc.demo.whoami.query()));
        return new Set(answers.map((answer) => answer.userId)).size;
      });
    assert.deepEqual(await Promise.all([burst(first), burst(second)]), [1, 1]);
    assert.equal(refreshes.length, 1);
    for (const page of [first, second]) assert.equal(await page.getByTestId('status').innerText(), 'signed-in');
    // The probe the cookie-mode test relies on does find tokens where they are readable.
    assert.ok((await tokensReadableByScripts(first)).some((token) => token.startsWith('rt_')));
    await context.close();
  });

  it('logging out in one tab signs out the other', async () => {
    const context = await browser.newContext();
    const { page: first, email } = await confirmedAccount(context);
    const second = await context.newPage();
    await second.goto(`${origin}/`);
    await second.getByText(`Signed in as ${email}`).waitFor();
    await first.getByRole('button', { name: 'Log out' }).click();
    await second.getByTestId('status').getByText('signed-out').waitFor();
    await second.screenshot({ path: `${SCREENSHOTS}/4-other-tab-signed-out.png`, fullPage: true });

    // And a sign-in in one tab reaches the other.
    await logIn(first, email);
    await second.getByText(`Signed in as ${email}`).waitFor();
    await context.close();
  });

  it('a magic link from the outbox signs in, after the page asks', async () => {
    const context = await browser.newContext();
    const { page, email } = await confirmedAccount(context);
    await page.getByRole('button', { name: 'Log out' }).click();
    const form = page.getByRole('form', { name: 'magic link request' });
    await form.getByPlaceholder('email').fill(email);
    await form.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await form.getByText('If an account has this address, a sign-in link is on its way.').waitFor();
    const link = await mailedLink(email, 'magic-link');
    await page.goto(link);
    await page.getByTestId('status').getByText('signed-out').waitFor();
    await page.getByRole('form', { name: 'magic link' }).getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await context.close();
  });

  it('reads as a product: no failed request signed out, the mail in the page, a used link that goes, devices in words, why a session ended', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(message.text());
    });
    await page.goto(`${origin}/`);
    await page.getByTestId('status').getByText('signed-out').waitFor();
    const outbox = page.getByRole('region', { name: 'outbox' });
    await outbox.waitFor();
    assert.deepEqual(failures, [], 'a signed-out visit asks nothing the server refuses (no 401 from a refresh without a cookie)');

    const email = uniqueEmail('product');
    await registerThroughPage(page, email);
    await outbox.getByRole('listitem').filter({ hasText: email }).getByRole('link', { name: 'Open the confirmation link' }).click();
    await confirmThroughPage(page);
    await page.getByText(`${email} is confirmed, and you are signed in.`).waitFor();
    assert.equal(await page.getByRole('form', { name: 'confirm' }).count(), 0, 'the used link’s card is gone');
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.getByRole('cell', { name: /^Chrome on Linux/ }).waitFor();
    await page.getByRole('cell', { name: 'just now' }).first().waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/4-product-signed-in.png`, fullPage: true });

    // The same account signs in elsewhere and signs this session out: the page says why it is signed out.
    const elsewhere = await browser.newContext();
    const other = await elsewhere.newPage();
    await other.goto(`${origin}/`);
    await logIn(other, email);
    await other.getByRole('button', { name: 'Sign out' }).click();
    await other.getByRole('button', { name: 'Sign out' }).waitFor({ state: 'detached' });
    await elsewhere.close();
    // Its next call (the page may have made one already, refetching its sessions) is refused, and it signs out.
    await page.evaluate(() =>
      (window as unknown as { trpcAuthDemo: { auth: { trpc: { demo: { whoami: { query(): Promise<unknown> } } } } } }).trpcAuthDemo.auth.trpc.demo.whoami.query().catch(() => null),
    );
    await page.getByTestId('status').getByText('signed-out').waitFor();
    await page.getByText('You were signed out: this session was ended').waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/5-product-session-ended.png`, fullPage: true });
    await context.close();
  });

  it('the outbox, which holds live links, answers only this machine by this server’s name (no DNS rebinding)', async () => {
    const { port } = new URL(origin);
    const status = (host: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/dev/outbox', headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).on('error', reject);
      });
    assert.equal(await status(`127.0.0.1:${port}`), 200);
    assert.equal(await status(`attacker.example:${port}`), 404);
  });

  it("the next user never sees the previous user's cached data", async () => {
    const context = await browser.newContext();
    const { page, email } = await confirmedAccount(context);
    await page.getByRole('button', { name: 'Log out' }).click();
    // The second account is made in another browser: in this one, its sign-in would reach every tab.
    const elsewhere = await browser.newContext();
    const other = await confirmedAccount(elsewhere);
    await elsewhere.close();

    await logIn(page, email);
    await page.getByRole('button', { name: 'Call demo.whoami' }).click();
    const first = await page.getByTestId('whoami').innerText();
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(page, other.email);
    await page.getByText(`Signed in as ${other.email}`).waitFor();
    // demo.whoami only runs on a click: had the query cache survived, the first user's answer would show.
    assert.equal(await page.getByTestId('whoami').count(), 0);
    await page.getByRole('button', { name: 'Call demo.whoami' }).click();
    assert.notEqual(await page.getByTestId('whoami').innerText(), first);
    await context.close();
  });
});
