import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { userTable } from '../../db/schema.js';
import type { UserRow } from '../../db/schema.js';
import { withoutForbiddenKeys } from '../../shared/bounded-json.js';
import type { PublicUser } from '../../shared/types.js';

/** The user as clients see it: no hash, no pending-link marker, nothing secret. */
export function toPublicUser(row: UserRow): PublicUser {
  return {
    id: row.userId,
    username: row.username,
    email: row.email,
    emailConfirmed: row.confirmed,
    isAnonymous: row.isAnonymous,
    meta: withoutForbiddenKeys(row.meta),
    createdAt: row.insertedAt,
    updatedAt: row.updatedAt,
  };
}

export async function findUserById(db: Queryable, userId: string): Promise<UserRow | null> {
  const [row] = await db.select().from(userTable).where(eq(userTable.userId, userId));
  return row ?? null;
}

/** A user that has an address: any but an anonymous account that has not added one. */
export type UserWithAddress = UserRow & { email: string };

/** Expects the stored form of the address (trimmed, lower-cased), as `emailSchema` produces it. */
export async function findUserByEmail(db: Queryable, email: string): Promise<UserWithAddress | null> {
  const [row] = await db.select().from(userTable).where(eq(userTable.email, email));
  return row ? { ...row, email } : null;
}

/**
 * Usernames keep their spelling for display but are unique, and found, by a key that folds what
 * looks alike (`auth_username_key`, migration 0003): `Admin`, `admin.` and `adm1n` are one name. The
 * key being unique, any spelling of it names exactly the one account, so sign-in by username takes
 * any of them, as it always took any case.
 */
export async function findUserByUsername(db: Queryable, username: string): Promise<UserRow | null> {
  const [row] = await db
    .select()
    .from(userTable)
    .where(eq(sql`auth_kit.auth_username_key(${userTable.username})`, sql`auth_kit.auth_username_key(${username})`));
  return row ?? null;
}

/** Which unique column an insert or update collided on, if that is why it failed. */
export function uniqueViolation(error: unknown): 'email' | 'username' | null {
  const cause = (error as { cause?: unknown } | null)?.cause ?? error;
  const { code, constraint } = (cause ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== '23505') return null;
  if (constraint === 'users_email_unique') return 'email';
  if (constraint === 'users_username_key_unique') return 'username';
  return null;
}

/** The language the user's mail is written for: `meta.locale` when it is a string, else undefined. */
export function localeOf(user: { meta: unknown }): string | undefined {
  const locale = (user.meta as { locale?: unknown } | null)?.locale;
  return typeof locale === 'string' && locale.length <= 35 ? locale : undefined;
}
