import type { Revocation } from './revocation-notice.js';

/*
 * Forgetting a session walks its chain in the token table, a few slots; forgetting a user is a pass
 * over the whole table (at the default capacity 147,000 slots, a few milliseconds), since the table
 * keeps no chains by user. In a storm every node hears every node's revocations, and a pass for each
 * user would queue the notices behind one another. So the revocations that arrive together (one read
 * of the listener's socket brings many notices, one turn of the worker's message port many forgets)
 * are held to the end of that turn of the event loop, no timer, and applied at once: the sessions in
 * one walk of their chains, the users in one pass between them.
 */

/** What the batch applies revocations to: the token table's two ways of forgetting. */
export interface Forgetting {
  forgetSessions(sessionIds: readonly string[]): unknown;
  forgetUsers(userIds: readonly string[]): unknown;
}

/** Takes a revocation, and optionally what to do once it is applied. */
export type AddRevocation = (revocation: Revocation, applied?: () => void) => void;

/** Gathers revocations and applies them to `table` at the end of the current turn of the event loop, merged. */
export function batchRevocations(table: Forgetting): AddRevocation {
  let sessionIds: string[] = [];
  let userIds = new Set<string>();
  let whenApplied: Array<() => void> = [];
  let scheduled = false;

  function applyAll(): void {
    const sessions = sessionIds;
    const users = userIds;
    const callbacks = whenApplied;
    sessionIds = [];
    userIds = new Set();
    whenApplied = [];
    scheduled = false;
    if (sessions.length > 0) table.forgetSessions(sessions);
    if (users.size > 0) table.forgetUsers([...users]);
    for (const callback of callbacks) callback();
  }

  return function addRevocation(revocation, applied) {
    if ('userId' in revocation) userIds.add(revocation.userId);
    else for (const id of revocation.sessionIds) sessionIds.push(id);
    if (applied) whenApplied.push(applied);
    if (!scheduled) {
      scheduled = true;
      setImmediate(applyAll);
    }
  };
}
