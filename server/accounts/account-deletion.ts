import { and, eq } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import type { AuditActor } from '../../shared/audit-events.js';
import type { AuthKernel } from '../kernel.js';
import { announceRevocation } from '../tokens/announce-revocation.js';
import { localeOf } from './users.js';

/*
 * Deleting an account, by its owner (`auth.deleteAccount`) or an administrator. One transaction
 * deletes the user's row, and with it (the foreign keys cascade) every session and its access
 * tokens, API token, mailed link and known device, and announces the end of every token of the user
 * to every node; once it committed, this node's cache has forgotten them too. The address is free
 * again: registering with it makes a new user, with a new id.
 *
 * What is kept: the audit trail's events of the user (with `audit.store`), under the user's id, a
 * random value nothing links to a person any more, without the address and user agent they had
 * (audit-trail.ts erases those); and the rate-limit counters, which hold SHA-256 digests of
 * addresses, and go with their window.
 */

/** Who deletes: the user themselves, or someone administering. */
export type Deleter = AuditActor | { kind: 'self' };

/** Deletes the user and everything of theirs; false when there is no such user. */
export function deleteUser(kernel: AuthKernel, userId: string, by: Deleter): Promise<boolean> {
  return deleteUserIf(kernel, userId, { by });
}

/**
 * `deleteUser`, only while the user's row meets `onlyIf`, judged in the deleting statement itself:
 * the cleaner deletes an account it found unused only if it still is. False when it is not, or
 * there is no such user.
 */
export async function deleteUserIf(kernel: AuthKernel, userId: string, deletion: { by: Deleter; onlyIf?: SQL }): Promise<boolean> {
  const { by, onlyIf } = deletion;
  const deleted = await kernel.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(userTable)
      .where(and(eq(userTable.userId, userId), onlyIf))
      .returning();
    if (!row) return null;
    await announceRevocation(tx, { userId });
    return row;
  });
  if (!deleted) return false;
  await kernel.sessions.forget([{ userId }]);
  kernel.audit.emit({ type: 'user-deleted', userId, sessionId: null, by });
  const { email } = deleted;
  // An anonymous account has no address to tell.
  if (email !== null && (await kernel.throttles.mayMail(email))) kernel.mailer.send('accountDeleted', email, { email, locale: localeOf(deleted) });
  return true;
}
