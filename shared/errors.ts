import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';

/**
 * Every failure the auth kit reports, with the tRPC code (and so the HTTP status) it travels as.
 * A client reads the code from `error.data.authCode`, or from `error.message` where the host's own
 * error formatter runs (see `getAuthErrorCode` in `trpc-auth-kit/client`).
 */
export const AUTH_ERROR_CODES = {
  INVALID_INPUT: 'BAD_REQUEST',
  /** Two `Authorization` headers, or another request that names no single credential (RFC 6750 `invalid_request`). */
  INVALID_REQUEST: 'BAD_REQUEST',
  INVALID_CREDENTIALS: 'UNAUTHORIZED',
  EMAIL_NOT_CONFIRMED: 'FORBIDDEN',
  EMAIL_TAKEN: 'CONFLICT',
  USERNAME_TAKEN: 'CONFLICT',
  WEAK_PASSWORD: 'BAD_REQUEST',
  SIGNUP_DISABLED: 'FORBIDDEN',
  TOKEN_MISSING: 'UNAUTHORIZED',
  TOKEN_INVALID: 'UNAUTHORIZED',
  TOKEN_EXPIRED: 'UNAUTHORIZED',
  TOKEN_REVOKED: 'UNAUTHORIZED',
  REFRESH_TOKEN_REUSED: 'UNAUTHORIZED',
  INSUFFICIENT_SCOPE: 'FORBIDDEN',
  /** The user already holds `apiTokens.maxPerUser` live API tokens: revoke one to make another. */
  API_TOKEN_LIMIT_REACHED: 'FORBIDDEN',
  ROLE_REQUIRED: 'FORBIDDEN',
  /** An administrator named a user id that has no account. */
  USER_NOT_FOUND: 'NOT_FOUND',
  LINK_INVALID: 'BAD_REQUEST',
  LINK_EXPIRED: 'BAD_REQUEST',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  /**
   * A sensitive operation (an API token, ending other sessions) from a session that did not sign in
   * recently: sign in again, or send the password with the call.
   */
  RECENT_AUTH_REQUIRED: 'FORBIDDEN',
  /** `magicLink.request` on a server with magic links off (`settings.magicLink` says so). */
  MAGIC_LINK_DISABLED: 'FORBIDDEN',
  /** A request carrying the refresh cookie came from an origin not in `cookies.allowedOrigins`. */
  ORIGIN_NOT_ALLOWED: 'FORBIDDEN',
  /** A request carrying the refresh cookie was not `application/json` (a form post, say). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** The client asked for cookie mode, which the server has not enabled. */
  COOKIE_MODE_DISABLED: 'BAD_REQUEST',
  /**
   * An OAuth sign-in did not complete: the flow is unknown, expired, spent or was started in another
   * browser, or the provider refused, failed or did not answer in time. Deliberately one code.
   */
  OAUTH_FAILED: 'UNAUTHORIZED',
  /** `oauth.start`, `oauth.link` or `oauth.callback` named a provider the server does not have. */
  OAUTH_PROVIDER_UNKNOWN: 'BAD_REQUEST',
  /** A `redirectTo` outside `oauth.redirectAllowlist` (by default, outside `mail.appUrl`). */
  REDIRECT_NOT_ALLOWED: 'BAD_REQUEST',
  /**
   * The provider's address belongs to an account this identity may not join by itself (the provider
   * does not vouch for it, the account's address is unconfirmed, or linking is off): sign in to that
   * account and link the provider (`oauth.link`).
   */
  OAUTH_EMAIL_IN_USE: 'CONFLICT',
  /** A new identity whose provider vouches for no address cannot make an account (link it instead). */
  OAUTH_EMAIL_UNVERIFIED: 'FORBIDDEN',
  /** `oauth.link`: the identity already belongs to another account. */
  OAUTH_IDENTITY_IN_USE: 'CONFLICT',
  /** `oauth.unlink` of the account's last way to sign in: set a password or link another provider first. */
  LAST_SIGN_IN_METHOD: 'FORBIDDEN',
  /** `signInAnonymously` on a server with anonymous users off (`settings.anonymousSignIn` says so). */
  ANONYMOUS_SIGN_IN_DISABLED: 'FORBIDDEN',
  /**
   * An anonymous account asked for what only an upgraded one may have (an API token, a username):
   * add an address (`changePassword`, then `changeEmail`) or link an OAuth identity first.
   */
  ANONYMOUS_NOT_ALLOWED: 'FORBIDDEN',
  /** The database did not answer in time or is down; try again after `Retry-After` seconds (HTTP 503). */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<string, TRPC_ERROR_CODE_KEY>;

export type AuthErrorCode = keyof typeof AUTH_ERROR_CODES;

/** Narrows any value to an `AuthErrorCode`. */
export function isAuthErrorCode(value: unknown): value is AuthErrorCode {
  return typeof value === 'string' && Object.hasOwn(AUTH_ERROR_CODES, value);
}

/**
 * The failures that mean a session is over: the refresh token is dead and only signing in again
 * helps. An access token's `TOKEN_EXPIRED` is the exception the client meets every few minutes: it
 * refreshes first, and only a refresh that fails with one of these ends the session.
 */
export const SESSION_ENDING_CODES: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>(['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'REFRESH_TOKEN_REUSED']);
