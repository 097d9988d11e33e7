import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import type { Revocation } from '../cache/revocation-notice.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { spendLink, voidLinks } from './link-tokens.js';

/*
 * An account remembers whether its address was proven (`confirmed`). A password set before that was
 * set by whoever signed up, who need not own the address: an attacker can sign up with a victim's
 * address and wait. So when the address is proven by someone who has not also shown that password
 * (a magic link, or the confirmation link clicked without it), the password stops working, and every
 * session, API token, known device and pending link made before ends, in the same transaction as
 * the proof. The one who proved the address is signed in and sets a password of their own
 * (`changePassword` without a current one). Proven with the password, or proven before, nothing is taken away.
 */

/**
 * Spends a link that proves the account's address, confirms it, and applies the rule above.
 * `shownPasswordHash` is the stored hash the caller's password was verified against beforehand (so
 * no hashing runs while the row is locked), or null when no password was shown; it counts only if it
 * is still the account's.
 */
export async function proveAddress(
  kernel: AuthKernel,
  proof: { purpose: 'confirm-email' | 'magic-link'; token: string; shownPasswordHash: string | null },
): Promise<UserRow> {
  let revocations: Revocation[] = [];
  const proven = await kernel.db.transaction(async (tx) => {
    const spent = await spendLink(tx, kernel.clock, { purpose: proof.purpose, token: proof.token });
    if (!spent.ok) throw authError(spent.code);
    const { user } = spent;
    const voidsPassword = !user.confirmed && user.passwordHash !== null && user.passwordHash !== proof.shownPasswordHash;
    const [updated] = await tx
      .update(userTable)
      .set({ confirmed: true, ...(voidsPassword && { passwordHash: null }), updatedAt: new Date(kernel.clock.now()) })
      .where(eq(userTable.userId, user.userId))
      .returning();
    if (!updated) throw authError('LINK_INVALID');
    if (voidsPassword) {
      await voidLinks(tx, user.userId);
      await kernel.devices.forget(tx, user.userId, null);
      revocations = await kernel.sessions.revokeAllWithin(tx, user.userId, { reason: 'address-proven' });
    }
    return updated;
  });
  await kernel.sessions.forget(revocations);
  return proven;
}
