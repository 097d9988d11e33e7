import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { issueLinkByAddress } from '../accounts/link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { authProcedure } from '../trpc.js';
import { localeOf } from '../accounts/users.js';

/**
 * `auth.forgotPassword`: mails a reset link to the account at this address. The answer is the same
 * for any address, and nothing about the account changes until the link is used; a new request
 * makes the earlier link useless.
 */
export function forgotPasswordProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(emailOnlyInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      await kernel.throttles.beginMail(ctx.authRequest);
      if (!(await kernel.throttles.mayMail(input.email))) return { ok: true as const };
      // After the answer, and the same work whether the address has an account or not.
      kernel.background.run('forgotPassword', () => mailResetLink(kernel, input.email), ctx.authRequest);
      return { ok: true as const };
    });
}

async function mailResetLink(kernel: AuthKernel, email: string): Promise<void> {
  const ttlSeconds = kernel.options.passwordReset.linkTtlSeconds;
  const { account, token } = await kernel.db.transaction((tx) => issueLinkByAddress(tx, kernel, { purpose: 'reset-password', address: email, ttlSeconds }));
  const { appUrl, paths } = kernel.options.mail;
  const mail = {
    email,
    link: buildLink(appUrl, paths.resetPassword, token),
    expiresInMinutes: Math.round(ttlSeconds / 60),
    locale: account ? localeOf(account) : undefined,
  };
  if (account) kernel.mailer.send('resetPassword', email, mail);
  else kernel.mailer.rehearse('resetPassword', mail);
}
