import { experimental_standaloneMiddleware } from '@trpc/server';
import type { AuthSession } from '../middleware/bearer.js';
import type { AuthBaseContext, AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import type { AuthError } from '../errors.js';

/*
 * What an API token may do. A session's token (scopes null) may do whatever its user may. An API
 * token may call a procedure only when it carries every scope the procedure declares; one that
 * declares none is open to any API token of the user. Account-changing procedures (password,
 * tokens, sessions) refuse API tokens whatever their scopes: a leaked script token must never be
 * enough to take the account over.
 *
 * A refusal is HTTP 403 with `INSUFFICIENT_SCOPE` and the RFC 6750 challenge naming what was needed.
 */

type ScopedContext = AuthBaseContext & { session: AuthSession };

/** Sets the 403 challenge naming the scopes that were needed, and returns the error to throw. */
export function insufficientScope(request: AuthRequest, needed: readonly string[]): AuthError {
  const scope = needed.length > 0 ? `, scope="${needed.join(' ')}"` : '';
  request.setHeader('WWW-Authenticate', `Bearer error="insufficient_scope"${scope}`);
  return authError('INSUFFICIENT_SCOPE');
}

/**
 * A middleware, for use after `protectedProcedure`'s check, that lets an API token through only when
 * it carries every one of `scopes`; a session's token always passes.
 *
 * @example
 * const exportTodos = auth.protectedProcedure.use(auth.requireScopes('todos:read')).query(…);
 */
export function requireScopes(...scopes: string[]) {
  return experimental_standaloneMiddleware<{ ctx: ScopedContext }>().create(function hasScopes({ ctx, next }) {
    const granted = ctx.session.scopes;
    if (granted !== null && !scopes.every((scope) => granted.includes(scope))) throw insufficientScope(ctx.authRequest, scopes);
    return next();
  });
}

/** A middleware that refuses API tokens outright: for what changes the account or its credentials. */
export const refuseApiTokens = experimental_standaloneMiddleware<{ ctx: ScopedContext }>().create(function sessionTokenOnly({ ctx, next }) {
  if (ctx.session.scopes !== null) throw insufficientScope(ctx.authRequest, []);
  return next();
});
