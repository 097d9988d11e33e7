import { eq } from 'drizzle-orm';
import { userTable } from '../../db/schema.js';
import type { AuditActor } from '../../shared/audit-events.js';
import { voidLinks } from '../accounts/link-tokens.js';
import { grantRole, revokeRole } from '../accounts/roles.js';
import type { AuthKernel } from '../kernel.js';
import { announceRevocation } from '../tokens/announce-revocation.js';

/*
 * What an administrator does to an account, each as one transaction, reported to the audit trail
 * once it committed. Disabling ends every session, access token, API token and pending link of the
 * user and announces it to every node in that transaction: one notice naming the user, which every
 * node's cache applies to every token of theirs. Sign-in is refused while the account is disabled
 * (sign-in.ts); enabling it gives nothing back: the user signs in again. Each answers false when
 * there is no such user.
 */

const EVERY_LINK = ['confirm-email', 'reset-password', 'magic-link', 'change-email', 'invite'] as const;

/** Keeps the user out: every token refused on every node, every sign-in refused, until `enableUser`. */
export async function disableUser(kernel: AuthKernel, userId: string, by: AuditActor): Promise<boolean> {
  const now = new Date(kernel.clock.now());
  const ended = await kernel.db.transaction(async (tx) => {
    const [row] = await tx.update(userTable).set({ disabledAt: now, updatedAt: now }).where(eq(userTable.userId, userId)).returning({ userId: userTable.userId });
    if (!row) return null;
    await voidLinks(tx, userId, EVERY_LINK);
    const revocations = await kernel.sessions.revokeAllWithin(tx, userId, { reason: 'disabled' });
    // Whatever a node cached for this user goes, whether or not its row was live a moment ago.
    await announceRevocation(tx, { userId });
    return revocations;
  });
  if (!ended) return false;
  await kernel.sessions.forget([...ended, { userId }]);
  kernel.audit.emit({ type: 'user-disabled', userId, sessionId: null, by });
  return true;
}

/** Lets a disabled user sign in again; what disabling ended stays ended. */
export async function enableUser(kernel: AuthKernel, userId: string, by: AuditActor): Promise<boolean> {
  const now = new Date(kernel.clock.now());
  const [row] = await kernel.db.update(userTable).set({ disabledAt: null, updatedAt: now }).where(eq(userTable.userId, userId)).returning({ userId: userTable.userId });
  if (!row) return false;
  kernel.audit.emit({ type: 'user-enabled', userId, sessionId: null, by });
  return true;
}

/** Ends every session of the user on every node; API tokens stay (revoke them, or disable the user). */
export async function endUserSessions(kernel: AuthKernel, userId: string, by: AuditActor): Promise<boolean> {
  const [row] = await kernel.db.select({ userId: userTable.userId }).from(userTable).where(eq(userTable.userId, userId));
  if (!row) return false;
  await kernel.sessions.revokeAllOf(userId, { reason: 'ended-by-admin' });
  kernel.audit.emit({ type: 'sessions-ended', userId, sessionId: null, by });
  return true;
}

/** Gives the user a role (once). */
export async function grantUserRole(kernel: AuthKernel, change: { userId: string; role: string; by: AuditActor }): Promise<boolean> {
  const { userId, role, by } = change;
  if (!(await grantRole(kernel.db, userId, role))) return false;
  kernel.audit.emit({ type: 'role-granted', userId, sessionId: null, role, by });
  return true;
}

/** Takes a role away. */
export async function revokeUserRole(kernel: AuthKernel, change: { userId: string; role: string; by: AuditActor }): Promise<boolean> {
  const { userId, role, by } = change;
  if (!(await revokeRole(kernel.db, userId, role))) return false;
  kernel.audit.emit({ type: 'role-revoked', userId, sessionId: null, role, by });
  return true;
}
