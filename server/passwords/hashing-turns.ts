import { offDatabaseClock } from '../../db/request-deadline.js';
import type { AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import type { HashingBulkhead } from './hashing-bulkhead.js';
import type { PasswordCheck, PasswordHasher } from '../deps.js';
import type { HashingCount, Throttles } from '../limits/throttles.js';
import { clientOf } from '../limits/throttles.js';

/*
 * Every call that hashes (a sign-in, a sign-up, a password change or reset, an invitation accepted,
 * an email change, a Basic secret stored as argon2id) takes a hashing turn first, before it counts
 * anything against an account:
 *   1. a place in the bulkhead for its client. A client that already holds its share, or a full
 *      bulkhead, is refused here at once: that refusal comes from the server's load, so nothing is
 *      counted, neither against the account nor against the client;
 *   2. one hit on the client's hash allowance (`rateLimits.hashesPerIp`), given back when the call
 *      proves a secret the server already held; a sign-in counts its attempt against the client in
 *      the same statement, after the hash (a client refused its hash spends nothing more).
 * The place is held until the turn ends, so the later hashing can no longer be refused.
 */

/** Seconds a client refused for the server's load is asked to wait. */
const BUSY_RETRY_AFTER_SECONDS = 1;

export interface HashingTurn {
  hash(password: string): Promise<string>;
  verify(storedHash: string | null, password: string): Promise<PasswordCheck>;
  /** Gives the place back; every turn taken must end, and ending twice does nothing. */
  end(): void;
}

/** Why no turn was given: the server is busy (nothing was counted), or the client is over its allowance. */
export interface HashingRefusal {
  refused: 'busy' | 'over allowance';
  retryAfterSeconds: number;
}

export interface HashingTurns {
  /** A turn for the request's client, or why there is none. */
  take(request: AuthRequest): Promise<HashingTurn | HashingRefusal>;
  /**
   * Runs `work` in a turn for the request's client and ends the turn however `work` ends; without
   * a turn, answers `RATE_LIMITED` with `Retry-After`.
   */
  during<T>(request: AuthRequest, work: (turn: HashingTurn) => Promise<T>): Promise<T>;
  /** `during` for a password tried on an account: the turn counts the client's sign-in attempt with its hash, in one statement. */
  duringSignIn<T>(request: AuthRequest, work: (turn: HashingTurn) => Promise<T>): Promise<T>;
  /** The call proved a secret the server held (a right password, a link it spent): its count is given back. */
  succeeded(request: AuthRequest): Promise<void>;
}

export function isRefusal(taken: HashingTurn | HashingRefusal): taken is HashingRefusal {
  return 'refused' in taken;
}

export function createHashingTurns(deps: { hasher: PasswordHasher; bulkhead: HashingBulkhead; throttles: Throttles }): HashingTurns {
  const { hasher, bulkhead, throttles } = deps;

  async function take(request: AuthRequest, counts: HashingCount): Promise<HashingTurn | HashingRefusal> {
    const place = bulkhead.enter(request.ip === null ? null : clientOf(request.ip));
    if (!place) return { refused: 'busy', retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
    try {
      const verdict = await throttles.countHashing(request, counts);
      if (!verdict.allowed) {
        place.leave();
        return { refused: 'over allowance', retryAfterSeconds: verdict.retryAfterSeconds };
      }
    } catch (error) {
      place.leave();
      throw error;
    }
    return {
      // Waiting for the hashing threads is not time on the database (db/request-deadline.ts).
      hash: (password) => offDatabaseClock(() => place.run(() => hasher.hash(password))),
      verify: (storedHash, password) => offDatabaseClock(() => place.run(() => hasher.verify(storedHash, password))),
      end: () => place.leave(),
    };
  }

  async function during<T>(request: AuthRequest, work: (turn: HashingTurn) => Promise<T>, counts: HashingCount): Promise<T> {
    const taken = await take(request, counts);
    if (isRefusal(taken)) {
      request.setHeader('Retry-After', String(taken.retryAfterSeconds));
      throw authError('RATE_LIMITED');
    }
    try {
      return await work(taken);
    } finally {
      taken.end();
    }
  }

  return {
    take: (request) => take(request, 'hash'),
    succeeded: (request) => throttles.hashingSucceeded(request),
    during: (request, work) => during(request, work, 'hash'),
    duringSignIn: (request, work) => during(request, work, 'sign-in'),
  };
}
