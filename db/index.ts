/**
 * The kit's drizzle schema, the database connection (PostgreSQL through `pg`, or embedded PGlite)
 * and its migrations.
 * @module
 */
export {
  accessTokenTable,
  apiTokenTable,
  auditEventTable,
  AUTH_KIT_SCHEMA,
  authKitSchema,
  deviceTable,
  linkTokenTable,
  oauthFlowTable,
  oauthIdentityTable,
  rateLimitTable,
  sessionTable,
  userTable,
} from './schema.js';
export type { ApiTokenRow, LinkPurpose, SessionRow, UserRow } from './schema.js';
export { closeDatabase, connectDatabase } from './connect.js';
export type { AuthDatabase, DatabaseOptions } from './connect.js';
export { migrate } from './migrate.js';
