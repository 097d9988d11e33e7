import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, localeOf } from '../users.js';

/**
 * `auth.forgotUsername`: mails the username to the confirmed address of the account that has it.
 * The answer is the same for any address and never holds the username.
 */
export function forgotUsernameProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      await kernel.throttles.beginMail(ctx.authRequest);
      if (!(await kernel.throttles.mayMail(input.email))) return { ok: true as const };
      // After the answer, like every mail that tells an account exists.
      kernel.background.run(
        'forgotUsername',
        async () => {
          const user = await findUserByEmail(kernel.db, input.email);
          if (user?.confirmed && user.username) kernel.mailer.send('forgotUsername', user.email, { email: user.email, username: user.username, locale: localeOf(user) });
        },
        ctx.authRequest,
      );
      return { ok: true as const };
    });
}
