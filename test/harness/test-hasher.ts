import { createHash, timingSafeEqual } from 'node:crypto';
import type { PasswordCheck, PasswordHasher } from '../../server/index.js';

/** A hash or a check the test hasher holds until the test lets it go. */
export interface HeldCall {
  kind: 'hash' | 'verify';
  password: string;
  /** Lets this call finish. */
  release(): void;
}

/** The fast hasher, with a hand on it: see `createTestHasher`. */
export interface TestHasher extends PasswordHasher {
  /** From now on every hash and check waits in `held` until released. */
  hold(): void;
  /** The calls waiting, oldest first. */
  readonly held: readonly HeldCall[];
  /** Stops holding, and lets every waiting call finish. */
  resume(): void;
}

const PREFIX = 'test-sha256$';

function digest(password: string): string {
  return PREFIX + createHash('sha256').update(password).digest('hex');
}

/**
 * A password hasher for tests that are not about hashing: one SHA-256 under a prefix no argon2 hash
 * has, so a test spends no time hashing and the same password always gives the same hash. Held
 * (`hold()`), it lets a test put a race's steps in the order it means to try, one call at a time.
 */
export function createTestHasher(): TestHasher {
  let holding = false;
  const held: HeldCall[] = [];

  async function turn(kind: HeldCall['kind'], password: string): Promise<void> {
    if (!holding) return;
    await new Promise<void>((resolve) => {
      const call: HeldCall = {
        kind,
        password,
        release() {
          const at = held.indexOf(call);
          if (at >= 0) held.splice(at, 1);
          resolve();
        },
      };
      held.push(call);
    });
  }

  return {
    async hash(password) {
      await turn('hash', password);
      return digest(password);
    },
    async verify(storedHash, password): Promise<PasswordCheck> {
      await turn('verify', password);
      const presented = Buffer.from(digest(password));
      const stored = Buffer.from(storedHash ?? '');
      const valid = stored.length === presented.length && timingSafeEqual(stored, presented);
      return { valid, needsRehash: false };
    },
    hold() {
      holding = true;
    },
    held,
    resume() {
      holding = false;
      for (const call of [...held]) call.release();
    },
  };
}
