import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, localeOf } from '../accounts/users.js';

/** What the mail is rendered with where there is no username to send. */
const USERNAME_STAND_IN = 'username';

/**
 * `auth.forgotUsername`: mails the username to the confirmed address of the account that has it.
 * The answer is the same for any address and never holds the username.
 */
export function forgotUsernameProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (!(await kernel.throttles.admitMailTo(ctx.authRequest, input.email))) return { ok: true as const };
      // After the answer, like every mail that tells an account exists, and the same work whether
      // one does or not: the mail is rendered either way, and sent only to a confirmed address.
      kernel.background.run(
        'forgotUsername',
        async () => {
          const user = await findUserByEmail(kernel.db, input.email);
          const mail = { email: input.email, username: user?.username ?? USERNAME_STAND_IN, locale: user ? localeOf(user) : undefined };
          if (user?.confirmed && user.username) kernel.mailer.send('forgotUsername', user.email, mail);
          else kernel.mailer.rehearse('forgotUsername', mail);
        },
        ctx.authRequest,
      );
      return { ok: true as const };
    });
}
