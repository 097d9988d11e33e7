import { and, desc, eq, lt } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { auditEventTable } from '../../db/schema.js';
import type { AuditEventRow } from '../../db/schema.js';
import { auditEventSchema } from '../../shared/audit-events.js';
import type { AuditEvent } from '../../shared/audit-events.js';

/*
 * The table `auth_audit_events`, when `audit.store` is on: events go in as rows in the order they
 * were emitted (the `id` orders them on each node), and come out newest first, a page at a time.
 */

/** A stored event: the event and the row id its page's cursor is made of. */
export type StoredAuditEvent = AuditEvent & { id: string };

const COMMON_FIELDS = new Set(['type', 'userId', 'sessionId', 'ip', 'userAgent', 'at']);

function toRow(event: AuditEvent): typeof auditEventTable.$inferInsert {
  const details = Object.fromEntries(Object.entries(event).filter(([key]) => !COMMON_FIELDS.has(key)));
  return { type: event.type, userId: event.userId, sessionId: event.sessionId, ip: event.ip, userAgent: event.userAgent, at: event.at, details };
}

function fromRow(row: AuditEventRow): StoredAuditEvent | null {
  const { id, details, ...common } = row;
  const parsed = auditEventSchema.safeParse({ ...details, ...common });
  // A row written by a newer release, with a type this one does not know, is left out.
  return parsed.success ? { ...parsed.data, id: String(id) } : null;
}

/** Writes events, in their order, in one statement. */
export async function storeAuditEvents(db: Queryable, events: readonly AuditEvent[]): Promise<void> {
  if (events.length > 0) await db.insert(auditEventTable).values(events.map(toRow));
}

/** Deletes the events older than `before`. */
export async function pruneAuditEvents(db: Queryable, before: Date): Promise<void> {
  await db.delete(auditEventTable).where(lt(auditEventTable.at, before));
}

/** Erases the address and user agent from every stored event of a user (the user is deleted). */
export async function scrubAuditEvents(db: Queryable, userId: string): Promise<void> {
  await db.update(auditEventTable).set({ ip: null, userAgent: null }).where(eq(auditEventTable.userId, userId));
}

/** A page of stored events, newest first, of one user or of all; `cursor` is the last page's `nextCursor`. */
export async function listAuditEvents(
  db: Queryable,
  query: { userId?: string; cursor?: string; limit: number },
): Promise<{ events: StoredAuditEvent[]; nextCursor: string | null }> {
  const conditions = [];
  if (query.userId !== undefined) conditions.push(eq(auditEventTable.userId, query.userId));
  if (query.cursor !== undefined) conditions.push(lt(auditEventTable.id, Number(query.cursor)));
  const rows = await db
    .select()
    .from(auditEventTable)
    .where(and(...conditions))
    .orderBy(desc(auditEventTable.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    events: page.map(fromRow).filter((event) => event !== null),
    nextCursor: rows.length > query.limit && last ? String(last.id) : null,
  };
}
