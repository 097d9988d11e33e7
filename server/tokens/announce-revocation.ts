import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { REVOCATION_CHANNEL, encodeRevocation } from '../cache/revocation-notice.js';
import type { Revocation } from '../cache/revocation-notice.js';

/**
 * Tells every node, from inside the revoking transaction, what ended: the notice goes out exactly
 * when the revocation commits, and not at all if it rolls back. The caller clears this node's cache
 * (`TokenCache.forget`) once the transaction has committed.
 */
export async function announceRevocation(tx: Queryable, revocation: Revocation): Promise<void> {
  // The wall clock, not the injected one: listeners compare it with theirs to measure propagation.
  for (const payload of encodeRevocation(revocation, Date.now())) {
    await tx.execute(sql`SELECT pg_notify(${REVOCATION_CHANNEL}, ${payload})`);
  }
}

/**
 * The `pg_notify` call announcing `revocation`, for the statement that revokes to carry (in its
 * select list, once per revoked row): the notice then goes out exactly when that statement commits,
 * and nothing at all when it revoked nothing. Only for a revocation of one payload (a user, or a
 * few sessions); many sessions take {@link announceRevocation}.
 */
export function revocationAnnouncement(revocation: Revocation): SQL<unknown> {
  const [payload, ...more] = encodeRevocation(revocation, Date.now());
  if (payload === undefined || more.length > 0) throw new Error('revocationAnnouncement: the revocation does not fit one notice');
  return sql`pg_notify(${REVOCATION_CHANNEL}, ${payload})`;
}
