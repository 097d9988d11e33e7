import {
  adminEventListOutput,
  adminListEventsInput,
  adminListUsersInput,
  adminRoleInput,
  adminUserDetailOutput,
  adminUserIdInput,
  adminUserListOutput,
} from '../../shared/admin-schemas.js';
import { okOutput } from '../../shared/schemas.js';
import { deleteUser } from '../accounts/account-deletion.js';
import { getUser, listUsers } from '../admin/user-directory.js';
import { disableUser, enableUser, endUserSessions, grantUserRole, revokeUserRole } from '../admin/user-administration.js';
import { listAuditEvents } from '../audit/audit-store.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { ADMIN_SCOPE, adminProcedure } from '../middleware/admin-access.js';
import { requireRecentAuth } from '../sessions/recent-auth.js';
import { authT } from '../trpc.js';

/*
 * `auth.admin.*`: for a Basic client of the `admin` realm, or a user with the `admin` role (an API
 * token of theirs needs the `users:admin` scope). A user id that names no account answers
 * USER_NOT_FOUND; the same functions are on what `createAuth` returns, for the server's own code.
 */

/** A mutation on one user, answering `{ ok: true }`, or USER_NOT_FOUND. */
function userAction(kernel: AuthKernel, act: (userId: string, by: Parameters<typeof disableUser>[2]) => Promise<boolean>) {
  return adminProcedure(kernel, ADMIN_SCOPE)
    .input(adminUserIdInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (!(await act(input.userId, ctx.administrator))) throw authError('USER_NOT_FOUND');
      return { ok: true as const };
    });
}

/**
 * A role change. A role outlives the session that grants it, so a user administrator needs a recent
 * authentication, as for minting an API token: a stolen admin token must not make its thief an
 * admin for good. An API token is never one (RECENT_AUTH_REQUIRED); a Basic client of the realm is.
 */
function roleChange(kernel: AuthKernel, change: typeof grantUserRole) {
  return adminProcedure(kernel, ADMIN_SCOPE)
    .input(adminRoleInput)
    .output(okOutput)
    .mutation(async ({ input, ctx }) => {
      if (ctx.administrator.kind === 'user') {
        const pending = kernel.authenticate(ctx.authRequest);
        await requireRecentAuth(kernel, { ...ctx, ...(pending instanceof Promise ? await pending : pending) }, input.password);
      }
      if (!(await change(kernel, { userId: input.userId, role: input.role, by: ctx.administrator }))) throw authError('USER_NOT_FOUND');
      return { ok: true as const };
    });
}

/** The `admin` router: users (find, look at, disable, enable, end sessions, roles, delete) and the audit trail. */
export function adminRouter(kernel: AuthKernel) {
  const admin = () => adminProcedure(kernel, ADMIN_SCOPE);
  return authT.router({
    users: authT.router({
      list: admin()
        .input(adminListUsersInput)
        .output(adminUserListOutput)
        .query(({ input }) => listUsers(kernel.db, input ?? {})),
      get: admin()
        .input(adminUserIdInput)
        .output(adminUserDetailOutput)
        .query(async ({ input }) => {
          const detail = await getUser(kernel, input.userId);
          if (!detail) throw authError('USER_NOT_FOUND');
          return detail;
        }),
      disable: userAction(kernel, (userId, by) => disableUser(kernel, userId, by)),
      enable: userAction(kernel, (userId, by) => enableUser(kernel, userId, by)),
      endSessions: userAction(kernel, (userId, by) => endUserSessions(kernel, userId, by)),
      delete: userAction(kernel, (userId, by) => deleteUser(kernel, userId, by)),
      grantRole: roleChange(kernel, grantUserRole),
      revokeRole: roleChange(kernel, revokeUserRole),
    }),
    events: authT.router({
      list: admin()
        .input(adminListEventsInput)
        .output(adminEventListOutput)
        .query(({ input }) => listAuditEvents(kernel.db, { userId: input?.userId, cursor: input?.cursor, limit: input?.limit ?? 50 })),
    }),
  });
}
