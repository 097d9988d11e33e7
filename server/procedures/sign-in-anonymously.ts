import { signedInSchema, signInAnonymouslyInput } from '../../shared/schemas.js';
import { insertAnonymousUser, newAnonymousUser } from '../anonymous/anonymous-users.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.signInAnonymously`: a new account with no address and no password, and a session for it,
 * through the one sign-in path (cookie mode, devices, the session limits and the audit trail as for
 * every method). `ANONYMOUS_SIGN_IN_DISABLED` unless `anonymous.enabled`. Each client may make
 * `rateLimits.anonymousSignInsPerIpPerHour` accounts an hour, counted before anything is written; the
 * account is written in the session's transaction, so a session the limits refuse leaves none.
 */
export function signInAnonymouslyProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(signInAnonymouslyInput)
    .output(signedInSchema)
    .mutation(async ({ ctx }) => {
      if (!kernel.options.anonymous.enabled) throw authError('ANONYMOUS_SIGN_IN_DISABLED');
      admitSignIn(kernel, ctx);
      await kernel.throttles.beginAnonymousSignIn(ctx.authRequest);
      const user = newAnonymousUser(kernel);
      return signIn(kernel, ctx, { user, method: 'anonymous', creates: (tx) => insertAnonymousUser(tx, user) });
    });
}
