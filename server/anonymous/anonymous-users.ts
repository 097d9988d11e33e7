import { and, eq } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import type { Clock, RandomSource } from '../deps.js';
import { authError } from '../errors.js';
import { generateId } from '../tokens/secrets.js';

/*
 * An anonymous account is a row with no address, no password and no username: nothing but its id and
 * `meta`, reached only through the sessions `signInAnonymously` gave it. It upgrades in place, so the
 * id and `meta` stay, when it gains a way in of its own:
 *   - an address, proven through the link `changeEmail` mails (after `changePassword` set the
 *     password that `changeEmail` asks for): the address is the account's only once confirmed, and
 *     one another account holds is never mailed nor taken (as for any email change);
 *   - an OAuth identity linked (`oauth.link`).
 * Until then it may not hold what outlives its sessions or claims a shared name: API tokens and a
 * username (`ANONYMOUS_NOT_ALLOWED`). Its sessions count as a recent authentication (recent-auth.ts):
 * it has no other proof to give. Left unused, the cleaner deletes it (unused-anonymous.ts).
 */

/** The row of a new anonymous account, not yet written: `signIn` inserts it with the session. */
export function newAnonymousUser(deps: { clock: Clock; random: RandomSource }): UserRow {
  const now = new Date(deps.clock.now());
  return {
    userId: generateId(deps.random),
    username: null,
    meta: {},
    email: null,
    passwordHash: null,
    successfulLoginAttempts: 0,
    confirmId: null,
    passwordResetKey: null,
    passwordResetExpire: null,
    confirmed: false,
    roles: [],
    isAnonymous: true,
    disabledAt: null,
    insertedAt: now,
    updatedAt: now,
  };
}

/** Writes the row `newAnonymousUser` made. */
export async function insertAnonymousUser(tx: Queryable, user: UserRow): Promise<void> {
  await tx.insert(userTable).values(user);
}

/** The account is anonymous no more: call it in the transaction that gave it a way in of its own. */
export async function endAnonymity(tx: Queryable, userId: string): Promise<void> {
  await tx
    .update(userTable)
    .set({ isAnonymous: false })
    .where(and(eq(userTable.userId, userId), eq(userTable.isAnonymous, true)));
}

/** Whether the account is anonymous (false for one that does not exist). */
export async function isAnonymousUser(db: Queryable, userId: string): Promise<boolean> {
  const [row] = await db.select({ isAnonymous: userTable.isAnonymous }).from(userTable).where(eq(userTable.userId, userId));
  return row?.isAnonymous === true;
}

/** Throws ANONYMOUS_NOT_ALLOWED for an anonymous account: what follows is for upgraded ones only. */
export async function refuseAnonymous(db: Queryable, userId: string): Promise<void> {
  if (await isAnonymousUser(db, userId)) throw authError('ANONYMOUS_NOT_ALLOWED');
}
