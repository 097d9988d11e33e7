import { randomBytes } from 'node:crypto';

/**
 * A source of time. The kit's own is the database's (`databaseClock`); one passed as `clock` is
 * trusted as it is, so that tests move time instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The kit's source of randomness: returns `byteLength` cryptographically random bytes. */
export type RandomSource = (byteLength: number) => Uint8Array;

/** Where the kit reports what an operator should see; never given a secret. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What checking a password against a stored hash found. */
export interface PasswordCheck {
  valid: boolean;
  /** The hash was made with weaker parameters than today's: store a new one. */
  needsRehash: boolean;
}

/**
 * How passwords are hashed and checked. The kit's own is argon2id (passwords.ts); another is for
 * tests that are not about hashing, where a fast one lets them drive a race step by step.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Checks a password against a stored hash. With no stored hash (no such account, or an account
   * without a password) it still spends one full verification, so the answer's timing says nothing
   * about whether the account exists.
   */
  verify(storedHash: string | null, password: string): Promise<PasswordCheck>;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemRandom: RandomSource = (byteLength) => randomBytes(byteLength);

function writeLine(level: string, message: string, fields?: Record<string, unknown>): void {
  // One JSON object per line: a value holding a newline cannot forge a second entry.
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
}

export const consoleLogger: Logger = {
  info: (message, fields) => writeLine('info', message, fields),
  warn: (message, fields) => writeLine('warn', message, fields),
  error: (message, fields) => writeLine('error', message, fields),
};
