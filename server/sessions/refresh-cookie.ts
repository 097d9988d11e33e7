import type { AuthTokens } from '../../shared/types.js';
import type { AuthRequest } from '../context.js';
import { readCookie } from './cookie-header.js';
import type { Clock } from '../deps.js';
import { authError } from '../errors.js';
import type { CookiePolicy } from './session-options.js';

/*
 * Cookie mode: the refresh token travels in a cookie page scripts cannot read, so an injected script
 * can at most use the session while the page is open, never carry it away. The `__Host-` prefix makes
 * the browser refuse the cookie unless it is `Secure`, has `Path=/` and no `Domain`, so no sibling
 * subdomain can set or shadow it.
 *
 * A cookie rides along on requests the page did not make: a request carrying it must be JSON (a form
 * or `text/plain` post from another site cannot be) and come from an allowed origin. tRPC's adapters
 * check neither.
 */

const REFRESH_COOKIE = '__Host-auth-refresh';

/** Browsers cap a cookie's life at 400 days; a refresh renews it. */
const LONGEST_COOKIE_SECONDS = 400 * 24 * 3600;

export interface RefreshCookie {
  /**
   * Refuses a client in cookie mode whose request fails the cross-site checks, or whose server has
   * cookie mode off. Runs before a procedure that signs in does any work.
   */
  admit(request: AuthRequest): void;
  /** The refresh token in the request's cookie, after the request passed the cross-site checks. */
  take(request: AuthRequest): string | null;
  /**
   * Hands tokens to the client: as they are, or, for a client in cookie mode (or a refresh token
   * that came in the cookie), with the refresh token moved into the cookie.
   */
  deliver(request: AuthRequest, tokens: AuthTokens, options?: { cameInCookie?: boolean }): AuthTokens;
  /** Deletes the cookie in the browser, if the client is in cookie mode. */
  clear(request: AuthRequest): void;
}

export function createRefreshCookie(deps: { cookies: CookiePolicy; clock: Clock }): RefreshCookie {
  const { cookies, clock } = deps;
  const sameSite = cookies?.sameSite === 'lax' ? 'Lax' : 'Strict';
  const attributes = `Path=/; HttpOnly; Secure; SameSite=${sameSite}`;

  function assertSameSite(request: AuthRequest): void {
    if (!cookies) throw authError('COOKIE_MODE_DISABLED');
    const mediaType = request.contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') throw authError('UNSUPPORTED_MEDIA_TYPE');
    if (!request.origin || !cookies.allowedOrigins.includes(request.origin)) throw authError('ORIGIN_NOT_ALLOWED');
  }

  return {
    admit(request) {
      if (request.wantsCookie) assertSameSite(request);
    },

    take(request) {
      const token = readCookie(request.cookie, REFRESH_COOKIE);
      if (token) assertSameSite(request);
      return token;
    },

    deliver(request, tokens, options = {}) {
      if (!request.wantsCookie && !options.cameInCookie) return tokens;
      const expiresAt = tokens.refreshTokenExpiresAt;
      const maxAge = expiresAt ? Math.max(0, Math.floor((expiresAt.getTime() - clock.now()) / 1000)) : LONGEST_COOKIE_SECONDS;
      // Appended: a sign-in sets the device cookie on the same response (devices.ts).
      request.appendHeader('Set-Cookie', `${REFRESH_COOKIE}=${tokens.refreshToken}; ${attributes}; Max-Age=${Math.min(maxAge, LONGEST_COOKIE_SECONDS)}`);
      return { ...tokens, refreshToken: null };
    },

    clear(request) {
      if (cookies && (request.wantsCookie || readCookie(request.cookie, REFRESH_COOKIE))) {
        request.appendHeader('Set-Cookie', `${REFRESH_COOKIE}=; ${attributes}; Max-Age=0`);
      }
    },
  };
}
