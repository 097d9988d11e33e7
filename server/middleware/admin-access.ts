import { experimental_standaloneMiddleware } from '@trpc/server';
import type { BasicClient } from '../basic/basic-check.js';
import type { AuthBaseContext } from '../context.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { ADMIN_ROLE, hasRole } from '../accounts/roles.js';
import { insufficientScope } from '../tokens/scopes.js';
import { authProcedure } from '../trpc.js';

/** The Basic realm whose clients administer the kit (`invite`). */
export const ADMIN_REALM = 'admin';

/** The scope an API token of an admin needs to invite. */
export const INVITE_SCOPE = 'users:invite';

/** The scope an API token of an admin needs for `auth.admin.*`. */
export const ADMIN_SCOPE = 'users:admin';

/** Who is administering: a Basic client of the admin realm, or a user with the admin role. */
export type Administrator = { kind: 'client'; clientId: string } | { kind: 'user'; userId: string };

/**
 * Follows the admin realm's advertised Basic middleware: a Basic client of the realm is admitted
 * as it is; anyone else needs a bearer token (401 with both challenges otherwise) of a user with the
 * admin role (403 `ROLE_REQUIRED`), and, for an API token, `scope` (by default `users:invite`).
 */
export function adminAccess(kernel: AuthKernel, scope: string = INVITE_SCOPE) {
  return experimental_standaloneMiddleware<{ ctx: AuthBaseContext & { client: BasicClient | null } }>().create(async function isAdmin({ ctx, next }) {
    if (ctx.client) return next({ ctx: { administrator: { kind: 'client', clientId: ctx.client.id } as Administrator } });
    const pending = kernel.authenticate(ctx.authRequest);
    const { user, session } = pending instanceof Promise ? await pending : pending;
    if (session.scopes !== null && !session.scopes.includes(scope)) throw insufficientScope(ctx.authRequest, [scope]);
    if (!(await hasRole(kernel.db, user.id, ADMIN_ROLE))) throw authError('ROLE_REQUIRED');
    return next({ ctx: { administrator: { kind: 'user', userId: user.id } as Administrator } });
  });
}

/**
 * A procedure for an administrator: a Basic client of the `admin` realm, or a user with the admin
 * role (whose API token needs `scope`).
 */
export function adminProcedure(kernel: AuthKernel, scope: string = INVITE_SCOPE) {
  return authProcedure.use(kernel.basic.advertised(ADMIN_REALM)).use(adminAccess(kernel, scope));
}
