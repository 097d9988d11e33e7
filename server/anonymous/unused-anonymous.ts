import { and, eq, gt, lte, notExists, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { sessionTable, userTable } from '../../db/schema.js';
import { deleteUserIf } from '../accounts/account-deletion.js';
import type { AuthKernel } from '../kernel.js';

/*
 * Anonymous accounts nobody uses any more: neither changed (`updated_at`, which `updateUser` moves)
 * nor refreshed (a session's `last_used_at`) for `anonymous.deleteUnusedAfterSeconds`. The cleaner
 * deletes them a batch at a time, each through the verb an administrator's deletion uses, so every
 * token of theirs ends on every node, and each only if it is still unused as its row goes: one
 * refreshed meanwhile stays.
 */

/** Anonymous accounts untouched since `cutoff`, as a condition on the users table. */
function unusedSince(db: Queryable, cutoff: Date): SQL {
  const usedSessions = db
    .select({ one: sql`1` })
    .from(sessionTable)
    .where(and(eq(sessionTable.userId, userTable.userId), gt(sessionTable.lastUsedAt, cutoff)));
  return and(eq(userTable.isAnonymous, true), lte(userTable.updatedAt, cutoff), notExists(usedSessions)) as SQL;
}

/** Deletes up to `limit` unused anonymous accounts; returns how many went. */
export async function deleteUnusedAnonymousUsers(kernel: AuthKernel, batch: { nowMs: number; limit: number }): Promise<number> {
  const cutoff = new Date(batch.nowMs - kernel.options.anonymous.deleteUnusedAfterSeconds * 1000);
  const unused = unusedSince(kernel.db, cutoff);
  const found = await kernel.db.select({ userId: userTable.userId }).from(userTable).where(unused).limit(batch.limit);
  let deleted = 0;
  for (const { userId } of found) {
    if (await deleteUserIf(kernel, userId, { by: { kind: 'server' }, onlyIf: unused })) deleted++;
  }
  return deleted;
}
