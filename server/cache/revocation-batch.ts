import type { Revocation } from './revocation-notice.js';

/*
 * Forgetting a revoked session is a pass over the whole token table (it is keyed by token, not by
 * session): at the default capacity, 150,000 slots, a few milliseconds. In a storm every node hears
 * every node's revocations, and one pass each cannot keep up: a notice waited behind the passes of
 * all the notices before it, for seconds. So the revocations that arrive together (one read of the
 * listener's socket brings many notices, one turn of the worker's message port many forgets) are
 * held to the end of that turn of the event loop, no timer, and forgotten in one pass for all
 * their sessions (and one per user). The more revocations come at once, the fewer passes each costs.
 */

/**
 * A pass compares every live entry with each of its sessions: past this many, another pass is
 * cheaper than longer comparisons.
 */
const SESSIONS_PER_PASS = 256;

/** Takes a revocation, and optionally what to do once it is applied. */
export type AddRevocation = (revocation: Revocation, applied?: () => void) => void;

/**
 * Gathers revocations and hands them to `forget` at the end of the current turn of the event loop,
 * merged: the sessions in passes of up to SESSIONS_PER_PASS, each user once.
 */
export function batchRevocations(forget: (revocation: Revocation) => void): AddRevocation {
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
    for (let from = 0; from < sessions.length; from += SESSIONS_PER_PASS) forget({ sessionIds: sessions.slice(from, from + SESSIONS_PER_PASS) });
    for (const userId of users) forget({ userId });
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
