import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eq } from 'drizzle-orm';
import { sessionTable } from '../db/schema.js';
import { COOKIE_TRANSPORT_HEADER } from '../shared/cookie-transport.js';
import { registerConfirmed } from './harness/flows.js';
import type { TestApp } from './harness/test-kit.js';
import { APP_URL, PASSWORD, describeOnEachDatabase } from './harness/test-kit.js';

const REFRESH_COOKIE = /^__Host-auth-refresh=(rt_[A-Za-z0-9_-]+); Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=(\d+)$/;

interface RawAnswer {
  status: number;
  refreshSetCookie: string | null;
  text: string;
  authCode: string | undefined;
  tokens: { accessToken: string; refreshToken: string | null } | undefined;
}

/** The response's `Set-Cookie` line for the refresh cookie (a sign-in also sets the device cookie). */
function refreshSetCookieOf(response: Response): string | null {
  return response.headers.getSetCookie().find((line) => line.startsWith('__Host-auth-refresh=')) ?? null;
}

/** A POST as a browser page would send it: JSON from `origin`, with whatever cookie it holds. */
async function post(app: TestApp, path: string, request: { input: unknown; origin?: string; cookie?: string; contentType?: string | null; cookieMode?: boolean }): Promise<RawAnswer> {
  const headers: Record<string, string> = { origin: request.origin ?? APP_URL };
  if (request.contentType !== null) headers['content-type'] = request.contentType ?? 'application/json';
  if (request.cookie) headers.cookie = request.cookie;
  if (request.cookieMode ?? true) headers[COOKIE_TRANSPORT_HEADER] = 'cookie';
  const response = await fetch(`${app.url}/${path}`, { method: 'POST', headers, body: JSON.stringify({ json: request.input }) });
  const text = await response.text();
  const body = JSON.parse(text) as { result?: { data: { json: { tokens?: RawAnswer['tokens'] } } }; error?: { json: { data: { authCode?: string } } } };
  return { status: response.status, refreshSetCookie: refreshSetCookieOf(response), text, authCode: body.error?.json.data.authCode, tokens: body.result?.data.json.tokens };
}

function cookieOf(answer: RawAnswer): string {
  const match = REFRESH_COOKIE.exec(answer.refreshSetCookie ?? '');
  assert.ok(match, `expected the refresh cookie, got ${answer.refreshSetCookie}`);
  return `__Host-auth-refresh=${match[1]}`;
}

describeOnEachDatabase('cookie mode', (kit) => {
  const cookieApp = () => kit().variant({ cookies: { allowedOrigins: [APP_URL] } });

  async function signedInWithCookie() {
    const app = await cookieApp();
    const { email } = await registerConfirmed(kit(), app);
    const login = await post(app, 'auth.login', { input: { identifier: email, password: PASSWORD } });
    assert.equal(login.status, 200);
    return { app, login, cookie: cookieOf(login) };
  }

  it('sign-in puts the refresh token in an HttpOnly __Host- cookie and never in the body', async () => {
    const { login, cookie } = await signedInWithCookie();
    assert.equal(login.tokens?.refreshToken, null);
    assert.match(login.tokens?.accessToken ?? '', /^at_/);
    assert.ok(!login.text.includes(cookie.split('=')[1] as string));
    assert.ok(Number(REFRESH_COOKIE.exec(login.refreshSetCookie ?? '')?.[2]) > 0);
  });

  it('refresh takes the cookie, rotates it, and answers the successor in the cookie only', async () => {
    const { app, cookie } = await signedInWithCookie();
    const refreshed = await post(app, 'auth.refresh', { input: {}, cookie });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.tokens?.refreshToken, null);
    const successor = cookieOf(refreshed);
    assert.notEqual(successor, cookie);
    assert.equal((await post(app, 'auth.refresh', { input: {}, cookie: successor })).status, 200);
  });

  it('a request carrying the cookie from another origin, or not as JSON, is refused and changes nothing', async () => {
    const { app, cookie } = await signedInWithCookie();
    // tRPC refuses media types it has no handler for, and a form's body fails the strict input; the
    // kit refuses what is left (no type at all) and any foreign origin.
    const forged = [
      { origin: 'https://evil.example', status: 403 },
      { contentType: 'text/plain', status: 415 },
      { contentType: 'application/x-www-form-urlencoded', status: 415 },
      { contentType: 'multipart/form-data; boundary=x', status: 400 },
      { contentType: null, status: 415 },
    ];
    for (const { status, ...request } of forged) {
      // Without the cookie-mode header too: the cookie alone is what a forged request carries.
      const answer = await post(app, 'auth.refresh', { input: {}, cookie, cookieMode: false, ...request });
      assert.deepEqual([answer.status, answer.refreshSetCookie], [status, null], JSON.stringify(request));
    }
    // The cookie was not spent: the page itself can still refresh with it.
    assert.equal((await post(app, 'auth.refresh', { input: {}, cookie })).status, 200);
  });

  it('a reused cookie ends the session and deletes the cookie; logout deletes it too', async () => {
    const { app, cookie } = await signedInWithCookie();
    const reuse = await (async () => {
      await post(app, 'auth.refresh', { input: {}, cookie });
      kit().clock.advanceSeconds(60);
      return post(app, 'auth.refresh', { input: {}, cookie });
    })();
    assert.equal(reuse.authCode, 'REFRESH_TOKEN_REUSED');
    assert.match(reuse.refreshSetCookie ?? '', /^__Host-auth-refresh=; .*Max-Age=0$/);

    const again = await signedInWithCookie();
    const logout = await fetch(`${again.app.url}/auth.logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: APP_URL, cookie: again.cookie, authorization: `Bearer ${again.login.tokens?.accessToken}`, [COOKIE_TRANSPORT_HEADER]: 'cookie' },
      body: JSON.stringify({ json: {} }),
    });
    assert.equal(logout.status, 200);
    assert.match(refreshSetCookieOf(logout) ?? '', /^__Host-auth-refresh=; .*Max-Age=0$/);
  });

  it('a client asking for cookie mode on a server without it gets COOKIE_MODE_DISABLED before anything happens', async () => {
    const { email, user } = await registerConfirmed(kit());
    const answer = await post(kit(), 'auth.login', { input: { identifier: email, password: PASSWORD } });
    assert.deepEqual([answer.status, answer.authCode, answer.refreshSetCookie], [400, 'COOKIE_MODE_DISABLED', null]);
    // Only the session of the confirmation link: the refused sign-in started none.
    const sessions = await kit().database.db.select().from(sessionTable).where(eq(sessionTable.userId, user.id));
    assert.equal(sessions.length, 1);
  });

  it('outside cookie mode nothing changes: the refresh token comes in the body and no refresh cookie is set', async () => {
    const app = await cookieApp();
    const { email } = await registerConfirmed(kit(), app);
    const answer = await post(app, 'auth.login', { input: { identifier: email, password: PASSWORD }, cookieMode: false });
    assert.equal(answer.refreshSetCookie, null);
    assert.match(answer.tokens?.refreshToken ?? '', /^rt_/);
  });
});
