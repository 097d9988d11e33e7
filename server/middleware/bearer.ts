import { experimental_standaloneMiddleware } from '@trpc/server';
import type { AccessAuthorization } from '../tokens/access-tokens.js';
import type { AuthBaseContext, AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import { answeringUnavailable } from './database-unavailable.js';
import type { AuthError } from '../errors.js';
import type { TokenCheck, TokenCheckResult } from '../tokens/token-check.js';

/** The signed-in user, as `ctx.user` holds it in a protected procedure. */
export interface AuthUser {
  id: string;
}

/** The session behind the call, as `ctx.session` holds it in a protected procedure. */
export interface AuthSession {
  id: string;
  /** When the access token of this call expires. */
  accessTokenExpiresAt: Date;
  /**
   * Null for a session's token, which may do whatever its user may; the scopes of an API token, whose
   * id is then `id` (see `requireScopes`).
   */
  scopes: readonly string[] | null;
}

export interface Authenticated {
  user: AuthUser;
  session: AuthSession;
}

const BEARER = /^Bearer +(\S+) *$/i;

/** The token of an `Authorization: Bearer …` header; null for none or another scheme. */
export function bearerTokenOf(authorization: string | null): string | null {
  return authorization === null ? null : (BEARER.exec(authorization)?.[1] ?? null);
}

function toAuthenticated(authorization: AccessAuthorization): Authenticated {
  return {
    user: { id: authorization.userId },
    session: { id: authorization.sessionId, accessTokenExpiresAt: authorization.expiresAt, scopes: authorization.scopes },
  };
}

/**
 * Why a request brought no bearer token: none at all, or two `Authorization` headers (joined by a
 * comma, as both adapters present them), which are ambiguous and never read as the first.
 */
export function missingTokenCode(authorization: string | null): 'TOKEN_MISSING' | 'INVALID_REQUEST' {
  return authorization?.includes(',') ? 'INVALID_REQUEST' : 'TOKEN_MISSING';
}

/** The `WWW-Authenticate` challenge of a bearer check's refusal (RFC 6750 §3) in `realm`. */
export function bearerChallenge(realm: string, code: 'TOKEN_MISSING' | 'INVALID_REQUEST' | 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED'): string {
  // No error attribute when no credentials came (RFC 6750 §3.1).
  const error = code === 'TOKEN_MISSING' ? '' : code === 'INVALID_REQUEST' ? ', error="invalid_request"' : ', error="invalid_token"';
  return `Bearer realm="${realm.replace(/["\\]/g, '')}"${error}`;
}

/**
 * Builds the check every protected procedure runs. A hit in the token cache returns without
 * awaiting anything; a failure sets the RFC 6750 challenge (with the `realm`) on the response and
 * throws the reason (HTTP 401 with `data.authCode`). Two `Authorization` headers (joined by a comma,
 * as both adapters present them) are ambiguous, never read as the first: HTTP 400
 * `INVALID_REQUEST`. A client that has sent too many unknown tokens is refused its next lookups:
 * HTTP 429, `RATE_LIMITED`, with `Retry-After`.
 */
export function createBearerCheck(checkToken: TokenCheck, options: { realm: string }) {

  function refuse(request: AuthRequest, refusal: Exclude<TokenCheckResult, { ok: true }> | { code: 'TOKEN_MISSING' | 'INVALID_REQUEST' }): AuthError {
    if (refusal.code === 'RATE_LIMITED') {
      request.setHeader('Retry-After', String(refusal.retryAfterSeconds));
      return authError('RATE_LIMITED');
    }
    request.setHeader('WWW-Authenticate', bearerChallenge(options.realm, refusal.code));
    return authError(refusal.code);
  }

  return function authenticate(request: AuthRequest): Authenticated | Promise<Authenticated> {
    const { authorization } = request;
    const token = bearerTokenOf(authorization);
    if (token === null) throw refuse(request, { code: missingTokenCode(authorization) });
    const check = checkToken(token, request.ip);
    if (!(check instanceof Promise)) {
      if (check.ok) return toAuthenticated(check.authorization);
      throw refuse(request, check);
    }
    return check.then((settled) => {
      if (settled.ok) return toAuthenticated(settled.authorization);
      throw refuse(request, settled);
    });
  };
}

export type BearerCheck = ReturnType<typeof createBearerCheck>;

/** Every middleware that runs the bearer check first: the refusal gate finds protected procedures by them. */
const protectMiddlewares = new WeakSet<object>();

/** Whether `middleware` (one of a procedure's) runs the bearer check of `protectedProcedure` before anything else. */
export function isProtectMiddleware(middleware: object): boolean {
  return protectMiddlewares.has(middleware);
}

/** Records the functions of a middleware built by `experimental_standaloneMiddleware` as bearer checks. */
export function markAsProtect<T extends { _middlewares: readonly object[] }>(built: T): T {
  for (const middleware of built._middlewares) protectMiddlewares.add(middleware);
  return built;
}

/**
 * The middleware behind `protectedProcedure`, usable on any tRPC instance whose context carries
 * `authRequest`: it adds `ctx.user` and `ctx.session`.
 */
export function createProtectMiddleware(authenticate: BearerCheck) {
  return markAsProtect(
    experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(function isAuthed({ ctx, next }) {
      // A hit goes on at once: no promise of this middleware's own and no turn of the microtask
      // queue before the procedure runs; only a miss waits for its lookup.
      const caller = authenticate(ctx.authRequest);
      return caller instanceof Promise ? caller.then((settled) => next({ ctx: settled })) : next({ ctx: caller });
    }),
  );
}

/**
 * `databaseUnavailableMiddleware` and the bearer check as one middleware: what `protectedProcedure`
 * runs, a step of tRPC's middleware chain fewer than the two one after the other, with the same
 * answers (a lookup the database cannot serve is a 503).
 */
export function createGuardedProtectMiddleware(authenticate: BearerCheck) {
  return markAsProtect(
    experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(function isAuthedAnsweringUnavailable({ ctx, next }) {
      const request = ctx.authRequest;
      return answeringUnavailable(request, () => {
        const caller = authenticate(request);
        return caller instanceof Promise ? caller.then((settled) => next({ ctx: settled })) : next({ ctx: caller });
      });
    }),
  );
}
