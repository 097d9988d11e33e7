import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Queryable } from '../../db/connect.js';
import { accessTokenTable, sessionTable } from '../../db/schema.js';
import type { AccessTokenDraft } from '../tokens/access-tokens.js';

/*
 * The refresh of a session's current token, as one statement: the UPDATE locks the session's row,
 * compares the presented verifier's hash with the current one, checks the session is live and has
 * refreshes left in its window (the `refreshLimit` option), writes the successor and counts the
 * refresh, and the same statement deletes the session's spent access tokens and inserts the new
 * one. One round trip holds the lock, and everything random or hashed was drawn before it.
 *
 * Under READ COMMITTED an UPDATE that waited for another's lock on the row judges its WHERE again
 * on the row as the other left it: of two refreshes of one token at once, exactly one rotates, and
 * the other finds the hash moved on and matches nothing. The window is judged the same way, so N
 * nodes refreshing one session at once never grant more than the window's allowance. A statement
 * that rotated nothing says whether the selector names a session at all, and whether the token was
 * the current one of a live session (not revoked, expired or idle) whose window is full, as the
 * statement's snapshot saw the row (a session that ended is answered as ended, not asked to wait);
 * the caller judges the rest (the grace window, reuse, expiry) with the row locked (sessions.ts).
 *
 * The statement's text depends on the options alone, so it is built once and prepared: the server
 * parses and plans it once per connection, and no request builds it again.
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
  /** A window of refreshes that started at or before this is over (`at` less the window's length). */
  windowOverBefore: Date;
  access: AccessTokenDraft;
}

export type RotationAnswer =
  | { rotated: true; sessionId: string; userId: string; sessionExpiresAt: Date | null; accessExpiresAt: Date }
  | {
      rotated: false;
      /** Whether the selector names a session (as the statement found the table, before any lock). */
      known: boolean;
      /** When the full window of refreshes the presented (current) token met started; null when it met none. */
      windowFullSince: Date | null;
    };

/** How a rotation runs: once prepared on the database, or built for a transaction of the caller's. */
export interface Rotation {
  /** Rotates the session `draft.selector` names if `draft.presentedHash` is its current verifier's, it is live and its window has room. */
  rotateCurrent(db: Queryable, draft: RotationDraft): Promise<RotationAnswer>;
}

interface RotationRow {
  session_id: string | null;
  user_id: string | null;
  session_expires_ms: number | null;
  access_expires_ms: number | null;
  known: boolean;
  window_full_since_ms: number | null;
}

/** The statement's parameters, by name. */
type RotationParameters = Record<
  | 'selector'
  | 'presentedHash'
  | 'successorHash'
  | 'successorSeal'
  | 'at'
  | 'idleBefore'
  | 'spentBefore'
  | 'windowOverBefore'
  | 'maxPerWindow'
  | 'accessSelector'
  | 'accessVerifierHash'
  | 'accessLifetimeEndsAt',
  string | number | null
>;

function parameter(name: keyof RotationParameters): SQL {
  return sql`${sql.placeholder(name)}`;
}

/** A time parameter, sent as ISO text: both drivers read it alike. */
function timestamp(name: keyof RotationParameters): SQL {
  return sql`${sql.placeholder(name)}::timestamptz`;
}

/** Milliseconds since the epoch of a `timestamptz` column, as both drivers return a float8. */
function epochMs(column: SQL): SQL {
  return sql`(extract(epoch FROM ${column}) * 1000)::float8`;
}

/** The rotation statement for sessions that idle out (`idles`) or never do. */
function rotationStatement(idles: boolean): SQL {
  const at = timestamp('at');
  const notIdle = idles ? sql`AND last_used_at > ${timestamp('idleBefore')}` : sql``;
  const foundNotIdle = idles ? sql`AND found.last_used_at > ${timestamp('idleBefore')}` : sql``;
  const inWindow = sql`refresh_window_started_at > ${timestamp('windowOverBefore')}`;
  return sql`
    WITH rotated AS (
      UPDATE ${sessionTable}
      SET refresh_verifier_hash = ${parameter('successorHash')}, previous_verifier_hash = refresh_verifier_hash,
          successor_seal = ${parameter('successorSeal')}, rotated_at = ${at}, grace_retries = 0, last_used_at = ${at},
          refresh_window_started_at = CASE WHEN ${inWindow} THEN refresh_window_started_at ELSE ${at} END,
          refreshes_in_window = CASE WHEN ${inWindow} THEN refreshes_in_window + 1 ELSE 1 END
      WHERE refresh_selector = ${parameter('selector')} AND refresh_verifier_hash = ${parameter('presentedHash')}
        AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${at}) ${notIdle}
        AND ((${inWindow}) IS NOT TRUE OR refreshes_in_window < ${parameter('maxPerWindow')}::int)
      RETURNING id, user_id, expires_at
    ),
    spent AS (
      DELETE FROM ${accessTokenTable}
      WHERE session_id = (SELECT id FROM rotated) AND expires_at <= ${timestamp('spentBefore')}
    ),
    issued AS (
      INSERT INTO ${accessTokenTable} (selector, verifier_hash, session_id, user_id, expires_at)
      SELECT ${parameter('accessSelector')}, ${parameter('accessVerifierHash')}, id, user_id, LEAST(${timestamp('accessLifetimeEndsAt')}, expires_at)
      FROM rotated
      RETURNING expires_at
    )
    SELECT rotated.id AS session_id, rotated.user_id, ${epochMs(sql`rotated.expires_at`)} AS session_expires_ms,
      ${epochMs(sql`issued.expires_at`)} AS access_expires_ms,
      found.id IS NOT NULL AS known,
      CASE WHEN found.refresh_verifier_hash = ${parameter('presentedHash')} AND found.revoked_at IS NULL
          AND (found.expires_at IS NULL OR found.expires_at > ${at}) ${foundNotIdle}
          AND found.refresh_window_started_at > ${timestamp('windowOverBefore')} AND found.refreshes_in_window >= ${parameter('maxPerWindow')}::int
        THEN ${epochMs(sql`found.refresh_window_started_at`)} END AS window_full_since_ms
    FROM (SELECT 1) AS answer LEFT JOIN rotated ON true LEFT JOIN issued ON true
      LEFT JOIN ${sessionTable} AS found ON rotated.id IS NULL AND found.refresh_selector = ${parameter('selector')}
  `;
}

function parametersOf(draft: RotationDraft, maxPerWindow: number): RotationParameters {
  const { access } = draft;
  return {
    selector: draft.selector,
    presentedHash: draft.presentedHash,
    successorHash: draft.successorHash,
    successorSeal: draft.successorSeal,
    at: draft.at.toISOString(),
    idleBefore: draft.idleBefore?.toISOString() ?? null,
    spentBefore: draft.spentBefore.toISOString(),
    windowOverBefore: draft.windowOverBefore.toISOString(),
    maxPerWindow,
    accessSelector: access.selector,
    accessVerifierHash: access.verifierHash,
    accessLifetimeEndsAt: access.lifetimeEndsAt.toISOString(),
  };
}

function answerOf(result: unknown): RotationAnswer {
  // Both drivers answer `{ rows }`; the prepared query's type leaves the result unknown.
  const [row] = (result as { rows: RotationRow[] }).rows;
  if (!row) throw new Error('rotateCurrent: the statement returned no row');
  if (row.session_id === null || row.user_id === null || row.access_expires_ms === null) {
    return { rotated: false, known: row.known, windowFullSince: row.window_full_since_ms === null ? null : new Date(row.window_full_since_ms) };
  }
  return {
    rotated: true,
    sessionId: row.session_id,
    userId: row.user_id,
    sessionExpiresAt: row.session_expires_ms === null ? null : new Date(row.session_expires_ms),
    accessExpiresAt: new Date(row.access_expires_ms),
  };
}

/**
 * The rotation for sessions that idle out or not (`idles`) and may refresh `maxPerWindow` times a
 * window, its statement prepared on `db` (where every refresh of a current token runs).
 */
export function createRotation(db: Queryable, policy: { idles: boolean; maxPerWindow: number }): Rotation {
  const query = new PgDialect().sqlToQuery(rotationStatement(policy.idles));
  // Named after its text: two kits with other options on one pool never claim one name for two statements.
  const name = `auth_kit_rotate_${createHash('sha256').update(query.sql).digest('hex').slice(0, 16)}`;
  const prepare = (on: Queryable) => on._.session.prepareQuery(query, undefined, name, false);
  const prepared = prepare(db);
  return {
    async rotateCurrent(on, draft) {
      const statement = on === db ? prepared : prepare(on);
      return answerOf(await statement.execute(parametersOf(draft, policy.maxPerWindow)));
    },
  };
}
