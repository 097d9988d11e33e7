import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { accessTokenTable, sessionTable } from '../../db/schema.js';
import type { AccessTokenDraft } from '../tokens/access-tokens.js';

/*
 * The refresh of a session's current token, as one statement: the UPDATE locks the session's row,
 * compares the presented verifier's hash with the current one and checks the session is live, writes
 * the successor, and the same statement deletes the session's spent access tokens and inserts the
 * new one. One round trip holds the lock, and everything random or hashed was drawn before it.
 *
 * Under READ COMMITTED an UPDATE that waited for another's lock on the row judges its WHERE again
 * on the row as the other left it: of two refreshes of one token at once, exactly one rotates, and
 * the other finds the hash moved on and matches nothing. A statement that rotated nothing says
 * whether the selector names a session at all; the caller judges the rest (the grace window, reuse,
 * expiry) with the row locked (sessions.ts).
 */

/** What a rotation writes, drawn and hashed before the statement runs. */
export interface RotationDraft {
  selector: string;
  /** SHA-256 of the verifier presented: it must be the session's current one. */
  presentedHash: string;
  successorHash: string;
  /** The successor sealed under the presented verifier (secrets.ts). */
  successorSeal: string;
  at: Date;
  /** A session last used at or before this is idle; null when sessions never idle out. */
  idleBefore: Date | null;
  /** The session's access tokens that expired at or before this are of no further use. */
  spentBefore: Date;
  access: AccessTokenDraft;
}

export type RotationAnswer =
  | { rotated: true; sessionId: string; userId: string; sessionExpiresAt: Date | null; accessExpiresAt: Date }
  | {
      rotated: false;
      /** Whether the selector names a session (as the statement found the table, before any lock). */
      known: boolean;
    };

interface RotationRow {
  session_id: string | null;
  user_id: string | null;
  session_expires_ms: number | null;
  access_expires_ms: number | null;
  known: boolean;
}

/** A time as a parameter both drivers read alike. */
function timestamp(at: Date): SQL {
  return sql`${at.toISOString()}::timestamptz`;
}

/** Milliseconds since the epoch of a `timestamptz` column, as both drivers return a float8. */
function epochMs(column: SQL): SQL {
  return sql`(extract(epoch FROM ${column}) * 1000)::float8`;
}

/** Rotates the session `draft.selector` names if `draft.presentedHash` is its current verifier's and it is live. */
export async function rotateCurrent(db: Queryable, draft: RotationDraft): Promise<RotationAnswer> {
  const { access } = draft;
  const at = timestamp(draft.at);
  const notIdle = draft.idleBefore === null ? sql`` : sql`AND last_used_at > ${timestamp(draft.idleBefore)}`;
  const answer = await db.execute(sql`
    WITH rotated AS (
      UPDATE ${sessionTable}
      SET refresh_verifier_hash = ${draft.successorHash}, previous_verifier_hash = refresh_verifier_hash,
          successor_seal = ${draft.successorSeal}, rotated_at = ${at}, grace_retries = 0, last_used_at = ${at}
      WHERE refresh_selector = ${draft.selector} AND refresh_verifier_hash = ${draft.presentedHash}
        AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${at}) ${notIdle}
      RETURNING id, user_id, expires_at
    ),
    spent AS (
      DELETE FROM ${accessTokenTable}
      WHERE session_id = (SELECT id FROM rotated) AND expires_at <= ${timestamp(draft.spentBefore)}
    ),
    issued AS (
      INSERT INTO ${accessTokenTable} (selector, verifier_hash, session_id, user_id, expires_at)
      SELECT ${access.selector}, ${access.verifierHash}, id, user_id, LEAST(${timestamp(access.lifetimeEndsAt)}, expires_at)
      FROM rotated
      RETURNING expires_at
    )
    SELECT rotated.id AS session_id, rotated.user_id, ${epochMs(sql`rotated.expires_at`)} AS session_expires_ms,
      ${epochMs(sql`issued.expires_at`)} AS access_expires_ms,
      EXISTS (SELECT 1 FROM ${sessionTable} WHERE refresh_selector = ${draft.selector}) AS known
    FROM (SELECT 1) AS answer LEFT JOIN rotated ON true LEFT JOIN issued ON true
  `);
  // Both drivers answer `{ rows }`; the shared database type leaves the result unknown.
  const [row] = (answer as { rows: RotationRow[] }).rows;
  if (!row) throw new Error('rotateCurrent: the statement returned no row');
  if (row.session_id === null || row.user_id === null || row.access_expires_ms === null) return { rotated: false, known: row.known };
  return {
    rotated: true,
    sessionId: row.session_id,
    userId: row.user_id,
    sessionExpiresAt: row.session_expires_ms === null ? null : new Date(row.session_expires_ms),
    accessExpiresAt: new Date(row.access_expires_ms),
  };
}
