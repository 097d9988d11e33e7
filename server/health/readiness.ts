import { sql } from 'drizzle-orm';
import type { AuthDatabase } from '../../db/connect.js';

/*
 * Whether this node should be sent traffic: the database answers, and the token cache can be
 * trusted (on PostgreSQL: its listener listens and flushed the cache after it last connected, so no
 * revocation made elsewhere can have gone unheard). A node that is not ready still answers
 * correctly, from the database, or with 503 when that is down; it is only slower or failing, and a
 * load balancer does better to send the request elsewhere.
 */

/** A node's readiness and why. */
export interface Readiness {
  ready: boolean;
  /** The database answered a query within `DATABASE_CHECK_TIMEOUT_MS`. */
  database: boolean;
  /** The token cache is trusted (see `TokenCache.trusted`). */
  tokenCache: boolean;
}

/** How long the database has to answer a readiness check; probes commonly give up after a second. */
export const DATABASE_CHECK_TIMEOUT_MS = 1000;

/** The readiness check of a node. At most one of its queries is in flight, however often it is asked. */
export function createReadinessCheck(deps: { db: AuthDatabase; cacheTrusted: () => boolean; closed: () => boolean }): () => Promise<Readiness> {
  let inFlight: Promise<boolean> | null = null;

  function databaseAnswers(): Promise<boolean> {
    // A stalled database holds its query for as long as the pool lets it; later checks wait on the same one.
    if (!inFlight) {
      inFlight = deps.db.execute(sql`SELECT 1`).then(
        () => true,
        () => false,
      );
      void inFlight.then(() => (inFlight = null));
    }
    const query = inFlight;
    return new Promise((resolve) => {
      const giveUp = setTimeout(() => resolve(false), DATABASE_CHECK_TIMEOUT_MS);
      void query.then((answered) => {
        clearTimeout(giveUp);
        resolve(answered);
      });
    });
  }

  return async function readiness() {
    if (deps.closed()) return { ready: false, database: false, tokenCache: false };
    const database = await databaseAnswers();
    const tokenCache = deps.cacheTrusted();
    return { ready: database && tokenCache, database, tokenCache };
  };
}
