import { experimental_standaloneMiddleware } from '@trpc/server';
import { runAsDatabaseRequest } from '../../db/request-deadline.js';
import { isDatabaseUnavailable } from '../../db/unavailable.js';
import type { AuthBaseContext } from '../context.js';
import { authError } from '../errors.js';

/**
 * How long a client is asked to wait before it tries again. The pool's timeouts answer a retry
 * within seconds whatever the database does, so a short wait costs the server little.
 */
const RETRY_AFTER_SECONDS = 5;

/**
 * The middleware every procedure of the kit starts with: a failure that says the database is down or
 * did not answer in time (db/unavailable.ts) answers 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
 * wherever it happened (the bearer check's database read, a procedure's query). Any other unexpected
 * failure stays a generic 500, and a typed auth error passes untouched. The procedure is one request
 * on the database (db/request-deadline.ts): all it does there fits in the pool's `requestDeadlineMs`.
 */
export const databaseUnavailableMiddleware = experimental_standaloneMiddleware<{ ctx: AuthBaseContext }>().create(async function answerUnavailable({ ctx, next }) {
  const result = await runAsDatabaseRequest(() => next());
  if (result.ok || result.error.code !== 'INTERNAL_SERVER_ERROR' || !isDatabaseUnavailable(result.error)) return result;
  ctx.authRequest.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  throw authError('SERVICE_UNAVAILABLE', result.error.cause);
});
