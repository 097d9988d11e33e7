import { z } from 'zod';

/*
 * The audit trail's events: what happened to an account, when, from where. Each carries the user,
 * the session it concerns, the client's address and user agent, and the time; its type adds a few
 * plain fields (a method, a reason, a scope, an id). None ever holds a token, a hash, a link or a
 * password: the kit builds every event from ids and fixed words only.
 */

/** Who acted on an account from outside it: a Basic client of the admin realm, an admin user, or the server's own code. */
export const auditActorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('client'), clientId: z.string() }),
  z.object({ kind: z.literal('user'), userId: z.string() }),
  z.object({ kind: z.literal('server') }),
]);
export type AuditActor = z.infer<typeof auditActorSchema>;

const signInMethod = z.enum(['password', 'confirm-email', 'magic-link', 'invite', 'registration', 'oauth', 'anonymous']);
/** Why a sign-in failed; `unknown-account` has no user. */
const signInFailure = z.enum(['unknown-account', 'wrong-password', 'locked', 'email-not-confirmed', 'disabled', 'credentials-changed']);

const common = {
  userId: z.string().nullable(),
  sessionId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  at: z.date(),
};

/** Every event the kit emits, by `type`. */
export const auditEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('signed-up'), ...common }),
  z.object({ type: z.literal('signed-in'), ...common, method: signInMethod }),
  z.object({ type: z.literal('sign-in-failed'), ...common, reason: signInFailure }),
  z.object({ type: z.literal('refreshed'), ...common }),
  z.object({ type: z.literal('refresh-token-reused'), ...common }),
  z.object({ type: z.literal('signed-out'), ...common, scope: z.enum(['current', 'others', 'all']) }),
  z.object({ type: z.literal('session-revoked'), ...common, reason: z.string() }),
  z.object({ type: z.literal('password-changed'), ...common }),
  z.object({ type: z.literal('password-reset'), ...common }),
  z.object({ type: z.literal('email-changed'), ...common }),
  z.object({ type: z.literal('api-token-created'), ...common, apiTokenId: z.string(), scopes: z.array(z.string()) }),
  z.object({ type: z.literal('api-token-revoked'), ...common, apiTokenId: z.string() }),
  z.object({ type: z.literal('role-granted'), ...common, role: z.string(), by: auditActorSchema }),
  z.object({ type: z.literal('role-revoked'), ...common, role: z.string(), by: auditActorSchema }),
  z.object({ type: z.literal('user-disabled'), ...common, by: auditActorSchema }),
  z.object({ type: z.literal('user-enabled'), ...common, by: auditActorSchema }),
  z.object({ type: z.literal('sessions-ended'), ...common, by: auditActorSchema }),
  z.object({ type: z.literal('user-deleted'), ...common, by: z.union([auditActorSchema, z.object({ kind: z.literal('self') })]) }),
  z.object({ type: z.literal('oauth-linked'), ...common, provider: z.string() }),
  z.object({ type: z.literal('oauth-unlinked'), ...common, provider: z.string() }),
]);

/** One event of the audit trail, as `onEvent` receives it and `admin.events.list` lists it. */
export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditEventType = AuditEvent['type'];
/** Why a sign-in failed, as `sign-in-failed` says. */
export type SignInFailureReason = z.infer<typeof signInFailure>;
