import type { UserRow } from '../../db/schema.js';
import type { Authenticated } from '../middleware/bearer.js';
import type { AuthBaseContext } from '../context.js';
import type { AuthKernel } from '../kernel.js';
import { identifyClient, passwordAttempt } from '../sessions/known-clients.js';

/**
 * Checks a signed-in user's password as a sign-in would: in a hashing turn of the client's, counted
 * against the client and the account first, and a locked account answered as a wrong password is,
 * after the same hashing work. So a call that takes the password (`changePassword`, `changeEmail`, a
 * recent authentication) is no oracle a thief holding an access token could guess through. The
 * caller's session (not an API token) makes the client one the account knows, counted by that
 * session: strangers who locked the account out of sign-ins do not stop its owner here, and a thief
 * gets no more than one client's share.
 */
export async function checkAccountPassword(kernel: AuthKernel, ctx: AuthBaseContext & Authenticated, check: { user: UserRow; password: string }): Promise<boolean> {
  const { user, password } = check;
  const { throttles } = kernel;
  const request = ctx.authRequest;
  const session = ctx.session.scopes === null ? { id: ctx.session.id, userId: ctx.user.id } : null;
  return kernel.hashing.duringSignIn(request, async (turn) => {
    const attempt = passwordAttempt(await identifyClient(kernel, request, session), user);
    const { locked } = await throttles.countAccountAttempt(attempt);
    const verified = await turn.verify(locked ? null : user.passwordHash, password);
    if (locked || !verified.valid) return false;
    await throttles.signInSucceeded(request, attempt);
    return true;
  });
}
