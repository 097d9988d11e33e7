import { isAuthErrorCode } from '../shared/errors.js';
import type { AuthErrorCode } from '../shared/errors.js';

/**
 * The auth code of an error from a tRPC call, or null when it is not an auth failure. Reads
 * `data.authCode` (the kit's error formatter) and falls back to the message, which the kit sets to
 * the code, so it works under a host's own formatter too.
 *
 * @example
 * try { await client.auth.login.mutate(input) }
 * catch (error) { if (getAuthErrorCode(error) === 'EMAIL_NOT_CONFIRMED') showResendButton() }
 */
export function getAuthErrorCode(error: unknown): AuthErrorCode | null {
  if (typeof error !== 'object' || error === null) return null;
  const { data, message } = error as { data?: { authCode?: unknown } | null; message?: unknown };
  if (isAuthErrorCode(data?.authCode)) return data.authCode;
  return isAuthErrorCode(message) ? message : null;
}

/** True when `error` is the auth failure `code`. */
export function isAuthError(error: unknown, code: AuthErrorCode): boolean {
  return getAuthErrorCode(error) === code;
}

/**
 * What a closed client or session fails with: every call made after `close()`, and every call still
 * waiting when it came. A tRPC call fails with a `TRPCClientError` whose `cause` is this error.
 */
export class AuthClientClosedError extends Error {
  constructor() {
    super('The auth client is closed');
    this.name = 'AuthClientClosedError';
  }
}

/** True when `error` is, or (for a tRPC call) was caused by, `AuthClientClosedError`. */
export function isAuthClientClosed(error: unknown): boolean {
  return error instanceof AuthClientClosedError || (error instanceof Error && error.cause instanceof AuthClientClosedError);
}
