/**
 * React bindings for the client SDK, on TanStack Query: `AuthProvider`, `useAuth`, `useSession`.
 * @module
 */
export { AuthProvider, useAuthClient } from './auth-provider.js';
export { useAuth, useSession } from './use-auth.js';
