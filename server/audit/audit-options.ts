import { z } from 'zod';
import { functionOption } from '../option-types.js';
import type { AuditEventHook } from './audit-trail.js';

/** The audit trail: an event for every sign-in, refresh, revocation and account change (README, "Audit trail"). */
export const auditOptionsSchema = z.strictObject({
  /**
   * Called with every event, in order, after the request's own work; a returned promise is
   * awaited before the next event. A throw or a rejection is logged and changes no answer.
   */
  onEvent: functionOption<AuditEventHook>().optional(),
  /** Also keep the events in `auth_audit_events`, listed by `auth.admin.events.list`. @default false */
  store: z.boolean().default(false),
  /** Stored events older than this many days are deleted. @default 90 */
  retentionDays: z.number().int().min(1).max(3650).default(90),
});
