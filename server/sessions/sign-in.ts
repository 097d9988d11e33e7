import type { SQL } from 'drizzle-orm';
import type { UserRow } from '../../db/schema.js';
import type { Queryable } from '../../db/connect.js';
import type { AuthTokens, PublicUser } from '../../shared/types.js';
import type { AuthBaseContext } from '../context.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { findUserById, toPublicUser } from '../accounts/users.js';
import { admitActiveUser } from '../accounts/account-status.js';
import type { VerifiedPassword } from '../accounts/account-status.js';
import type { SignInFailureReason } from '../../shared/audit-events.js';
import type { AccountAttempt } from '../limits/throttles.js';

/*
 * The one way into a signed-in state. Every method (a password, a mailed link, an invitation, and the
 * ones to come) first proves who the user is, then calls `signIn`, which starts the session, hands the
 * tokens over as the client asked (the refresh token in the cookie, in cookie mode), records the
 * device (its user agent and address on the session, and the device cookie, devices.ts), and reports
 * the sign-in to the log and the audit trail. A disabled account gets no session whatever it proved:
 * it fails as a wrong password does. A new method is a procedure that proves and calls this.
 *
 * The cross-site checks of cookie mode (`refreshCookie.admit`) run at the start of every sign-in
 * procedure instead, before it spends any work: `admitSignIn` below.
 */

/** How the user proved who they are. */
export type SignInMethod = 'password' | 'confirm-email' | 'magic-link' | 'invite' | 'registration' | 'oauth' | 'anonymous';

export interface SignedIn {
  user: PublicUser;
  tokens: AuthTokens;
}

/** Refuses a cookie-mode client whose request fails the cross-site checks; call it first. */
export function admitSignIn(kernel: AuthKernel, ctx: AuthBaseContext): void {
  kernel.refreshCookie.admit(ctx.authRequest);
}

/**
 * Starts a session for `user`, in one statement that locks the user's row and refuses a disabled
 * account. A sign-in by `password` passes only if that password is still the account's: one racing a
 * password change (which locks the same row) loses, and answers INVALID_CREDENTIALS. Its attempt
 * (`succeeded`) is given back in the statement that counts the session, whatever follows.
 * `creates` writes the account itself, first, in a transaction with that statement (an anonymous
 * sign-in): a session the limits refuse then leaves no account behind, and the sign-up is reported
 * with the sign-in.
 */
export async function signIn(
  kernel: AuthKernel,
  ctx: AuthBaseContext,
  signingIn: { user: UserRow; method: SignInMethod; password?: VerifiedPassword; succeeded?: AccountAttempt; creates?: (tx: Queryable) => Promise<void> },
): Promise<SignedIn> {
  const { user, method, creates } = signingIn;
  const request = ctx.authRequest;
  const deviceCookie = kernel.devices.cookieFor(request);
  const started = await kernel.sessions.startIf(user.userId, request, {
    admits: admitActiveUser(user.userId, signingIn.password ?? null),
    alongWith: (admitted: SQL) => kernel.devices.recording(request, user.userId, admitted),
    first: creates,
    succeeded: signingIn.succeeded,
  });
  if (!started) {
    // Which of the gate's conditions failed, as the account is now: a refusal is rare, the read cheap.
    const now = await findUserById(kernel.db, user.userId);
    const refusal: SignInFailureReason = !now || now.disabledAt ? 'disabled' : 'credentials-changed';
    kernel.audit.emit({ type: 'sign-in-failed', userId: user.userId, sessionId: null, reason: refusal });
    throw authError('INVALID_CREDENTIALS');
  }
  if (deviceCookie !== null) kernel.devices.handOver(request, deviceCookie);
  kernel.logger.info('signed in', { userId: user.userId, sessionId: started.sessionId, method });
  if (creates) kernel.audit.emit({ type: 'signed-up', userId: user.userId, sessionId: null });
  kernel.audit.emit({ type: 'signed-in', userId: user.userId, sessionId: started.sessionId, method });
  return { user: toPublicUser(user), tokens: kernel.refreshCookie.deliver(request, started.tokens) };
}
