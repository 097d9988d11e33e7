import { getAuthErrorCode } from '../../client/index.js';
import type { AuthErrorCode } from '../../client/index.js';

/** What the page tells a person for each code: what happened, and what to do. */
const MESSAGES: Record<AuthErrorCode, string> = {
  INVALID_INPUT: 'Something in the form is not right: check each field.',
  INVALID_REQUEST: 'The request was malformed. Reload the page and try again.',
  INVALID_CREDENTIALS: 'That email or username and password do not match.',
  EMAIL_NOT_CONFIRMED: 'Confirm your email address first: open the link we mailed you.',
  EMAIL_TAKEN: 'An account already uses this email address. Log in, or reset its password.',
  USERNAME_TAKEN: 'That username, or one that looks like it, is taken. Choose another.',
  WEAK_PASSWORD: 'That password is too easy to guess. Use 12 characters or more, best a few unrelated words.',
  SIGNUP_DISABLED: 'Sign-up is closed on this server.',
  TOKEN_MISSING: 'You are signed out. Log in again.',
  TOKEN_INVALID: 'Your session is not valid here. Log in again.',
  TOKEN_EXPIRED: 'Your session expired. Log in again.',
  TOKEN_REVOKED: 'This session was ended. Log in again.',
  USER_NOT_FOUND: 'There is no such account.',
  OAUTH_FAILED: 'Signing in with that provider did not work. Try again, or sign in another way.',
  OAUTH_PROVIDER_UNKNOWN: 'This app does not offer that provider.',
  REDIRECT_NOT_ALLOWED: 'That page is not one this app may send you back to.',
  OAUTH_EMAIL_IN_USE: 'An account already uses the address that provider gave. Log in to it, then link the provider.',
  OAUTH_EMAIL_UNVERIFIED: 'That provider has not verified your address. Verify it there, or sign in another way.',
  OAUTH_IDENTITY_IN_USE: 'That provider account already signs in to another account here.',
  LAST_SIGN_IN_METHOD: 'This is your only way to sign in: set a password or link another provider first.',
  REFRESH_TOKEN_REUSED: 'This session was ended because its token was used twice, which happens when someone else has a copy. Log in again.',
  INSUFFICIENT_SCOPE: 'This token may not do that.',
  API_TOKEN_LIMIT_REACHED: 'You hold as many API tokens as allowed: revoke one first.',
  ROLE_REQUIRED: 'Only an administrator may do that.',
  LINK_INVALID: 'This link was already used, or a newer one replaced it. Ask for a new one.',
  LINK_EXPIRED: 'This link has expired. Ask for a new one.',
  RATE_LIMITED: 'Too many attempts. Wait a few minutes and try again.',
  RECENT_AUTH_REQUIRED: 'For this, sign in again (or give your password): your sign-in is not recent enough.',
  MAGIC_LINK_DISABLED: 'Sign-in links are turned off on this server.',
  ANONYMOUS_SIGN_IN_DISABLED: 'Trying the app without an account is turned off on this server.',
  ANONYMOUS_NOT_ALLOWED: 'Add an email address to your account first.',
  ORIGIN_NOT_ALLOWED: 'This page may not use the sign-in cookie: open it at the address the server printed.',
  UNSUPPORTED_MEDIA_TYPE: 'The request was refused (wrong content type).',
  COOKIE_MODE_DISABLED: 'The server does not keep sessions in cookies: open the page with ?tokens=local.',
  SERVICE_UNAVAILABLE: 'The server cannot reach its database just now. Try again in a few seconds.',
};

/** The message a failed call shows: in words for an auth code, else the error's own text. */
export function messageFor(error: unknown): string {
  const code = getAuthErrorCode(error);
  if (code) return MESSAGES[code];
  return error instanceof Error && error.message ? error.message : 'Something went wrong. Try again.';
}
