import pg from 'pg';
import { DatabaseDeadlineError, DatabaseLeaseExpiredError, DatabaseQueueFullError, DatabaseSilenceError } from './bounded-pool.js';

/*
 * Which failures mean "the database cannot answer now", as opposed to "this request went wrong":
 * the first kind is worth a retry in a few seconds (503), the second is a bug (500).
 */

/** Errors of the socket under a connection: the server is down, unreachable, or hung up. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * What pg (8.x) says, with no code, when a connection could not be made or borrowed in time, or was
 * lost. The stall tests (test/database-stall.test.ts) produce each of these through a real proxy, so
 * a driver that rewords one fails them rather than turning outages into 500s unnoticed.
 */
const DRIVER_MESSAGES = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  'timeout expired',
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/**
 * SQLSTATEs of a server that cannot serve now: class 08 (connection exception), class 57 (operator
 * intervention: statement_timeout's 57014, shutdowns, "cannot connect now" while starting), too many
 * connections, and the session ended by idle_in_transaction_session_timeout.
 */
function isUnavailableState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('57') || code === '53300' || code === '25P03';
}

function isUnavailableHere(error: Error): boolean {
  if (error instanceof DatabaseSilenceError || error instanceof DatabaseLeaseExpiredError || error instanceof DatabaseDeadlineError || error instanceof DatabaseQueueFullError) return true;
  const { code } = error as { code?: unknown };
  if (error instanceof pg.DatabaseError) return typeof code === 'string' && isUnavailableState(code);
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return DRIVER_MESSAGES.has(error.message);
}

/**
 * Whether `error`, or an error it was caused by (drizzle and tRPC wrap what the driver threw),
 * says the database is unavailable rather than that the request failed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // A few levels cover tRPC over drizzle over pg; a cycle of causes ends here too.
  for (let depth = 0; depth < 8 && error instanceof Error; depth++) {
    if (isUnavailableHere(error)) return true;
    error = error.cause;
  }
  return false;
}
