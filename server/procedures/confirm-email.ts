import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import { confirmEmailInput, confirmEmailOutput } from '../../shared/schemas.js';
import { proveAddress } from '../accounts/address-proof.js';
import type { AuthRequest } from '../context.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { findLinkOwner, spendLink, voidLinks } from '../accounts/link-tokens.js';
import { admitSignIn, signIn } from '../sessions/sign-in.js';
import { authProcedure } from '../trpc.js';
import { findUserByEmail, findUserById, toPublicUser } from '../accounts/users.js';

/**
 * `auth.confirmEmail`: spends a mailed link of one of two kinds.
 *   - A sign-up's confirmation proves the address and signs the clicker in. With the password chosen
 *     at sign-up (`password`), that password is kept; without it, it stops working and the clicker
 *     sets one (address-proof.ts), so a confirmation never vouches for a password its clicker never
 *     showed.
 *   - An email change's link, mailed to the new address, makes that address the account's. It signs
 *     nobody in: whoever holds the link proved the new address, not the account.
 * Only the newest link of its kind works, once.
 */
export function confirmEmailProcedure(kernel: AuthKernel) {
  return authProcedure
    .input(confirmEmailInput)
    .use(kernel.linkTokenGuard)
    .output(confirmEmailOutput)
    .mutation(async ({ input, ctx }) => {
      admitSignIn(kernel, ctx);
      const owner = await findLinkOwner(kernel.db, input.token, ['confirm-email', 'change-email']);
      if (!owner) throw authError('LINK_INVALID');
      if (owner.purpose === 'change-email') return { user: toPublicUser(await changeEmail(kernel, { userId: owner.userId, token: input.token })) };
      const shownPasswordHash = input.password === undefined ? null : await verifiedHash(kernel, ctx.authRequest, { userId: owner.userId, password: input.password });
      const user = await proveAddress(kernel, { purpose: 'confirm-email', token: input.token, shownPasswordHash });
      return signIn(kernel, ctx, { user, method: 'confirm-email' });
    });
}

/** The account's password hash if `password` matches it, else null; hashed in the client's turn. */
async function verifiedHash(kernel: AuthKernel, request: AuthRequest, shown: { userId: string; password: string }): Promise<string | null> {
  const user = await findUserById(kernel.db, shown.userId);
  const storedHash = user?.passwordHash;
  if (!storedHash) return null;
  const check = await kernel.hashing.during(request, (turn) => turn.verify(storedHash, shown.password));
  return check.valid ? storedHash : null;
}

/**
 * The new address of an email change proved itself: it becomes the account's, and the link is spent
 * in the same transaction. An address is a credential (resets go to it), so every session and API
 * token of the user ends with the change, and every link still pending for the old address.
 */
async function changeEmail(kernel: AuthKernel, change: { userId: string; token: string }): Promise<UserRow> {
  const { userId, token } = change;
  let changed: UserRow | undefined;
  await kernel.sessions.revokeAllOf(userId, {
    reason: 'email-changed',
    alongWith: async (tx) => {
      const spent = await spendLink(tx, kernel.clock, { purpose: 'change-email', token });
      if (!spent.ok || spent.link.userId !== userId) throw authError(spent.ok ? 'LINK_INVALID' : spent.code);
      const { link } = spent;
      // Taken meanwhile by another account, the address cannot become this one's.
      if (await findUserByEmail(tx, link.email)) throw authError('LINK_INVALID');
      await voidLinks(tx, link.userId);
      [changed] = await tx
        .update(userTable)
        // An anonymous account is upgraded by it, keeping its id and meta (server/anonymous/).
        .set({ email: link.email, confirmed: true, isAnonymous: false, updatedAt: new Date(kernel.clock.now()) })
        .where(eq(userTable.userId, link.userId))
        .returning();
    },
  });
  if (!changed) throw authError('LINK_INVALID');
  return changed;
}
