import { z } from 'zod';
import { auditEventSchema } from './audit-events.js';
import { apiTokenInfoSchema, passwordSchema, publicUserSchema, sessionInfoSchema, textSchema } from './schemas.js';

/*
 * The zod schemas of the account lifecycle: `auth.admin.*` and `auth.deleteAccount`. Inputs are
 * strict, like every other procedure's.
 */

const userIdSchema = textSchema(64).min(1);
const pageLimit = z.number().int().min(1).max(100);
/** A moment to search by: within the years PostgreSQL and ISO 8601's four digits both carry. */
const searchDate = z.date().min(new Date('1970-01-01T00:00:00Z')).max(new Date('9999-12-31T23:59:59Z'));

/** A role name: `admin`, `support`, `billing:read`. */
export const roleSchema = z.string().regex(/^[a-z][a-z0-9_:.-]{0,31}$/, 'role: 1-32 of a-z 0-9 _ : . -, starting with a letter');

/** `password` counts as the recent authentication that deleting the account needs. */
export const deleteAccountInput = z.strictObject({ password: passwordSchema.optional() }).optional();

export const adminListUsersInput = z
  .strictObject({
    /** Part of an address or a username, or a whole user id. */
    query: textSchema(254).trim().min(1).optional(),
    createdAfter: searchDate.optional(),
    createdBefore: searchDate.optional(),
    /** Last seen: the latest use of any of the user's sessions. */
    lastSeenAfter: searchDate.optional(),
    lastSeenBefore: searchDate.optional(),
    disabled: z.boolean().optional(),
    /** The `nextCursor` of the page before: a creation time in microseconds (a bigint) and an id. */
    cursor: z
      .string()
      .regex(/^\d{1,18}\.[A-Za-z0-9-]{1,64}$/)
      .optional(),
    /** @default 50 */
    limit: pageLimit.optional(),
  })
  .optional();

export const adminUserIdInput = z.strictObject({ userId: userIdSchema });

/** `password` counts as the recent authentication a user administrator needs to change roles. */
export const adminRoleInput = z.strictObject({ userId: userIdSchema, role: roleSchema, password: passwordSchema.optional() });

export const adminListEventsInput = z
  .strictObject({
    userId: userIdSchema.optional(),
    /** The `nextCursor` of the page before: an event's id, within JavaScript's exact integers. */
    cursor: z
      .string()
      .regex(/^\d{1,15}$/)
      .optional(),
    /** @default 50 */
    limit: pageLimit.optional(),
  })
  .optional();

/** A user as an administrator sees it: the public user, its roles and whether and when it is in use. */
export const adminUserSchema = publicUserSchema.extend({
  roles: z.array(z.string()),
  disabled: z.boolean(),
  /** When the user's newest session started; null if none is left. */
  lastSignInAt: z.date().nullable(),
  /** When any of the user's sessions was last used; null if none is left. */
  lastSeenAt: z.date().nullable(),
});

export const adminUserListOutput = z.object({ users: z.array(adminUserSchema), nextCursor: z.string().nullable() });

/** An identity an OAuth provider vouches for, linked to the account. */
export const linkedIdentitySchema = z.object({ provider: z.string(), issuer: z.string(), subject: z.string(), email: z.string().nullable(), linkedAt: z.date() });

export const adminUserDetailOutput = z.object({
  user: adminUserSchema,
  sessions: z.array(sessionInfoSchema),
  apiTokens: z.array(apiTokenInfoSchema),
  identities: z.array(linkedIdentitySchema),
});

export const adminEventListOutput = z.object({
  events: z.array(z.intersection(auditEventSchema, z.object({ id: z.string() }))),
  nextCursor: z.string().nullable(),
});
