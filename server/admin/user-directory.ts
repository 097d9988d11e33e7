import { and, desc, eq, gte, ilike, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { sessionTable, userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import type { z } from 'zod';
import type { adminListUsersInput, adminUserDetailOutput, adminUserSchema } from '../../shared/admin-schemas.js';
import type { AuthKernel } from '../kernel.js';
import { toPublicUser } from '../accounts/users.js';
import { listIdentities } from '../oauth/identities.js';

/*
 * Finding users, for administrators: a search over address, username and id, with ranges of creation
 * and last use, newest first, a page at a time. The cursor is the last row's creation time (in
 * microseconds, as PostgreSQL keeps it) and id, so pages neither skip nor repeat a user when others
 * sign up meanwhile. Last sign-in and last use come from the user's sessions, so signing in writes
 * nothing more for them.
 */

export type AdminUser = z.infer<typeof adminUserSchema>;
export type UserSearch = NonNullable<z.input<typeof adminListUsersInput>>;
export type UserDetail = z.infer<typeof adminUserDetailOutput>;

const DEFAULT_PAGE = 50;

const lastSignInAt = sql<Date | null>`(SELECT max(${sessionTable.createdAt}) FROM ${sessionTable} WHERE ${sessionTable.userId} = ${userTable.userId})`;
const lastSeenAt = sql<Date | null>`(SELECT max(${sessionTable.lastUsedAt}) FROM ${sessionTable} WHERE ${sessionTable.userId} = ${userTable.userId})`;
const createdMicros = sql<string>`floor(extract(epoch from ${userTable.insertedAt}) * 1000000)::bigint`;

/** A subquery's timestamp arrives as text on some drivers: made a Date either way. */
function asDate(value: Date | string | null): Date | null {
  return value === null ? null : new Date(value);
}

function toAdminUser(row: UserRow, activity: { lastSignInAt: Date | string | null; lastSeenAt: Date | string | null }): AdminUser {
  return { ...toPublicUser(row), roles: row.roles, disabled: row.disabledAt !== null, lastSignInAt: asDate(activity.lastSignInAt), lastSeenAt: asDate(activity.lastSeenAt) };
}

/** LIKE's wildcards in a search term match themselves. */
function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (char) => `\\${char}`);
}

function conditionsOf(search: UserSearch): SQL[] {
  const conditions: SQL[] = [];
  if (search.query !== undefined) {
    const contains = `%${escapeLike(search.query)}%`;
    const matches = or(eq(userTable.userId, search.query), ilike(userTable.email, contains), ilike(userTable.username, contains));
    if (matches) conditions.push(matches);
  }
  if (search.createdAfter) conditions.push(gte(userTable.insertedAt, search.createdAfter));
  if (search.createdBefore) conditions.push(lte(userTable.insertedAt, search.createdBefore));
  if (search.lastSeenAfter) conditions.push(sql`${lastSeenAt} >= ${search.lastSeenAfter}`);
  if (search.lastSeenBefore) conditions.push(sql`${lastSeenAt} <= ${search.lastSeenBefore}`);
  if (search.disabled !== undefined) conditions.push(search.disabled ? isNotNull(userTable.disabledAt) : isNull(userTable.disabledAt));
  if (search.cursor !== undefined) {
    const dot = search.cursor.indexOf('.');
    conditions.push(sql`(${createdMicros}, ${userTable.userId}) < (${search.cursor.slice(0, dot)}::bigint, ${search.cursor.slice(dot + 1)})`);
  }
  return conditions;
}

/** A page of users matching `search`, newest first. */
export async function listUsers(db: Queryable, search: UserSearch): Promise<{ users: AdminUser[]; nextCursor: string | null }> {
  const limit = search.limit ?? DEFAULT_PAGE;
  const rows = await db
    .select({ user: userTable, lastSignInAt, lastSeenAt, createdMicros })
    .from(userTable)
    .where(and(...conditionsOf(search)))
    .orderBy(desc(createdMicros), desc(userTable.userId))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    users: page.map((row) => toAdminUser(row.user, row)),
    nextCursor: rows.length > limit && last ? `${last.createdMicros}.${last.user.userId}` : null,
  };
}

/** One user with their live sessions, API tokens and linked identities; null when there is no such user. */
export async function getUser(kernel: AuthKernel, userId: string): Promise<UserDetail | null> {
  const [row] = await kernel.db.select({ user: userTable, lastSignInAt, lastSeenAt }).from(userTable).where(eq(userTable.userId, userId));
  if (!row) return null;
  const [sessions, apiTokens, identities] = await Promise.all([kernel.sessions.list(userId, ''), kernel.apiTokens.list(userId), listIdentities(kernel.db, userId)]);
  return { user: toAdminUser(row.user, row), sessions, apiTokens, identities };
}
