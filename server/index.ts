/**
 * The server side of the kit: `createAuth` and what an application needs around it.
 * @module
 */
export { createAuth } from './create-auth.js';
export type { AppContextBuilder } from './create-auth.js';
export type { Auth } from './create-auth.js';
export type { AuthOptions } from './options.js';
export type { AuthRouter } from './auth-router.js';
export type { RefusalGate, RefusalGateOptions } from './middleware/refusal-gate.js';
export type { AccessAuthorization } from './tokens/access-tokens.js';
export type { AuthUser, AuthSession } from './middleware/bearer.js';
export type { BasicClient } from './basic/basic-check.js';
export type { OAuthOptions, OAuthProviderOptions } from './oauth/oauth-options.js';
export type { BasicErrorVerbosity, BasicOptions, FindClientSecret } from './basic/basic-options.js';
export type { AuthBaseContext, AuthContextOptions, AuthRequest } from './context.js';
export type { Clock, Logger, PasswordCheck, PasswordHasher, RandomSource } from './deps.js';
export { CLOCK_SKEW_BOUND_MS, databaseClock } from './database-clock.js';
export type { ClockStats, DatabaseClockRequest } from './database-clock.js';
export type { MailTemplates, MailTransport, RenderedMail } from './mail/mailer.js';
export type { CachedAccessToken, TokenCache } from './cache/token-cache.js';
export type { AuthMetrics } from './metrics/auth-metrics.js';
export type { Readiness } from './health/readiness.js';
export type { CleanupRun } from './cleanup/cleaner.js';
export type { AuditEventHook } from './audit/audit-trail.js';
export type { StoredAuditEvent } from './audit/audit-store.js';
export type { ServerAdmin } from './admin/server-admin.js';
export type { AdminUser, UserDetail, UserSearch } from './admin/user-directory.js';
export type { AuditActor, AuditEvent, AuditEventType } from '../shared/audit-events.js';
export { AuthError, authErrorFormatter } from './errors.js';
export type { AuthErrorShape } from './errors.js';
export { authTransformer } from './trpc.js';
