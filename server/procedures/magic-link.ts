import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import { confirmEmailInput, emailOnlyInput, okOutput, signedInSchema } from '../../shared/schemas.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { createLinkToken, redeemLinkToken, supersedeLinkTokens } from '../link-tokens.js';
import { buildLink } from '../mail/mailer.js';
import { authProcedure, authT } from '../trpc.js';
import { findUserByEmail, localeOf, toPublicUser } from '../users.js';
import { sessionOrigin } from './session-origin.js';

/**
 * `auth.magicLink.request` and `auth.magicLink.verify`: sign-in by a link mailed to an account's
 * address. The request answers the same, in the same time, for any address; only an existing
 * account gets a mail (no account is made here: that is `register`). The link works once, for ten
 * minutes at most, and only the newest one does. Opening it spends nothing: the page behind it posts
 * the token to `verify`, so a mail scanner that follows links signs nobody in.
 */
export function magicLinkRouter(kernel: AuthKernel) {
  return authT.router({
    request: authProcedure
      .input(emailOnlyInput)
      .output(okOutput)
      .mutation(async ({ input, ctx }) => {
        if (!kernel.options.magicLink.enabled) throw authError('MAGIC_LINK_DISABLED');
        if (!(await kernel.throttles.mayMail(input.email))) return { ok: true as const };
        kernel.background.run('magicLink', () => mailSignInLink(kernel, input.email), ctx.authRequest);
        return { ok: true as const };
      }),

    verify: authProcedure
      .input(confirmEmailInput)
      .use(kernel.linkTokenGuard)
      .output(signedInSchema)
      .mutation(async ({ input, ctx }) => {
        if (!kernel.options.magicLink.enabled) throw authError('MAGIC_LINK_DISABLED');
        kernel.refreshCookie.admit(ctx.authRequest);
        const user = await kernel.db.transaction(async (tx) => {
          const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: 'magic-link', token: input.token });
          if (!redemption.ok) throw authError(redemption.code);
          const { link } = redemption;
          // Using the link proves the address, so it counts as confirmed; an address changed since
          // the link was sent makes it worthless.
          const [signedIn] = await tx
            .update(userTable)
            .set({ confirmed: true, updatedAt: new Date(kernel.clock.now()) })
            .where(eq(userTable.userId, link.userId))
            .returning();
          if (!signedIn || signedIn.email !== link.email) throw authError('LINK_INVALID');
          return signedIn;
        });
        const { tokens } = await kernel.sessions.start(user.userId, sessionOrigin(ctx));
        return { user: toPublicUser(user), tokens: kernel.refreshCookie.deliver(ctx.authRequest, tokens) };
      }),
  });
}

async function mailSignInLink(kernel: AuthKernel, email: string): Promise<void> {
  const ttlSeconds = kernel.options.magicLink.linkTtlSeconds;
  const issued = await kernel.db.transaction(async (tx) => {
    const user = await findUserByEmail(tx, email);
    if (!user) return null;
    await supersedeLinkTokens(tx, { userId: user.userId, purpose: 'magic-link' });
    const link = await createLinkToken(tx, kernel, { purpose: 'magic-link', userId: user.userId, email: user.email, ttlSeconds });
    return { email: user.email, token: link.token, locale: localeOf(user) };
  });
  if (!issued) return;
  const { appUrl, paths } = kernel.options.mail;
  kernel.mailer.send('magicLink', issued.email, {
    email: issued.email,
    link: buildLink(appUrl, paths.magicLink, issued.token),
    expiresInMinutes: Math.round(ttlSeconds / 60),
    locale: issued.locale,
  });
}
