import type { AuthDatabase } from '../../db/connect.js';
import type { AuditEvent } from '../../shared/audit-events.js';
import type { AuthRequest } from '../context.js';
import type { Clock, Logger } from '../deps.js';
import { pruneAuditEvents, scrubAuditEvents, storeAuditEvents } from './audit-store.js';
import { currentRequest } from './request-scope.js';

/*
 * The audit trail. The kit's verbs emit an event for what they did (a sign-in, a refresh, a revoked
 * session, a disabled account); the trail stamps it with the time and the client (the request being
 * served, request-scope.ts) and hands it, after the answer's own work, to the application's
 * `onEvent` and, with `audit.store`, to the table. Events reach both in the order they were emitted.
 *
 * Nothing here can fail or slow a request: emitting only queues; a hook that throws, rejects or takes
 * longer than HOOK_TIMEOUT_MS is logged and passed over; a table write that fails is logged. A queue
 * that overflows (a hook or a database far behind) drops what no longer fits, and logs it.
 */

/** An event as a verb emits it: the trail adds the client and the time. */
export type AuditEventInput = AuditEvent extends infer TEvent ? (TEvent extends AuditEvent ? Omit<TEvent, 'ip' | 'userAgent' | 'at'> : never) : never;

/** The application's hook: any event, as it happens. A returned promise is awaited before the next event. */
export type AuditEventHook = (event: AuditEvent) => void | Promise<void>;

export interface AuditTrail {
  /** Queues an event; `request` (by default the one being served) names the client. */
  emit(event: AuditEventInput, request?: AuthRequest): void;
  /** Resolves once every event emitted so far has been delivered and stored. */
  drain(): Promise<void>;
}

const MAX_PENDING = 10_000;
const HOOK_TIMEOUT_MS = 5000;
const PRUNE_EVERY_MS = 3_600_000;
const USER_AGENT_MAX = 512;

export function createAuditTrail(deps: {
  db: AuthDatabase;
  clock: Clock;
  logger: Logger;
  onEvent: AuditEventHook | null;
  /** Null when events are not stored. */
  store: { retentionDays: number } | null;
}): AuditTrail {
  const { db, clock, logger, onEvent, store } = deps;
  let pending: AuditEvent[] = [];
  let delivering: Promise<void> | null = null;
  let lastPrunedAt = -Infinity;

  async function callHook(hook: AuditEventHook, event: AuditEvent): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, HOOK_TIMEOUT_MS, 'late')));
    try {
      const outcome = await Promise.race([Promise.resolve(hook(event)), late]);
      if (outcome === 'late') logger.error('audit onEvent took too long; going on without it', { event: event.type });
    } catch (error) {
      logger.error('audit onEvent failed', { event: event.type, error: String(error) });
    } finally {
      clearTimeout(timer);
    }
  }

  async function write(events: AuditEvent[], retentionDays: number): Promise<void> {
    try {
      await storeAuditEvents(db, events);
      // A deleted user's events stay, but no longer say where they came from.
      for (const event of events) if (event.type === 'user-deleted' && event.userId !== null) await scrubAuditEvents(db, event.userId);
      const now = clock.now();
      if (now - lastPrunedAt >= PRUNE_EVERY_MS) {
        lastPrunedAt = now;
        await pruneAuditEvents(db, new Date(now - retentionDays * 86_400_000));
      }
    } catch (error) {
      logger.error('audit events not stored', { events: events.length, error: String(error) });
    }
  }

  async function deliver(): Promise<void> {
    // Never on the stack of the request that emitted: its answer goes first.
    await new Promise((resolve) => setImmediate(resolve));
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      const written = store ? write(batch, store.retentionDays) : null;
      if (onEvent) for (const event of batch) await callHook(onEvent, event);
      await written;
    }
    delivering = null;
  }

  return {
    emit(input, request = currentRequest()) {
      if (!onEvent && !store) return;
      if (pending.length >= MAX_PENDING) {
        logger.error('audit event dropped: the queue is full', { event: input.type });
        return;
      }
      const event = Object.freeze({
        ...input,
        ip: request?.ip ?? null,
        userAgent: request?.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
        at: new Date(clock.now()),
      }) as AuditEvent;
      pending.push(event);
      delivering ??= deliver();
    },
    async drain() {
      while (delivering) await delivering;
    },
  };
}
