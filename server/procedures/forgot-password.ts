import { emailOnlyInput, okOutput } from '../../shared/schemas.js';
import type { AuthKernel } from '../kernel.js';
import { issueLink } from '../link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, localeOf } from '../users.js';

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
      // After the answer: writing the link for a real account takes longer than finding none.
      kernel.background.run('forgotPassword', () => mailResetLink(kernel, input.email), ctx.authRequest);
      return { ok: true as const };
    });
}

async function mailResetLink(kernel: AuthKernel, email: string): Promise<void> {
  const ttlSeconds = kernel.options.passwordReset.linkTtlSeconds;
  const reset = await kernel.db.transaction(async (tx) => {
    const user = await findUserByEmail(tx, email);
    if (!user) return null;
    const link = await issueLink(tx, kernel, { purpose: 'reset-password', userId: user.userId, email: user.email, ttlSeconds });
    return { email: user.email, token: link.token, locale: localeOf(user) };
  });
  if (!reset) return;
  const { appUrl, paths } = kernel.options.mail;
  kernel.mailer.send('resetPassword', reset.email, {
    email: reset.email,
    link: buildLink(appUrl, paths.resetPassword, reset.token),
    expiresInMinutes: Math.round(ttlSeconds / 60),
    locale: reset.locale,
  });
}
