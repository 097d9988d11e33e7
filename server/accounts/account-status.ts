import { and, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { userTable } from '../../db/schema.js';

/*
 * Whether an account may be in use: it exists and no administrator disabled it. A sign-in asks inside
 * the transaction that starts its session, holding the user's row, so it and a disable (or a
 * deletion) that lock the same row go one after the other: either the session starts first and the
 * disable ends it, or the disable commits first and the sign-in is refused.
 */

/** True when the user exists and is not disabled; locks the row until the transaction ends. */
export async function lockActiveUser(tx: Queryable, userId: string): Promise<boolean> {
  const [row] = await tx
    .select({ userId: userTable.userId })
    .from(userTable)
    .where(and(eq(userTable.userId, userId), isNull(userTable.disabledAt)))
    // Not FOR UPDATE: the row's key is not changing, so sessions inserted meanwhile (their foreign
    // key takes KEY SHARE) need not wait.
    .for('no key update');
  return row !== undefined;
}
