import { createHmac, hash } from 'node:crypto';
import type { AuthRequest } from '../context.js';
import type { RandomSource } from '../deps.js';
import { readCookie } from '../sessions/cookie-header.js';

/*
 * What binds an OAuth flow to the browser that started it. `oauth.start` leaves the browser an
 * `HttpOnly` `__Host-auth-oauth` cookie (256 random bits, kept while flows are under way); the
 * callback must carry it. The database keeps SHA-256 digests of the cookie and of the `state`, and
 * nothing else secret: the PKCE verifier and the OpenID Connect nonce are HMACs, under the cookie, of
 * the state. So neither a copy of the database nor a state seen in a URL (a referrer, a log, a
 * browser's history) is enough to finish a flow, and a flow started in one browser cannot be finished
 * in another (login CSRF).
 *
 * `SameSite=Lax`: the callback page is reached by a navigation from the provider's site, and the
 * cookie binds, it opens nothing.
 */

const FLOW_COOKIE = '__Host-auth-oauth';
const FLOW_COOKIE_FORMAT = /^ob_[A-Za-z0-9_-]{43}$/;
/** As long as a flow lives; each start renews it. */
const FLOW_COOKIE_SECONDS = 600;

/** The browser's side of its flows. */
export interface FlowBrowser {
  cookie: string;
  /** What the database keeps of the cookie. */
  hash: string;
}

/** The request's flow cookie; null without one (or with a malformed one). */
export function flowBrowserOf(request: AuthRequest): FlowBrowser | null {
  const cookie = readCookie(request.cookie, FLOW_COOKIE);
  return cookie !== null && FLOW_COOKIE_FORMAT.test(cookie) ? { cookie, hash: hash('sha256', cookie, 'base64url') } : null;
}

/** The request's flow cookie, or a new one; either way set again on the response, for ten more minutes. */
export function bindFlowBrowser(request: AuthRequest, random: RandomSource): FlowBrowser {
  const browser = flowBrowserOf(request) ?? newBrowser(random);
  request.appendHeader('Set-Cookie', `${FLOW_COOKIE}=${browser.cookie}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${FLOW_COOKIE_SECONDS}`);
  return browser;
}

function newBrowser(random: RandomSource): FlowBrowser {
  const cookie = `ob_${Buffer.from(random(32)).toString('base64url')}`;
  return { cookie, hash: hash('sha256', cookie, 'base64url') };
}

/** A fresh `state`: 256 random bits. */
export function newState(random: RandomSource): string {
  return Buffer.from(random(32)).toString('base64url');
}

export const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function hashState(state: string): string {
  return hash('sha256', state, 'base64url');
}

function derive(browser: FlowBrowser, purpose: string, state: string): string {
  return createHmac('sha256', browser.cookie).update(`trpc-auth-kit oauth ${purpose}\n${state}`).digest('base64url');
}

/** The flow's PKCE `code_verifier`: 43 characters, 256 bits (RFC 7636 §4.1). */
export function codeVerifierFor(browser: FlowBrowser, state: string): string {
  return derive(browser, 'pkce', state);
}

/** The flow's OpenID Connect `nonce`. */
export function nonceFor(browser: FlowBrowser, state: string): string {
  return derive(browser, 'nonce', state);
}
