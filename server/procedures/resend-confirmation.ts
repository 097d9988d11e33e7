import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import { prepareConfirmationMail } from '../confirmation-mail.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail } from '../users.js';

/**
 * `auth.resendConfirmation`: mails a fresh link to an unconfirmed account. The answer is the same for
 * any address, known, unknown or already confirmed.
 */
export function resendConfirmationProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (kernel.options.signup.emailConfirmation === 'off') return { ok: true as const };
      await kernel.throttles.beginMail(ctx.authRequest);
      if (!(await kernel.throttles.mayMail(input.email))) return { ok: true as const };
      // After the answer: writing a link for a real account takes longer than finding none.
      kernel.background.run('resendConfirmation', async () => {
        const confirmation = await kernel.db.transaction(async (tx) => {
          const user = await findUserByEmail(tx, input.email);
          return user && !user.confirmed ? prepareConfirmationMail(kernel, tx, user) : null;
        });
        confirmation?.send();
      }, ctx.authRequest);
      return { ok: true as const };
    });
}
