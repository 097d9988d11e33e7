import { experimental_standaloneMiddleware, initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { markAsProtect } from './middleware/bearer.js';
import type { BearerCheck } from './middleware/bearer.js';
import { deserializeClientInput } from './middleware/client-input.js';
import { answeringUnavailable, databaseUnavailableMiddleware } from './middleware/database-unavailable.js';
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

/** Every middleware that sets `Cache-Control: no-store`: the refusal gate answers as they would. */
const noStoreMiddlewares = new WeakSet<object>();

/** Whether `middleware` (one of a procedure's) sets `Cache-Control: no-store` on its answer. */
export function isNoStoreMiddleware(middleware: object): boolean {
  return noStoreMiddlewares.has(middleware);
}

function markAsNoStore<T extends { _middlewares: readonly object[] }>(built: T): T {
  for (const middleware of built._middlewares) noStoreMiddlewares.add(middleware);
  return built;
}

/** An auth procedure's answer may carry a secret, so no cache may keep it. */
export const noStoreMiddleware = markAsNoStore(
  authT.middleware(function noStore({ ctx, next }) {
    ctx.authRequest.setHeader('Cache-Control', 'no-store');
    // What the procedure's verbs report to the audit trail names this request's client.
    return withinRequest(ctx.authRequest, next);
  }),
);

/** Every auth procedure: no cache keeps its answer; a database outage answers 503. */
export const authProcedure = authT.procedure.use(databaseUnavailableMiddleware).use(noStoreMiddleware);

/**
 * What `authProcedure` runs and then the bearer check, as one middleware: a protected auth
 * procedure pays for one step of tRPC's chain where the three one after the other cost three, with
 * the same answers (a 503 for an outage, `no-store` on every answer, refusals included, and the
 * request in the audit trail's scope). A hit goes on to the procedure with no await.
 */
function createProtectedAuthMiddleware(authenticate: BearerCheck) {
  const built = experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(function protectedAuth({ ctx, next }) {
    const request = ctx.authRequest;
    return answeringUnavailable(request, () => {
      request.setHeader('Cache-Control', 'no-store');
      return withinRequest(request, () => {
        const caller = authenticate(request);
        return caller instanceof Promise ? caller.then((settled) => next({ ctx: settled })) : next({ ctx: caller });
      });
    });
  });
  return markAsNoStore(markAsProtect(built));
}

/** An auth procedure that needs a signed-in caller (`ctx.user`, `ctx.session`). */
export function protectedAuthProcedure(kernel: AuthKernel) {
  return authT.procedure.use(createProtectedAuthMiddleware(kernel.authenticate));
}

/** A signed-in caller whose token is a session's: API tokens are refused (see scopes.ts). */
export function sessionAuthProcedure(kernel: AuthKernel) {
  return protectedAuthProcedure(kernel).use(refuseApiTokens);
}
