import { experimental_standaloneMiddleware, getTRPCErrorFromUnknown } from '@trpc/server';
import type { TRPCError } from '@trpc/server';
import { runAsDatabaseRequest } from '../../db/request-deadline.js';
import { isDatabaseUnavailable } from '../../db/unavailable.js';
import type { AuthBaseContext, AuthRequest } from '../context.js';
import { authError } from '../errors.js';

/**
 * How long a client is asked to wait before it tries again. The pool's timeouts answer a retry
 * within seconds whatever the database does, so a short wait costs the server little.
 */
const RETRY_AFTER_SECONDS = 5;

/** What a tRPC middleware's `next()` settles to, as far as this reads it. */
type NextResult = { ok: true } | { ok: false; error: TRPCError };

/** The 503 for `error` when it says the database is down or too slow; null for any other error. */
function unavailableAnswer(request: AuthRequest, error: TRPCError): TRPCError | null {
  if (error.code !== 'INTERNAL_SERVER_ERROR' || !isDatabaseUnavailable(error)) return null;
  request.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  return authError('SERVICE_UNAVAILABLE', error.cause);
}

/**
 * Runs `serve` (what follows in a middleware: `next()`, or a check and then `next()`) as one request
 * on the database, answering 503 `SERVICE_UNAVAILABLE` with `Retry-After` for a failure that says
 * the database is down or did not answer in time (db/unavailable.ts), whether `next()` settled to it
 * or `serve` threw it itself (the bearer check's read, when the check runs in the same middleware).
 * Any other failure passes untouched. No await of its own: a call that goes through costs one
 * promise here.
 */
export function answeringUnavailable<TResult extends NextResult>(request: AuthRequest, serve: () => Promise<TResult>): Promise<TResult> {
  return runAsDatabaseRequest(serve).then(
    (result) => {
      if (result.ok) return result;
      const unavailable = unavailableAnswer(request, result.error);
      if (unavailable) throw unavailable;
      return result;
    },
    (thrown: unknown) => {
      throw unavailableAnswer(request, getTRPCErrorFromUnknown(thrown)) ?? thrown;
    },
  );
}

/**
 * The middleware every procedure of the kit starts with: a failure that says the database is down or
 * did not answer in time (db/unavailable.ts) answers 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
 * wherever it happened (the bearer check's database read, a procedure's query). Any other unexpected
 * failure stays a generic 500, and a typed auth error passes untouched. The procedure is one request
 * on the database (db/request-deadline.ts): all it does there fits in the pool's `requestDeadlineMs`.
 * `protectedProcedure` runs the same guard and its bearer check as one middleware (bearer.ts).
 */
export const databaseUnavailableMiddleware = experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(function answerUnavailable({ ctx, next }) {
  return answeringUnavailable(ctx.authRequest, () => next());
});
