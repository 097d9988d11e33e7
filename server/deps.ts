import { randomBytes, randomFillSync } from 'node:crypto';

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

/** Bytes the system source draws from the operating system at a time. */
const RANDOM_POOL_BYTES = 4096;

/**
 * The system's randomness, drawn a pool at a time: each call into OpenSSL costs some 10 µs
 * whatever its size (more than the SHA-256 of a token), and a refresh wants four draws. Bytes are
 * handed out as copies and wiped from the pool, so it never holds randomness a token was made of.
 */
function pooledSystemRandom(): RandomSource {
  const pool = Buffer.alloc(RANDOM_POOL_BYTES);
  let next = RANDOM_POOL_BYTES;
  return (byteLength) => {
    if (byteLength > RANDOM_POOL_BYTES) return randomBytes(byteLength);
    if (next + byteLength > RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      next = 0;
    }
    const drawn = Buffer.from(pool.subarray(next, next + byteLength));
    pool.fill(0, next, next + byteLength);
    next += byteLength;
    return drawn;
  };
}

export const systemRandom: RandomSource = pooledSystemRandom();

function writeLine(level: string, message: string, fields?: Record<string, unknown>): void {
  // One JSON object per line: a value holding a newline cannot forge a second entry.
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
}

export const consoleLogger: Logger = {
  info: (message, fields) => writeLine('info', message, fields),
  warn: (message, fields) => writeLine('warn', message, fields),
  error: (message, fields) => writeLine('error', message, fields),
};
