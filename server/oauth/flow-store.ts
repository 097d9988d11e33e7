import { and, desc, eq, ne, notInArray } from 'drizzle-orm';
import type { AuthDatabase } from '../../db/connect.js';
import { oauthFlowTable } from '../../db/schema.js';
import type { OAuthFlowRow } from '../../db/schema.js';

/** How long a flow may take, from `oauth.start` to the callback. */
export const FLOW_TTL_MS = 10 * 60 * 1000;
/** Flows one browser may have under way; starting another forgets the oldest. */
const FLOWS_PER_BROWSER = 5;

/** Records a flow; forgets this browser's oldest beyond its allowance (the cleaner deletes expired ones). */
export async function saveFlow(db: AuthDatabase, flow: OAuthFlowRow): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(oauthFlowTable).values(flow);
    // This flow and the newest others are kept; by exclusion, since flows can share a time.
    const others = and(eq(oauthFlowTable.browserHash, flow.browserHash), ne(oauthFlowTable.stateHash, flow.stateHash));
    const newestOthers = tx
      .select({ stateHash: oauthFlowTable.stateHash })
      .from(oauthFlowTable)
      .where(others)
      .orderBy(desc(oauthFlowTable.createdAt))
      .limit(FLOWS_PER_BROWSER - 1);
    await tx.delete(oauthFlowTable).where(and(others, notInArray(oauthFlowTable.stateHash, newestOthers)));
  });
}

/**
 * Spends the flow of this state and browser: deleted as it is read, so a second callback with the
 * same state (a replay, or two at once) finds nothing and sends no second request to the provider.
 * Null when there is none, or it expired.
 */
export async function takeFlow(db: AuthDatabase, key: { stateHash: string; browserHash: string; now: number }): Promise<OAuthFlowRow | null> {
  const [flow] = await db
    .delete(oauthFlowTable)
    .where(and(eq(oauthFlowTable.stateHash, key.stateHash), eq(oauthFlowTable.browserHash, key.browserHash)))
    .returning();
  if (!flow || flow.expiresAt.getTime() <= key.now) return null;
  return flow;
}
