import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { okOutput, resetPasswordInput } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { pageLink } from '../mail/mailer.js';
import { findLinkOwner, spendLink, voidLinks } from '../accounts/link-tokens.js';
import { hashNewPassword } from '../passwords/new-password.js';
import { authProcedure } from '../trpc.js';

/**
 * `auth.resetPassword`: spends the mailed link and sets the new password. Every session and every
 * pending link of the user ends, an intruder's included (a pending email change among them), and no
 * tokens are handed out: the user signs in afresh. Using the link also proves the address, so an
 * unconfirmed one counts as confirmed. The new password starts with no failures counted against
 * it, and the browser that reset it is the account's one known device, so the owner signs in from
 * it even while strangers keep the account refusing everyone else (throttles.ts).
 */
export function resetPasswordProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(resetPasswordInput)
    .use(kernel.linkTokenGuard)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      // A token that names no reset link costs no hashing.
      const owner = await findLinkOwner(kernel.db, input.token, ['reset-password']);
      if (!owner) throw authError('LINK_INVALID');
      const passwordHash = await hashNewPassword(kernel, ctx.authRequest, { password: input.password, knownWords: [owner.email] });

      let email = '';
      const deviceCookie = kernel.devices.cookieFor(ctx.authRequest);
      // One transaction: the link is spent, the password set and every session ended, or none of it.
      await kernel.sessions.revokeAllOf(owner.userId, {
        reason: 'password-reset',
        alongWith: async (tx) => {
          const spent = await spendLink(tx, kernel.clock, { purpose: 'reset-password', token: input.token });
          if (!spent.ok) throw authError(spent.code);
          await voidLinks(tx, spent.user.userId);
          await tx
            .update(userTable)
            .set({ passwordHash, confirmed: true, updatedAt: new Date(kernel.clock.now()) })
            .where(eq(userTable.userId, spent.user.userId));
          email = spent.link.email;
          // An intruder's devices go with their sessions.
          await kernel.devices.forget(tx, spent.user.userId, null);
          await kernel.devices.remember(tx, ctx.authRequest, spent.user.userId);
        },
      });
      if (deviceCookie !== null) kernel.devices.handOver(ctx.authRequest, deviceCookie);
      await kernel.hashing.succeeded(ctx.authRequest);
      if (await kernel.throttles.mayMail(email)) kernel.mailer.send('passwordChanged', email, { email, sessionsEnded: 'all', resetLink: pageLink(kernel.options.mail.appUrl, kernel.options.mail.paths.resetPassword) });
      return { ok: true as const };
    });
}
