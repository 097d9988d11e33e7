import { lte, or, sql } from 'drizzle-orm';
import type { SQL, SQLWrapper } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Queryable } from '../../db/connect.js';
import { accessTokenTable, apiTokenTable, linkTokenTable, oauthFlowTable, rateLimitTable, sessionTable } from '../../db/schema.js';

/*
 * Which rows nothing will use again, table by table, and the statement that deletes a batch of them.
 * Ended rows (a revoked or expired session or API token, an expired access token or link) are kept
 * a while first: a client that comes back with one is told it expired or was revoked, as before,
 * rather than that it names nothing (which the client SDK takes for a signed-out session and the
 * token limits count as a guess). A rate-limit counter goes once its window is over under the
 * longest limit: a hit would start it afresh then anyway. A spent link is deleted when it is spent
 * (link-tokens.ts), a finished OAuth flow when its callback comes (flow-store.ts); an expired flow
 * goes at once, since a callback that finds it expired is refused just as one that finds nothing.
 *
 * No column here has an index for the cleaner: a run reads each table about once, every
 * `cleanup.intervalMs`, while an index on `last_used_at` or `expires_at` would be written by every
 * refresh (and would cost the session row its in-place updates). Where the rows are few, the scan
 * is cheap; where they are many, the refreshes that made them are what must stay cheap. (An OAuth
 * flow is written once and never updated, so its `expires_at` index costs no refresh anything.)
 */

/** The tables the cleaner keeps small. */
export const CLEANED_TABLES = ['sessions', 'accessTokens', 'links', 'apiTokens', 'rateLimits', 'oauthFlows'] as const;
export type CleanedTable = (typeof CLEANED_TABLES)[number];

/** What makes a row stale. */
export interface StalePolicy {
  /** How long an ended row is kept after it ended. */
  keepEndedSeconds: number;
  accessTokenTtlSeconds: number;
  refreshIdleTimeoutSeconds: number | null;
  /** The longest window of any rate limit: a counter older than that counts for none. */
  counterLifetimeSeconds: number;
}

const secondsBefore = (nowMs: number, seconds: number) => new Date(nowMs - seconds * 1000);

/**
 * `column` is among what the batch's locking select found. As `IN (subquery)` the planner may run the
 * subquery again for each row it joins, and each run of a `LIMIT … SKIP LOCKED` select finds other
 * rows: one DELETE took 450 rows for a batch of 100. An `ARRAY(subquery)` is an init plan, run once.
 */
function oneOf(column: AnyPgColumn, stale: SQLWrapper): SQL {
  return sql`${column} = ANY(ARRAY(${stale}))`;
}

function staleSessions(policy: StalePolicy, nowMs: number): SQL {
  const endedBefore = secondsBefore(nowMs, policy.keepEndedSeconds);
  const ended = [lte(sessionTable.revokedAt, endedBefore), lte(sessionTable.expiresAt, endedBefore)];
  if (policy.refreshIdleTimeoutSeconds !== null) {
    // An idle session's last access token may outlive its refresh token; it goes once both are over.
    const keptSeconds = Math.max(policy.keepEndedSeconds, policy.accessTokenTtlSeconds);
    ended.push(lte(sessionTable.lastUsedAt, secondsBefore(nowMs, policy.refreshIdleTimeoutSeconds + keptSeconds)));
  }
  return or(...ended) as SQL;
}

/** Deletes up to `limit` stale rows of `table` (rows another transaction holds are left for next time); returns how many went. */
export async function deleteStaleBatch(tx: Queryable, table: CleanedTable, options: { policy: StalePolicy; nowMs: number; limit: number }): Promise<number> {
  const { policy, nowMs, limit } = options;
  const endedBefore = secondsBefore(nowMs, policy.keepEndedSeconds);
  switch (table) {
    case 'sessions': {
      // The session's access tokens go with it (ON DELETE CASCADE).
      const stale = tx.select({ id: sessionTable.id }).from(sessionTable).where(staleSessions(policy, nowMs)).limit(limit).for('update', { skipLocked: true });
      return (await tx.delete(sessionTable).where(oneOf(sessionTable.id, stale)).returning({ id: sessionTable.id })).length;
    }
    case 'accessTokens': {
      const stale = tx
        .select({ selector: accessTokenTable.selector })
        .from(accessTokenTable)
        .where(lte(accessTokenTable.expiresAt, endedBefore))
        .limit(limit)
        .for('update', { skipLocked: true });
      return (await tx.delete(accessTokenTable).where(oneOf(accessTokenTable.selector, stale)).returning({ selector: accessTokenTable.selector })).length;
    }
    case 'links': {
      const stale = tx
        .select({ selector: linkTokenTable.selector })
        .from(linkTokenTable)
        .where(lte(linkTokenTable.expiresAt, endedBefore))
        .limit(limit)
        .for('update', { skipLocked: true });
      return (await tx.delete(linkTokenTable).where(oneOf(linkTokenTable.selector, stale)).returning({ selector: linkTokenTable.selector })).length;
    }
    case 'apiTokens': {
      const stale = tx
        .select({ id: apiTokenTable.id })
        .from(apiTokenTable)
        .where(or(lte(apiTokenTable.revokedAt, endedBefore), lte(apiTokenTable.expiresAt, endedBefore)))
        .limit(limit)
        .for('update', { skipLocked: true });
      return (await tx.delete(apiTokenTable).where(oneOf(apiTokenTable.id, stale)).returning({ id: apiTokenTable.id })).length;
    }
    case 'rateLimits': {
      const stale = tx
        .select({ key: rateLimitTable.key })
        .from(rateLimitTable)
        .where(lte(rateLimitTable.windowStartedAt, secondsBefore(nowMs, policy.counterLifetimeSeconds)))
        .limit(limit)
        .for('update', { skipLocked: true });
      return (await tx.delete(rateLimitTable).where(oneOf(rateLimitTable.key, stale)).returning({ key: rateLimitTable.key })).length;
    }
    case 'oauthFlows': {
      const stale = tx
        .select({ stateHash: oauthFlowTable.stateHash })
        .from(oauthFlowTable)
        .where(lte(oauthFlowTable.expiresAt, new Date(nowMs)))
        .limit(limit)
        .for('update', { skipLocked: true });
      return (await tx.delete(oauthFlowTable).where(oneOf(oauthFlowTable.stateHash, stale)).returning({ stateHash: oauthFlowTable.stateHash })).length;
    }
  }
}

/** The advisory lock one cleaning batch holds, so that one node cleans at a time. */
const CLEANUP_LOCK_SPACE = 0x636c;

/** Takes the cleaning lock for the rest of the transaction, if no other node holds it; says whether it did. */
export async function tryCleanupLock(tx: Queryable): Promise<boolean> {
  const [row] = await tx.select({ locked: sql<boolean>`pg_try_advisory_xact_lock(${CLEANUP_LOCK_SPACE}, 0)` }).from(sql`(VALUES (1)) AS one (x)`);
  return row?.locked === true;
}
