import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { userTable } from '../../db/schema.js';

/*
 * Roles: what an account may do beyond its own data. They live in `users.roles`, which only the
 * server writes (`auth.grantRole`, `auth.revokeRole`): no procedure's input reaches the column, and
 * `meta`, which the user edits freely, never counts as one.
 */

/** The role that may invite users. */
export const ADMIN_ROLE = 'admin';

export async function hasRole(db: Queryable, userId: string, role: string): Promise<boolean> {
  const [row] = await db
    .select({ userId: userTable.userId })
    .from(userTable)
    .where(and(eq(userTable.userId, userId), sql`${role} = ANY(${userTable.roles})`));
  return row !== undefined;
}

/** Gives the user a role (once); false when there is no such user. */
export async function grantRole(db: Queryable, userId: string, role: string): Promise<boolean> {
  const updated = await db
    .update(userTable)
    .set({ roles: sql`CASE WHEN ${role} = ANY(${userTable.roles}) THEN ${userTable.roles} ELSE array_append(${userTable.roles}, ${role}) END` })
    .where(eq(userTable.userId, userId))
    .returning({ userId: userTable.userId });
  return updated.length > 0;
}

/** Takes a role away; false when there is no such user. */
export async function revokeRole(db: Queryable, userId: string, role: string): Promise<boolean> {
  const updated = await db
    .update(userTable)
    .set({ roles: sql`array_remove(${userTable.roles}, ${role})` })
    .where(eq(userTable.userId, userId))
    .returning({ userId: userTable.userId });
  return updated.length > 0;
}
