import argon2 from 'argon2';
import { authError } from './errors.js';
import type { ResolvedAuthOptions } from './options.js';

/*
 * Passwords are hashed with argon2id at (or above) the OWASP parameters. Hashing is the one
 * deliberately slow thing the kit does, so it runs behind a bulkhead: a few at a time, a bounded
 * queue behind them, and `RATE_LIMITED` at once beyond that, so that a flood of sign-ins cannot
 * starve token checks or exhaust memory (each hash holds `memoryCost` KiB while it runs).
 */

export interface PasswordCheck {
  valid: boolean;
  /** The hash was made with weaker parameters than today's: store a new one. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Checks a password against a stored hash. With no stored hash (no such account, or an account
   * without a password) it still spends one full verification, so the answer's timing says nothing
   * about whether the account exists.
   */
  verify(storedHash: string | null, password: string): Promise<PasswordCheck>;
}

/** True when the password is long enough; length counts code points, so an emoji is one. */
export function isLongEnough(password: string, minLength: number): boolean {
  let codePoints = 0;
  for (const _ of password) if (++codePoints >= minLength) return true;
  return false;
}

export function createPasswordHasher(policy: ResolvedAuthOptions['password']): PasswordHasher {
  const parameters = { type: argon2.argon2id, memoryCost: policy.memoryCost, timeCost: policy.timeCost, parallelism: 1 } as const;
  let running = 0;
  const waiting: Array<() => void> = [];
  let dummyHash: Promise<string> | undefined;

  async function withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running >= policy.maxConcurrentHashes) {
      if (waiting.length >= policy.maxQueuedHashes) throw authError('RATE_LIMITED');
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, or is given back.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  }

  return {
    hash: (password) => withSlot(() => argon2.hash(password, parameters)),

    async verify(storedHash, password) {
      if (storedHash === null) {
        dummyHash ??= argon2.hash('no account has this password', parameters);
        const hash = await dummyHash;
        await withSlot(() => argon2.verify(hash, password));
        return { valid: false, needsRehash: false };
      }
      const valid = await withSlot(() => argon2.verify(storedHash, password));
      return { valid, needsRehash: valid && argon2.needsRehash(storedHash, parameters) };
    },
  };
}
