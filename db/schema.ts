import { sql } from 'drizzle-orm';
import type { AuditEventType } from '../shared/audit-events.js';
import { bigserial, boolean, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

/*
 * The kit's tables. Every column that guards a secret holds a SHA-256 of it, never the secret, so a
 * copy of the database holds no usable token or link.
 */

/**
 * The PostgreSQL schema every kit table (and its migrations' journal) lives in, beside the
 * application's own: an application's `public.users` and the kit's `auth_kit.users` never meet.
 */
export const AUTH_KIT_SCHEMA = 'auth_kit';
export const authKitSchema = pgSchema(AUTH_KIT_SCHEMA);

const timestampTz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Users, with the columns of the AccessPass users table. */
export const userTable = authKitSchema.table(
  'users',
  {
    userId: text('user_id').primaryKey(),
    username: varchar('username', { length: 20 }),
    meta: jsonb('meta').$type<Record<string, unknown>>().notNull().default({}),
    /** Stored trimmed and lower-cased; lookups use the same form. Null for an anonymous account until it adds one. */
    email: text('email').unique(),
    /** argon2id PHC string; null for an account that has no password (invited, OAuth). */
    passwordHash: text('password_hash'),
    successfulLoginAttempts: integer('successful_login_attempts').notNull().default(0),
    /** Selector of the one confirmation link that may still confirm this address. */
    confirmId: text('confirm_id'),
    /** Selector of the one password-reset link that may still be used. */
    passwordResetKey: text('password_reset_key'),
    passwordResetExpire: timestampTz('password_reset_expire'),
    confirmed: boolean('confirmed').notNull().default(false),
    /**
     * What the account may do beyond its own data (`admin` may invite). Set only on the server
     * (`auth.grantRole`): no procedure's input reaches it, unlike `meta`, which the user edits.
     */
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    /**
     * An account `signInAnonymously` made, until it is upgraded: its address confirmed through the
     * mailed link (`changeEmail`), or an OAuth identity linked (server/anonymous/).
     */
    isAnonymous: boolean('is_anonymous').notNull().default(false),
    /** Set while an administrator keeps the account out: no token works and no sign-in succeeds. */
    disabledAt: timestampTz('disabled_at'),
    insertedAt: timestampTz('inserted_at').notNull().defaultNow(),
    updatedAt: timestampTz('updated_at').notNull().defaultNow(),
  },
  // Unique by a key that folds what looks alike (`Admin`, `admin.`, `adm1n`): the function, written
  // by hand in the first migration, says which.
  (table) => [
    uniqueIndex('users_username_key_unique').on(sql`auth_kit.auth_username_key(${table.username})`),
    // The cleaner looks for anonymous accounts left unused (server/anonymous/unused-anonymous.ts).
    index('users_anonymous_updated_at_idx').on(table.updatedAt).where(sql`${table.isAnonymous}`),
  ],
);

/**
 * Sessions: one per sign-in, the unit of revocation. The session's refresh token rotates on every
 * use; the row remembers the verifier it replaced, for the grace window, and the successor sealed
 * under that verifier, so a retry inside the window gets the same successor back.
 */
export const sessionTable = authKitSchema.table(
  'auth_sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => userTable.userId, { onDelete: 'cascade' }),
    refreshSelector: text('refresh_selector').notNull().unique(),
    refreshVerifierHash: text('refresh_verifier_hash').notNull(),
    previousVerifierHash: text('previous_verifier_hash'),
    successorSeal: text('successor_seal'),
    rotatedAt: timestampTz('rotated_at'),
    /** Retries of the replaced token answered since `rotatedAt` (each mints an access token): bounded. */
    graceRetries: integer('grace_retries').notNull().default(0),
    /**
     * The start of the session's current window of refreshes, and the refreshes answered in it
     * (rotations and grace retries): how often one session may rotate is bounded (the `refreshLimit` option).
     */
    refreshWindowStartedAt: timestampTz('refresh_window_started_at'),
    refreshesInWindow: integer('refreshes_in_window').notNull().default(0),
    createdAt: timestampTz('created_at').notNull(),
    lastUsedAt: timestampTz('last_used_at').notNull(),
    /** The absolute end of the session; null when refresh tokens never expire. */
    expiresAt: timestampTz('expires_at'),
    revokedAt: timestampTz('revoked_at'),
    revokeReason: text('revoke_reason'),
    userAgent: text('user_agent'),
    ip: text('ip'),
  },
  (table) => [index('auth_sessions_user_id_idx').on(table.userId)],
);

/** Access tokens, each tied to the session that issued it. */
export const accessTokenTable = authKitSchema.table(
  'auth_access_tokens',
  {
    selector: text('selector').primaryKey(),
    verifierHash: text('verifier_hash').notNull(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessionTable.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    expiresAt: timestampTz('expires_at').notNull(),
  },
  (table) => [index('auth_access_tokens_session_id_idx').on(table.sessionId)],
);

/** Tokens mailed in links (email confirmation and the flows that follow), bound to one address. */
export const linkTokenTable = authKitSchema.table(
  'auth_link_tokens',
  {
    selector: text('selector').primaryKey(),
    purpose: text('purpose').$type<LinkPurpose>().notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => userTable.userId, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    verifierHash: text('verifier_hash').notNull(),
    expiresAt: timestampTz('expires_at').notNull(),
    createdAt: timestampTz('created_at').notNull(),
  },
  (table) => [index('auth_link_tokens_user_id_idx').on(table.userId)],
);

/**
 * Personal API tokens (`pat_…`): long-lived bearer tokens a user makes for scripts, each with a
 * name, the scopes it may use and an expiry. Revoking one goes through the same notice as a session
 * (its id stands where a session id would), so every node refuses it at once.
 */
export const apiTokenTable = authKitSchema.table(
  'auth_api_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => userTable.userId, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    selector: text('selector').notNull().unique(),
    verifierHash: text('verifier_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: timestampTz('created_at').notNull(),
    lastUsedAt: timestampTz('last_used_at'),
    expiresAt: timestampTz('expires_at').notNull(),
    revokedAt: timestampTz('revoked_at'),
    revokeReason: text('revoke_reason'),
  },
  (table) => [index('auth_api_tokens_user_id_idx').on(table.userId)],
);

/**
 * Rate-limit counters, one fixed window per key, kept in the database so that every node counts
 * against the same allowance and a restart forgets nothing. Keys are SHA-256 digests: the table
 * holds no address.
 */
export const rateLimitTable = authKitSchema.table('auth_rate_limits', {
  key: text('key').primaryKey(),
  windowStartedAt: timestampTz('window_started_at').notNull(),
  hits: integer('hits').notNull(),
});

/**
 * Devices: browsers that signed in to an account, each known by the random `__Host-auth-device`
 * cookie it holds (its SHA-256 here). A browser signed in to several accounts keeps one cookie and
 * has a row for each. A known device is spared the lock strangers can put on an account
 * (throttles.ts); it is no credential, since the password is still checked.
 */
export const deviceTable = authKitSchema.table(
  'auth_devices',
  {
    cookieHash: text('cookie_hash').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => userTable.userId, { onDelete: 'cascade' }),
    createdAt: timestampTz('created_at').notNull(),
    lastSignedInAt: timestampTz('last_signed_in_at').notNull(),
  },
  (table) => [primaryKey({ columns: [table.cookieHash, table.userId] }), index('auth_devices_user_id_idx').on(table.userId)],
);

/**
 * The audit trail, when `audit.store` is on: one row per event (server/audit/), newest by `id`.
 * `user_id` is no reference: the rows of a deleted user stay, without their address and user agent
 * (account-deletion.ts). Rows older than `audit.retentionDays` go.
 */
export const auditEventTable = authKitSchema.table(
  'auth_audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type').$type<AuditEventType>().notNull(),
    userId: text('user_id'),
    sessionId: text('session_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    at: timestampTz('at').notNull(),
    /** What the event's type adds (a method, a reason, a scope), never a secret. */
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (table) => [index('auth_audit_events_user_id_idx').on(table.userId, table.id), index('auth_audit_events_at_idx').on(table.at)],
);

/**
 * OAuth and OpenID Connect flows under way, one per `oauth.start` or `oauth.link`, spent by the
 * callback (deleted as it is read) and good for ten minutes. The row is found by the SHA-256 of the
 * `state` sent to the provider and of the browser's `__Host-auth-oauth` cookie together, so a flow
 * started in one browser cannot be finished in another. The PKCE verifier and the nonce are not
 * kept: they are derived from that cookie and the state (server/oauth/flow-secrets.ts).
 */
export const oauthFlowTable = authKitSchema.table(
  'auth_oauth_flows',
  {
    stateHash: text('state_hash').primaryKey(),
    browserHash: text('browser_hash').notNull(),
    /** The provider's name in the options, and the issuer it had when the flow started. */
    provider: text('provider').notNull(),
    issuer: text('issuer').notNull(),
    redirectUri: text('redirect_uri').notNull(),
    /** Where the app sends the browser once signed in; already checked against the allowlist. */
    returnTo: text('return_to').notNull(),
    /** Set for `oauth.link`: the account the identity joins instead of signing in. */
    linkUserId: text('link_user_id').references(() => userTable.userId, { onDelete: 'cascade' }),
    createdAt: timestampTz('created_at').notNull(),
    expiresAt: timestampTz('expires_at').notNull(),
  },
  (table) => [index('auth_oauth_flows_browser_hash_idx').on(table.browserHash), index('auth_oauth_flows_expires_at_idx').on(table.expiresAt)],
);

/**
 * Identities at OAuth and OpenID Connect providers, each the provider's (issuer, subject): never an
 * address, which a provider may let anyone claim. One account may hold several.
 */
export const oauthIdentityTable = authKitSchema.table(
  'auth_oauth_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => userTable.userId, { onDelete: 'cascade' }),
    /** The provider's name in the options when it was linked, as `oauth.identities` shows it. */
    provider: text('provider').notNull(),
    /** The address the provider gave at the last sign-in, for display only: nothing is matched by it. */
    email: text('email'),
    linkedAt: timestampTz('linked_at').notNull(),
    lastSignedInAt: timestampTz('last_signed_in_at').notNull(),
  },
  (table) => [primaryKey({ columns: [table.issuer, table.subject] }), index('auth_oauth_identities_user_id_idx').on(table.userId)],
);

/** What a mailed link is for. */
export type LinkPurpose = 'confirm-email' | 'reset-password' | 'magic-link' | 'change-email' | 'invite';

export type UserRow = typeof userTable.$inferSelect;
export type SessionRow = typeof sessionTable.$inferSelect;
export type ApiTokenRow = typeof apiTokenTable.$inferSelect;
export type AuditEventRow = typeof auditEventTable.$inferSelect;
export type OAuthFlowRow = typeof oauthFlowTable.$inferSelect;
export type OAuthIdentityRow = typeof oauthIdentityTable.$inferSelect;
