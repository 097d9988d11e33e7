import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthRequest } from '../context.js';

/*
 * The request an auth procedure is serving, for the audit trail: the verbs that emit events (ending
 * sessions, making API tokens) are called from many procedures and take no request of their own,
 * yet each event names the client's address and user agent. Every auth procedure runs inside this
 * scope (trpc.ts); work outside one (a server-side call of `auth.admin`) names no client.
 */
const scope = new AsyncLocalStorage<AuthRequest>();

/** Runs `serve` with `request` as the request the audit trail reads. */
export function withinRequest<T>(request: AuthRequest, serve: () => T): T {
  return scope.run(request, serve);
}

/** The request being served, or undefined outside any. */
export function currentRequest(): AuthRequest | undefined {
  return scope.getStore();
}
