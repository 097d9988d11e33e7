import type { UserRow } from '../db/schema.js';
import type { AuthRequest } from './context.js';
import type { AuthKernel } from './kernel.js';

/**
 * Checks a signed-in user's password as a sign-in would: in a hashing turn of the client's, counted
 * against the client and the account first, and a locked account answered as a wrong password is,
 * after the same hashing work. So a call that takes the password (`changePassword`, `changeEmail`, a
 * recent authentication) is no oracle a thief holding an access token could guess through.
 */
export async function checkAccountPassword(kernel: AuthKernel, request: AuthRequest, check: { user: UserRow; password: string }): Promise<boolean> {
  const { user, password } = check;
  const { throttles } = kernel;
  return kernel.hashing.during(request, async (turn) => {
    await throttles.beginSignIn(request);
    const { locked } = await throttles.countAccountAttempt(user.userId);
    const verified = await turn.verify(locked ? null : user.passwordHash, password);
    if (locked || !verified.valid) return false;
    await Promise.all([throttles.signInSucceeded(request, user.userId), kernel.hashing.succeeded(request)]);
    return true;
  });
}
