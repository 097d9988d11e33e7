/**
 * The client side of the kit. Safe to bundle for the browser.
 * @module
 */
export { getAuthErrorCode, isAuthError } from './errors.js';
export type { AuthErrorCode } from '../shared/errors.js';
export type { AuthTokens, PublicUser } from '../shared/types.js';
