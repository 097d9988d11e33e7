import { and, eq, isNull, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
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

/** A password sign-in's proof, judged again where the session starts. */
export interface VerifiedPassword {
  /** The stored hash the password was verified against: the account's password must still be it. */
  verifiedHash: string;
  /** The password hashed again at the current parameters, to store in its place. */
  rehashed?: string;
}

/**
 * The part of a sign-in's statement that locks the user's row as `lockActiveUser` does and answers
 * its `user_id` if the user exists and is not disabled. With `password`, only while the account's
 * password is still the one verified (a change committed meanwhile wins); it then counts the sign-in
 * and stores the rehash. Under READ COMMITTED an UPDATE that waited for the row judges its WHERE
 * again on the row as the other transaction left it.
 */
export function admitActiveUser(userId: string, password: VerifiedPassword | null): SQL {
  if (password === null) return sql`SELECT user_id FROM ${userTable} WHERE user_id = ${userId} AND disabled_at IS NULL FOR NO KEY UPDATE`;
  const rehash = password.rehashed === undefined ? sql`` : sql`, password_hash = ${password.rehashed}`;
  return sql`
    UPDATE ${userTable} SET successful_login_attempts = successful_login_attempts + 1${rehash}
    WHERE user_id = ${userId} AND disabled_at IS NULL AND password_hash = ${password.verifiedHash}
    RETURNING user_id`;
}
