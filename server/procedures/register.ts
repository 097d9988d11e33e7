import { registerInput, registerOutput } from '../../shared/schemas.js';
import { userTable } from '../../db/schema.js';
import { prepareConfirmationMail } from '../accounts/confirmation-mail.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { hashNewPassword } from '../passwords/new-password.js';
import { generateId } from '../tokens/secrets.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, findUserByUsername, uniqueViolation } from '../accounts/users.js';

/**
 * `auth.register`: creates the account and mails the confirmation link. Where confirmation is
 * required, an address that already has an account gets the same answer as a new one (its owner is
 * told by mail instead), so sign-up does not reveal who has an account.
 */
export function registerProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(registerInput)
    .output(registerOutput)
    .mutation(async ({ input, ctx }) => {
      const { signup } = kernel.options;
      if (!signup.enabled) throw authError('SIGNUP_DISABLED');
      admitSignIn(kernel, ctx);
      // Outside `required` mode the answer names a taken address (EMAIL_TAKEN), so hashing first would
      // hide nothing; refused here, a flood of sign-ups for someone's address costs one read each
      // instead of keeping the hashing bulkhead busy (and every other call waiting for the cores).
      const namesTakenAddress = signup.emailConfirmation !== 'required';
      if (input.username || namesTakenAddress) {
        // A taken value counts as a failed sign-in of the client: one client learns of a bounded
        // number of them, and past that its sign-ups are refused from memory, costing no query.
        const taken = await kernel.throttles.screenSignUp(ctx.authRequest, async () => {
          // Decided on the username alone, before the address is involved: which of two taken values
          // the database would report first must not tell whether the address has an account.
          if (input.username && (await findUserByUsername(kernel.db, input.username))) return 'USERNAME_TAKEN' as const;
          if (namesTakenAddress && (await findUserByEmail(kernel.db, input.email))) return 'EMAIL_TAKEN' as const;
          return null;
        });
        if (taken !== null) throw authError(taken);
      }
      // Hashed before the address is tried, so that in `required` mode a taken address costs the
      // same time as a new one. A sign-up proves nothing, so its count on the client's hash allowance is never given back.
      const passwordHash = await hashNewPassword(kernel, ctx.authRequest, { password: input.password, knownWords: [input.email, input.username] });
      if (signup.emailConfirmation !== 'off') await kernel.throttles.beginMail(ctx.authRequest);

      let created;
      try {
        created = await kernel.db.transaction(async (tx) => {
          const [user] = await tx
            .insert(userTable)
            .values({
              userId: generateId(kernel.random),
              email: input.email,
              username: input.username ?? null,
              meta: input.meta ?? {},
              passwordHash,
              insertedAt: new Date(kernel.clock.now()),
              updatedAt: new Date(kernel.clock.now()),
            })
            .returning();
          if (!user) throw new Error('register: insert returned no row');
          const confirmation = signup.emailConfirmation === 'off' ? null : await prepareConfirmationMail(kernel, tx, user);
          return { user, confirmation };
        });
      } catch (error) {
        const taken = uniqueViolation(error);
        if (taken === 'username' && signup.emailConfirmation !== 'required') throw authError('USERNAME_TAKEN');
        if (taken !== null && signup.emailConfirmation === 'required') {
          // Both collisions look alike here (the username was free a moment ago): the owner of a
          // taken address hears of the attempt by mail, and the caller learns nothing.
          if (taken === 'username') return { confirmationSent: true };
          if (await kernel.throttles.mayMail(input.email)) kernel.mailer.send('signupAttempt', input.email, { email: input.email });
          return { confirmationSent: true };
        }
        if (taken === 'email') throw authError('EMAIL_TAKEN');
        throw error;
      }

      kernel.audit.emit({ type: 'signed-up', userId: created.user.userId, sessionId: null });
      created.confirmation?.send();
      const confirmationSent = created.confirmation !== null;
      if (signup.emailConfirmation === 'required') return { confirmationSent };
      return { ...(await signIn(kernel, ctx, { user: created.user, method: 'registration' })), confirmationSent };
    });
}
