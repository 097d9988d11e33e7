import { and, eq } from 'drizzle-orm';
import { linkTokenTable, userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import { confirmEmailInput, signedInSchema } from '../../shared/schemas.js';
import { parseToken } from '../../shared/token-format.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { redeemLinkToken } from '../link-tokens.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, toPublicUser } from '../users.js';
import { sessionOrigin } from './session-origin.js';

/**
 * `auth.confirmEmail`: spends the mailed token and signs the user in. Only the newest link sent to
 * the user's current address confirms it; the token is gone once used. The link of an email change
 * (mailed to the new address) lands here too, and makes that address the account's.
 */
export function confirmEmailProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(confirmEmailInput)
    .use(kernel.linkTokenGuard)
    .output(signedInSchema)
    .mutation(async ({ input, ctx }) => {
      kernel.refreshCookie.admit(ctx.authRequest);
      const changing = await emailChangeOwner(kernel, input.token);
      const confirmed = changing ? await changeEmail(kernel, { userId: changing, token: input.token }) : await confirmAddress(kernel, input.token);
      const { tokens } = await kernel.sessions.start(confirmed.userId, sessionOrigin(ctx));
      return { user: toPublicUser(confirmed), tokens: kernel.refreshCookie.deliver(ctx.authRequest, tokens) };
    });
}

/** The user whose email change this link is for, or null when it is no such link (yet to be checked). */
async function emailChangeOwner(kernel: AuthKernel, token: string): Promise<string | null> {
  const selector = parseToken('link', token)?.selector;
  if (!selector) return null;
  const [link] = await kernel.db
    .select({ userId: linkTokenTable.userId })
    .from(linkTokenTable)
    .where(and(eq(linkTokenTable.selector, selector), eq(linkTokenTable.purpose, 'change-email')));
  return link?.userId ?? null;
}

async function confirmAddress(kernel: AuthKernel, token: string): Promise<UserRow> {
  return kernel.db.transaction(async (tx) => {
    const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: 'confirm-email', token });
    if (!redemption.ok) throw authError(redemption.code);
    const { link } = redemption;
    // The link must be the user's newest, for the address the user has now.
    const [user] = await tx
      .update(userTable)
      .set({ confirmed: true, confirmId: null, updatedAt: new Date(kernel.clock.now()) })
      .where(and(eq(userTable.userId, link.userId), eq(userTable.confirmId, link.selector), eq(userTable.email, link.email)))
      .returning();
    if (!user) throw authError('LINK_INVALID');
    return user;
  });
}

/**
 * The new address of an email change proved itself: it becomes the account's, and the link is spent
 * in the same transaction. An address is a credential (resets go to it), so every session and API
 * token of the user ends with the change; the caller starts a new session.
 */
async function changeEmail(kernel: AuthKernel, change: { userId: string; token: string }): Promise<UserRow> {
  const { userId, token } = change;
  let changed: UserRow | undefined;
  await kernel.sessions.revokeAllOf(userId, {
    reason: 'email-changed',
    alongWith: async (tx) => {
      const redemption = await redeemLinkToken(tx, kernel.clock, { purpose: 'change-email', token });
      if (!redemption.ok) throw authError(redemption.code);
      const { link } = redemption;
      // Taken meanwhile by another account, the address cannot become this one's.
      if (await findUserByEmail(tx, link.email)) throw authError('LINK_INVALID');
      [changed] = await tx
        .update(userTable)
        .set({ email: link.email, confirmed: true, confirmId: null, updatedAt: new Date(kernel.clock.now()) })
        .where(eq(userTable.userId, link.userId))
        .returning();
    },
  });
  if (!changed) throw authError('LINK_INVALID');
  return changed;
}
