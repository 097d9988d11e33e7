import type { AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { isLongEnough } from './passwords.js';

/**
 * Hashes a password about to be set (a sign-up, a change, a reset, an accepted invitation), in the
 * client's hashing turn, after refusing one that is too short or too easy to guess with
 * `WEAK_PASSWORD` (password-strength.ts). `knownWords` are what an attacker would try first: the
 * account's address and username.
 */
export async function hashNewPassword(
  kernel: AuthKernel,
  request: AuthRequest,
  newPassword: { password: string; knownWords: ReadonlyArray<string | null | undefined> },
): Promise<string> {
  const { password } = newPassword;
  if (!isLongEnough(password, kernel.options.password.minLength)) throw authError('WEAK_PASSWORD');
  const knownWords = newPassword.knownWords.filter((word): word is string => typeof word === 'string');
  return kernel.hashing.during(request, async (turn) => {
    if (!(await kernel.passwordStrength.isStrongEnough(password, knownWords))) throw authError('WEAK_PASSWORD');
    return turn.hash(password);
  });
}
