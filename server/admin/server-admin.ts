import type { z } from 'zod';
import { adminListEventsInput, adminListUsersInput, adminRoleInput, adminUserIdInput } from '../../shared/admin-schemas.js';
import type { AuditActor } from '../../shared/audit-events.js';
import { deleteUser } from '../accounts/account-deletion.js';
import { listAuditEvents } from '../audit/audit-store.js';
import type { StoredAuditEvent } from '../audit/audit-store.js';
import type { AuthKernel } from '../kernel.js';
import { getUser, listUsers } from './user-directory.js';
import type { AdminUser, UserDetail } from './user-directory.js';
import { disableUser, enableUser, endUserSessions, grantUserRole, revokeUserRole } from './user-administration.js';

/*
 * `auth.admin` on the object `createAuth` returns: what `auth.admin.*` does, for the server's own
 * code (a script, a back office). Arguments are checked with the procedures' own schemas (a ZodError
 * for a bad one); the audit trail names the actor `{ kind: 'server' }`, and no client.
 */

const SERVER: AuditActor = { kind: 'server' };

export function createServerAdmin(kernel: AuthKernel) {
  const userId = (id: string): string => adminUserIdInput.parse({ userId: id }).userId;
  return {
    users: {
      /** A page of users, newest first: by part of an address or username, a whole id, creation and last-use ranges. */
      list: (search?: z.input<typeof adminListUsersInput>): Promise<{ users: AdminUser[]; nextCursor: string | null }> =>
        listUsers(kernel.db, adminListUsersInput.parse(search) ?? {}),
      /** The user with their live sessions, API tokens and linked identities; null when there is none. */
      get: (id: string): Promise<UserDetail | null> => getUser(kernel, userId(id)),
      /** Every token refused on every node, sign-in refused; false when there is no such user. */
      disable: (id: string): Promise<boolean> => disableUser(kernel, userId(id), SERVER),
      enable: (id: string): Promise<boolean> => enableUser(kernel, userId(id), SERVER),
      /** Ends every session (API tokens stay). */
      endSessions: (id: string): Promise<boolean> => endUserSessions(kernel, userId(id), SERVER),
      /** Deletes the user and everything of theirs (account-deletion.ts says what is kept). */
      delete: (id: string): Promise<boolean> => deleteUser(kernel, userId(id), SERVER),
      grantRole: (id: string, role: string): Promise<boolean> => grantUserRole(kernel, { ...adminRoleInput.parse({ userId: id, role }), by: SERVER }),
      revokeRole: (id: string, role: string): Promise<boolean> => revokeUserRole(kernel, { ...adminRoleInput.parse({ userId: id, role }), by: SERVER }),
    },
    events: {
      /** A page of the stored audit trail, newest first (empty unless `audit.store` is on). */
      list: (query?: z.input<typeof adminListEventsInput>): Promise<{ events: StoredAuditEvent[]; nextCursor: string | null }> => {
        const parsed = adminListEventsInput.parse(query);
        return listAuditEvents(kernel.db, { userId: parsed?.userId, cursor: parsed?.cursor, limit: parsed?.limit ?? 50 });
      },
    },
  };
}

/** `auth.admin`. */
export type ServerAdmin = ReturnType<typeof createServerAdmin>;
