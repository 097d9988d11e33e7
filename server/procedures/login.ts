import { loginInput, signedInSchema } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { identifyClient, passwordAttempt } from '../sessions/known-clients.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, findUserByUsername } from '../accounts/users.js';

/**
 * `auth.login` by email or username. An unknown account, an account without a password and a wrong
 * password all cost one hash and all answer `INVALID_CREDENTIALS`, so neither the answer nor its
 * timing tells whether an account exists. `EMAIL_NOT_CONFIRMED` comes only after the right password.
 * Failures count against the account and the client (throttles.ts), and only once the hashing turn
 * is taken: a sign-in refused because the server is busy counts against no one. A client the account
 * knows (a device cookie of it, a session of it: known-clients.ts) is spared what strangers did to it.
 */
export function loginProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(loginInput)
    .output(signedInSchema)
    .mutation(async ({ input, ctx }) => {
      const { identifier } = input;
      const { throttles } = kernel;
      admitSignIn(kernel, ctx);
      const { user, attempt, rehashed } = await kernel.hashing.duringSignIn(ctx.authRequest, async (turn) => {
        // Both reads, whatever the identifier names: the same work for an account as for none.
        const [client, found] = await Promise.all([
          identifyClient(kernel, ctx.authRequest),
          identifier.includes('@') ? findUserByEmail(kernel.db, identifier.toLowerCase()) : findUserByUsername(kernel.db, identifier),
        ]);
        // Failures count against the account, whether its address or its username was typed.
        const attempt = passwordAttempt(client, found ?? { unknown: identifier.toLowerCase() });
        const { locked: accountLocked } = await throttles.countAccountAttempt(attempt);
        // A locked account is answered as a wrong password would be, after the same hashing work; so
        // is a disabled one, whose right password counts as a failure too.
        const check = await turn.verify(accountLocked ? null : (found?.passwordHash ?? null), input.password);
        const failure = !found ? 'unknown-account' : accountLocked ? 'locked' : !check.valid ? 'wrong-password' : found.disabledAt ? 'disabled' : null;
        if (failure !== null || !found) {
          kernel.audit.emit({ type: 'sign-in-failed', userId: found?.userId ?? null, sessionId: null, reason: failure ?? 'unknown-account' });
          throw authError('INVALID_CREDENTIALS');
        }
        // The password was right: no failure to count (nor its hash). The attempt is given back with
        // the session's count (one statement), or here, when no session follows.
        if (!found.confirmed && kernel.options.signup.emailConfirmation === 'required') {
          await throttles.signInSucceeded(ctx.authRequest, attempt);
          kernel.audit.emit({ type: 'sign-in-failed', userId: found.userId, sessionId: null, reason: 'email-not-confirmed' });
          throw authError('EMAIL_NOT_CONFIRMED');
        }
        return { user: found, attempt, rehashed: check.needsRehash ? await turn.hash(input.password) : undefined };
      });

      // The session starts only if the password just verified is still the account's: a password
      // change that committed meanwhile (it locks the same row) wins, and this sign-in fails.
      const signedIn = await signIn(kernel, ctx, { user, method: 'password', password: { verifiedHash: user.passwordHash as string, rehashed }, succeeded: attempt });
      return signedIn;
    });
}
