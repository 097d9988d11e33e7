import { AsyncLocalStorage } from 'node:async_hooks';

/*
 * A request's deadline on the database. Each statement and each wait for a connection is bounded
 * on its own by the pool, yet a request runs several one after the other (a sign-in reads the
 * counters, the account, then writes the session), so with a slow server the bounds add up. The
 * request marks when it began; the pool (bounded-pool.ts) holds the budget and lends a connection
 * only for what is left of it.
 *
 * The mark travels with the request's async context, so nothing needs to pass it along. Work the
 * request leaves behind once it has answered (a mail sent after the answer, an audit write) runs in
 * that context too, but it is no longer the request's: the mark is closed when the request ends.
 *
 * What a request spends on something other than the database (a password hash, and its wait for a
 * hashing turn, which a flood of sign-ins can make long) is off the clock: a request that waited
 * its turn and spent a hash is not then refused its write for the time that took.
 */

interface DatabaseRequest {
  /** `performance.now()` when the request began, moved later by the time it spent off the clock. */
  startedAt: number;
  open: boolean;
}

const currentRequest = new AsyncLocalStorage<DatabaseRequest>();

/**
 * Runs `work` as one request on the database: every connection it borrows from a pool made by
 * `connectDatabase` is bounded by the pool's `requestDeadlineMs`, counted from now. Inside a request
 * already open it adds nothing: the outer request's deadline stands.
 */
export function runAsDatabaseRequest<T>(work: () => Promise<T>): Promise<T> {
  if (currentRequest.getStore()?.open) return work();
  const request: DatabaseRequest = { startedAt: performance.now(), open: true };
  return currentRequest.run(request, () =>
    work().finally(() => {
      request.open = false;
    }),
  );
}

/** When the current request began (`performance.now()`), or null outside one. */
export function databaseRequestStartedAt(): number | null {
  const request = currentRequest.getStore();
  return request?.open ? request.startedAt : null;
}

/**
 * Runs `work` off the current request's database clock: its deadline moves later by the time
 * `work` takes. For work that does not touch the database.
 */
export async function offDatabaseClock<T>(work: () => Promise<T>): Promise<T> {
  const request = currentRequest.getStore();
  if (!request?.open) return work();
  const started = performance.now();
  try {
    return await work();
  } finally {
    request.startedAt += performance.now() - started;
  }
}
