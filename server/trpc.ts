import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { createProtectMiddleware } from './middleware/bearer.js';
import { deserializeClientInput } from './middleware/client-input.js';
import { databaseUnavailableMiddleware } from './middleware/database-unavailable.js';
import { refuseApiTokens } from './tokens/scopes.js';
import { withinRequest } from './audit/request-scope.js';
import type { AuthBaseContext } from './context.js';
import { authErrorFormatter } from './errors.js';
import type { AuthKernel } from './kernel.js';

/**
 * superjson both ways, except that a client's input may not rebuild shared references or cycles
 * (see client-input.ts). An application that keeps its own `initTRPC.create()` passes this as its
 * `transformer` instead of `superjson`, so that its own procedures are protected as well.
 *
 * tRPC's `mergeRouters` accepts routers of different `initTRPC.create()` calls only when they share
 * the very same transformer object and error formatter. Every instance the kit creates (its own, for
 * the auth router, and one per `createAuth` for the application) passes these two, so they merge.
 */
export const authTransformer = {
  input: { serialize: (value: unknown) => superjson.serialize(value), deserialize: deserializeClientInput },
  output: superjson,
};

export function createAuthTRPC<TContext extends AuthBaseContext>() {
  // `isDev: false`: the formatter drops the stack whatever the mode, and in development tRPC would
  // still render it for every error (with source maps, the dearest part of answering a refusal).
  return initTRPC.context<TContext>().create({ transformer: authTransformer, errorFormatter: authErrorFormatter, isDev: false });
}

/** The instance the auth router's own procedures are built on. */
export const authT = createAuthTRPC<AuthBaseContext>();

/** An auth procedure's answer may carry a secret, so no cache may keep it. */
export const noStoreMiddleware = authT.middleware(function noStore({ ctx, next }) {
  ctx.authRequest.setHeader('Cache-Control', 'no-store');
  // What the procedure's verbs report to the audit trail names this request's client.
  return withinRequest(ctx.authRequest, next);
});

/** Every auth procedure: no cache keeps its answer; a database outage answers 503. */
export const authProcedure = authT.procedure.use(databaseUnavailableMiddleware).use(noStoreMiddleware);

/** An auth procedure that needs a signed-in caller (`ctx.user`, `ctx.session`). */
export function protectedAuthProcedure(kernel: AuthKernel) {
  return authProcedure.use(createProtectMiddleware(kernel.authenticate));
}

/** A signed-in caller whose token is a session's: API tokens are refused (see scopes.ts). */
export function sessionAuthProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel).use(refuseApiTokens);
}
