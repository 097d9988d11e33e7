/**
 * The client side of the kit: `createAuthClient` for the common case, and its parts (the auth link,
 * the session, token stores, the tab coordinator) for an application that builds its own tRPC
 * client. Safe to bundle for the browser; the Node-only file store is in `trpc-auth-kit/client/node`.
 * @module
 */
export { createAuthClient } from './create-auth-client.js';
export type { AuthClient, AuthClientState, CreateAuthClientOptions } from './create-auth-client.js';
export { SKIP_AUTH, authHeaders, authLink } from './auth-link.js';
export { createAuthSession } from './auth-session.js';
export type { AuthChange, AuthSession, AuthSessionOptions, AuthSessionState, AuthStatus, SignOutReason } from './auth-session.js';
export { parseStoredTokens, serializeTokens } from './token-store.js';
export type { TokenStore } from './token-store.js';
export { memoryStore } from './stores/memory.js';
export { localStorageStore } from './stores/local-storage.js';
export { browserTabCoordinator, soloCoordinator } from './tab-coordinator.js';
export type { TabCoordinator } from './tab-coordinator.js';
export { AuthClientClosedError, getAuthErrorCode, isAuthClientClosed, isAuthError } from './errors.js';
export type { AuthErrorCode } from '../shared/errors.js';
export type { AuthTokens, PublicUser } from '../shared/types.js';
