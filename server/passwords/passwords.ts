import argon2 from 'argon2';
import type { PasswordHasher } from '../deps.js';
import type { PasswordPolicy } from './password-options.js';

/*
 * Passwords are hashed with argon2id at (or above) the OWASP parameters. Hashing is the one
 * deliberately slow thing the kit does, so nothing calls this hasher but a hashing turn
 * (hashing-turns.ts), which runs it behind the bulkhead (hashing-bulkhead.ts): a login flood can
 * neither starve token checks nor exhaust memory (each hash holds `memoryCost` KiB while it runs).
 */

/** True when the password is long enough; length counts code points, so an emoji is one. */
export function isLongEnough(password: string, minLength: number): boolean {
  let codePoints = 0;
  for (const _ of password) if (++codePoints >= minLength) return true;
  return false;
}

/** The kit's own hasher: argon2id at the configured parameters. */
export function createPasswordHasher(policy: Pick<PasswordPolicy, 'memoryCost' | 'timeCost'>): PasswordHasher {
  const parameters = { type: argon2.argon2id, memoryCost: policy.memoryCost, timeCost: policy.timeCost, parallelism: 1 } as const;
  let dummyHash: Promise<string> | undefined;

  return {
    hash: (password) => argon2.hash(password, parameters),

    async verify(storedHash, password) {
      if (storedHash === null) {
        dummyHash ??= argon2.hash('no account has this password', parameters);
        await argon2.verify(await dummyHash, password);
        return { valid: false, needsRehash: false };
      }
      const valid = await argon2.verify(storedHash, password);
      return { valid, needsRehash: valid && argon2.needsRehash(storedHash, parameters) };
    },
  };
}
