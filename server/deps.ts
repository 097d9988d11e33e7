import { randomBytes } from 'node:crypto';

/** The kit's source of time. Injected so tests move time instead of waiting for it. */
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
