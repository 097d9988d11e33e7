import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import type { Logger } from '../deps.js';

/*
 * Long is not enough: `password1234` and `qwertyuiop12` are twelve characters and among the first
 * an attacker tries. Every path that sets a password (sign-up, change, reset, an accepted
 * invitation) asks zxcvbn, with its dictionary of common passwords and keyboard patterns and the
 * account's own address and username as words it knows, for an estimate of the guesses needed, and
 * refuses a score under `minStrength`. An application may add its own check of known breached
 * passwords (a k-anonymity range lookup, say) as `isBreached`.
 *
 * zxcvbn's work grows with the length it reads, and it runs on the request thread: it reads the
 * first 100 characters, where every pattern worth finding is.
 */

/** The most characters the estimate reads. */
const ESTIMATED_LENGTH = 100;

export interface PasswordStrength {
  /** True when the password may be set; `knownWords` are what an attacker would try first (the address, the username). */
  isStrongEnough(password: string, knownWords: readonly string[]): Promise<boolean>;
}

export function createPasswordStrength(policy: { minStrength: number; isBreached: ((password: string) => Promise<boolean>) | undefined }, logger: Logger): PasswordStrength {
  const estimator = new ZxcvbnFactory({ graphs: adjacencyGraphs, dictionary });
  return {
    async isStrongEnough(password, knownWords) {
      const words = knownWords.flatMap((word) => [word, ...word.split(/[@._+-]/)]).filter((word) => word.length >= 3);
      if (estimator.check(password.slice(0, ESTIMATED_LENGTH), words).score < policy.minStrength) return false;
      if (!policy.isBreached) return true;
      try {
        return !(await policy.isBreached(password));
      } catch (error) {
        // An outage of the breach service must not stop every sign-up: the other checks stand.
        logger.warn('the breached-password check failed; the password was judged without it', { error: String(error) });
        return true;
      }
    },
  };
}
