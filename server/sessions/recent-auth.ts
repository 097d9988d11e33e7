import { and, eq } from 'drizzle-orm';
import { sessionTable, userTable } from '../../db/schema.js';
import { checkAccountPassword } from '../accounts/account-password.js';
import type { AuthBaseContext } from '../context.js';
import type { Authenticated } from '../middleware/bearer.js';
import { authError } from '../errors.js';
import type { AuthKernel } from '../kernel.js';
import { findUserById } from '../accounts/users.js';

/*
 * Sensitive operations (minting an API token, ending other sessions, changing the address) want a
 * recent proof of who the caller is, not merely a live access token: a stolen token, or a page script
 * in cookie mode that can refresh one, must not turn into a credential that outlives the session. A
 * session that signed in within `recentAuth.windowSeconds` is recent; refreshing it does not make it
 * so, since a session is refreshed for days. Otherwise the call must carry the password.
 *
 * An anonymous account's session is recent however old: the account has no password and no address,
 * so no fresher proof exists, and without this it could not upgrade (`changePassword`, `oauth.link`)
 * or delete itself once the window passed. Its sessions are its only credential, so one that holds
 * them may already do all the account can.
 */

/**
 * Whether the caller's session signed in recently, or `password` is the account's (a wrong one is
 * INVALID_CREDENTIALS, not false: it was a guess).
 */
export async function isRecentlyAuthenticated(kernel: AuthKernel, ctx: AuthBaseContext & Authenticated, password: string | undefined): Promise<boolean> {
  if (password !== undefined) {
    const user = await findUserById(kernel.db, ctx.user.id);
    if (!user || !(await checkAccountPassword(kernel, ctx, { user, password }))) throw authError('INVALID_CREDENTIALS');
    return true;
  }
  const [session] = await kernel.db
    .select({ createdAt: sessionTable.createdAt, anonymous: userTable.isAnonymous })
    .from(sessionTable)
    .innerJoin(userTable, eq(userTable.userId, sessionTable.userId))
    .where(and(eq(sessionTable.id, ctx.session.id), eq(sessionTable.userId, ctx.user.id)));
  const recentSince = kernel.clock.now() - kernel.options.recentAuth.windowSeconds * 1000;
  return session !== undefined && (session.anonymous || session.createdAt.getTime() >= recentSince);
}

/** Throws RECENT_AUTH_REQUIRED unless the caller's session signed in recently or `password` is the account's. */
export async function requireRecentAuth(kernel: AuthKernel, ctx: AuthBaseContext & Authenticated, password: string | undefined): Promise<void> {
  if (!(await isRecentlyAuthenticated(kernel, ctx, password))) throw authError('RECENT_AUTH_REQUIRED');
}
