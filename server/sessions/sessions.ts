import { and, desc, eq, isNull, ne, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { AuthDatabase, Queryable } from '../../db/connect.js';
import { accessTokenTable, sessionTable } from '../../db/schema.js';
import { timestampParam } from '../../db/timestamp-param.js';
import type { SessionRow } from '../../db/schema.js';
import { formatToken, parseToken } from '../../shared/token-format.js';
import type { AuthTokens, SessionInfo } from '../../shared/types.js';
import type { AccessTokens, IssuedAccessToken } from '../tokens/access-tokens.js';
import { announceRevocation, revocationAnnouncement } from '../tokens/announce-revocation.js';
import { revokeApiTokens } from '../tokens/api-tokens.js';
import type { AuditEventInput, AuditTrail } from '../audit/audit-trail.js';
import type { Revocation } from '../cache/revocation-notice.js';
import type { AccountAttempt } from '../limits/throttles.js';
import type { TokenCache } from '../cache/token-cache.js';
import type { AuthRequest } from '../context.js';
import type { Clock, RandomSource } from '../deps.js';
import type { TokenPolicy } from '../tokens/token-options.js';
import { generateId, generateTokenParts, generateVerifier, hashVerifier, openSuccessor, sealSuccessor } from '../tokens/secrets.js';
import { createRotation } from './rotation.js';
import type { RotationAnswer, RotationDraft } from './rotation.js';
import type { RefreshLimit } from './session-options.js';

/*
 * Sessions are refresh-token families. A refresh token is `rt_<selector><verifier><checksum>`: the
 * selector names the session for its whole life, the verifier changes on every refresh. A refresh
 * holds the session row's lock while it judges and writes, so two nodes can never both rotate the same
 * token; the refresh of the current token is a single statement (rotation.ts), the rest a transaction.
 *
 * The verifier presented is either
 *   - the current one: the session rotates to a new verifier and keeps the old one's hash, with the
 *     time, and the successor sealed under the old verifier (see secrets.ts);
 *   - the one just replaced, within the grace window: the sealed successor is returned again (a lost
 *     response, or two tabs refreshing at once) and nothing forks; each such retry mints an access
 *     token, so past `MAX_GRACE_RETRIES` of them the token counts as reused (below);
 *   - anything else: someone holds a token this family has moved past. The session (or, by option,
 *     every session of the user) is revoked, and that revocation commits although the call fails.
 *
 * Every refresh answered (a rotation or a grace retry) counts in the session's window of refreshes
 * (`refreshLimit`). A rotation the full window refuses is RATE_LIMITED and changes nothing: the token
 * presented stays the current one, so its holder refreshes once the window is over, and nobody is
 * taken for a thief. A grace retry is counted but never refused (MAX_GRACE_RETRIES bounds it): a tab
 * told to wait past the grace window would come back with a token that then counts as reused.
 *
 * Every revocation announces itself to the other nodes in its own transaction (revocation-notice.ts)
 * and clears this node's cache once committed.
 */

/**
 * Retries of a replaced refresh token one rotation answers: enough for every tab of a browser and a
 * lost answer or two; a client past it is not retrying but minting access tokens by the hundred.
 */
const MAX_GRACE_RETRIES = 20;

/**
 * Who is signing in, as the session list later shows it, and the answer a refused start sets
 * `Retry-After` on: the request itself.
 */
export type SessionOrigin = Pick<AuthRequest, 'userAgent' | 'ip' | 'setHeader'>;

/**
 * What a session starts on, as parts of the one statement that starts it: `admits` answers the
 * user's `user_id` (and locks its row) when the session may start, and `alongWith` are writes that
 * go with it (named CTEs), given the name of `admits`' answer, each writing only if it has a row.
 */
export interface SessionGate {
  admits: SQL;
  alongWith: (admitted: SQL) => SQL[];
  /**
   * Writes that must come first (an account made by this sign-in), once the limits admitted the
   * session: they and the statement then share a transaction. Without them the statement runs on
   * its own, and the gate's row lock is held for that statement only.
   */
  first?: (tx: Queryable) => Promise<void>;
  /** The password attempt this sign-in proved: given back in the statement that counts the session (throttles.ts). */
  succeeded?: AccountAttempt;
}

export type RefreshOutcome =
  | { ok: true; tokens: AuthTokens; userId: string; sessionId: string }
  | { ok: false; code: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' }
  | { ok: false; code: 'REFRESH_TOKEN_REUSED'; userId: string; sessionId: string }
  | RefreshWindowFull;

/** The session has refreshed as often as its window allows: nothing rotated. */
export interface RefreshWindowFull {
  ok: false;
  code: 'RATE_LIMITED';
  retryAfterSeconds: number;
}

export type RevokeReason =
  | 'logout'
  | 'logout-everywhere'
  | 'revoked-by-user'
  | 'password-changed'
  | 'password-reset'
  | 'email-changed'
  | 'address-proven'
  | 'refresh-token-reused'
  | 'ended-by-admin'
  | 'disabled';

/**
 * The event a revocation for `reason` is to the audit trail; none where the caller emits its own
 * (an administrator's acts) or where the revocation is part of something larger (a proven address).
 */
function revocationEvent(reason: RevokeReason, ended: { userId: string; sessionId?: string; except?: string }): AuditEventInput | null {
  const { userId } = ended;
  const sessionId = ended.sessionId ?? ended.except ?? null;
  switch (reason) {
    case 'logout':
      return { type: 'signed-out', userId, sessionId, scope: ended.except === undefined ? 'current' : 'others' };
    case 'logout-everywhere':
      return { type: 'signed-out', userId, sessionId, scope: 'all' };
    case 'revoked-by-user':
      return { type: 'session-revoked', userId, sessionId, reason };
    case 'password-changed':
    case 'password-reset':
    case 'email-changed':
      return { type: reason, userId, sessionId };
    default:
      return null;
  }
}

/** The reasons that also end the user's API tokens, unless `apiTokens.endWithCredentialChange` is off. */
const CREDENTIAL_CHANGES: ReadonlySet<RevokeReason> = new Set(['password-changed', 'password-reset', 'email-changed']);
/**
 * The reasons that end the user's API tokens whatever the policy: the owner asked to be signed out
 * everywhere, or proved the address against a password someone else may have set (and whatever that
 * someone made with it must go), or an administrator disabled the account.
 */
const ENDS_EVERY_TOKEN: ReadonlySet<RevokeReason> = new Set(['logout-everywhere', 'address-proven', 'disabled']);

export interface Sessions {
  /**
   * Starts a session, once the limits on sessions per client and per account admit it (else
   * RATE_LIMITED with Retry-After, and nothing is written).
   */
  start(userId: string, origin: SessionOrigin): Promise<{ sessionId: string; tokens: AuthTokens }>;
  /**
   * Starts a session only if `gate` admits it, in one statement (after `gate.first`, in a
   * transaction with it). Null when the gate
   * refused, and nothing is written. The limits are judged first, as for `start`.
   */
  startIf(userId: string, origin: SessionOrigin, gate: SessionGate): Promise<{ sessionId: string; tokens: AuthTokens } | null>;
  refresh(refreshToken: string): Promise<RefreshOutcome>;
  revoke(userId: string, sessionId: string, reason: RevokeReason): Promise<void>;
  /**
   * Ends the user's sessions (but `except`); `alongWith` runs first in the same transaction. A
   * password change or reset ends the user's API tokens too (unless the policy keeps them).
   */
  revokeAllOf(userId: string, options: { except?: string; reason: RevokeReason; alongWith?: (tx: Queryable) => Promise<void> }): Promise<void>;
  /**
   * The same inside a transaction the caller runs: ends the sessions (and the API tokens the reason
   * ends), announcing it to every node, and returns what ended for `forget` once it committed.
   */
  revokeAllWithin(tx: Queryable, userId: string, options: { except?: string; reason: RevokeReason }): Promise<Revocation[]>;
  /** Clears what ended from this node's cache; call it once the revoking transaction committed. */
  forget(revocations: readonly Revocation[]): Promise<void>;
  list(userId: string, currentSessionId: string): Promise<SessionInfo[]>;
}


type RotationResult =
  | { ok: true; refreshVerifier: string; sessionId: string; userId: string; sessionExpiresAt: Date | null; access: IssuedAccessToken }
  | { ok: false; code: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' }
  | { ok: false; code: 'REFRESH_TOKEN_REUSED'; userId: string; sessionId: string; revocation: Revocation | null }
  | RefreshWindowFull;

export function createSessions(deps: {
  db: AuthDatabase;
  cache: TokenCache;
  accessTokens: AccessTokens;
  clock: Clock;
  random: RandomSource;
  audit: AuditTrail;
  tokens: TokenPolicy;
  refreshLimit: RefreshLimit;
  apiTokensEndWithCredentialChange: boolean;
  /** Counts a session about to start and throws when the limits refuse it, giving back `succeeded` meanwhile (throttles.ts). */
  admit: (origin: SessionOrigin, userId: string, succeeded: AccountAttempt | undefined) => Promise<void>;
}): Sessions {
  const { db, cache, accessTokens, clock, random, audit, tokens: policy, refreshLimit } = deps;
  const rotation = createRotation(db, { idles: policy.refreshIdleTimeoutSeconds !== null, maxPerWindow: refreshLimit.maxPerWindow });
  const windowMs = refreshLimit.windowSeconds * 1000;

  /** The wait until a window of refreshes that started at `startedAt` is over. */
  function windowFull(startedAt: Date, now: number): RefreshWindowFull {
    return { ok: false, code: 'RATE_LIMITED', retryAfterSeconds: Math.max(1, Math.ceil((startedAt.getTime() + windowMs - now) / 1000)) };
  }

  /** Whether the session's window of refreshes, as its locked row has it, is still open at `now`. */
  function inWindow(session: SessionRow, now: number): session is SessionRow & { refreshWindowStartedAt: Date } {
    return session.refreshWindowStartedAt !== null && session.refreshWindowStartedAt.getTime() > now - windowMs;
  }

  function report(reason: RevokeReason, ended: { userId: string; sessionId?: string; except?: string }): void {
    const event = revocationEvent(reason, ended);
    if (event) audit.emit(event);
  }

  function toTokens(refresh: { selector: string; verifier: string; expiresAt: Date | null }, access: IssuedAccessToken): AuthTokens {
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: formatToken('refresh', { selector: refresh.selector, verifier: refresh.verifier }),
      refreshTokenExpiresAt: refresh.expiresAt,
      tokenType: 'Bearer',
    };
  }

  function isOver(session: SessionRow, now: number): boolean {
    if (session.expiresAt && session.expiresAt.getTime() <= now) return true;
    const idleMs = policy.refreshIdleTimeoutSeconds === null ? null : policy.refreshIdleTimeoutSeconds * 1000;
    return idleMs !== null && session.lastUsedAt.getTime() + idleMs <= now;
  }

  /**
   * Marks sessions revoked and, in the same transaction, tells every node (see revocation-notice.ts).
   * Returns what ended, for this node's cache, which the caller clears once the transaction commits.
   * One session's notice is known before the statement, so the statement that revokes it carries it:
   * one round trip, and on the pool (a logout) its own transaction, where BEGIN, UPDATE, NOTIFY,
   * COMMIT took four. In a storm of logouts on a busy machine the pooled connections sat idle in
   * transaction between those while the node waited for a CPU.
   */
  async function revokeAndAnnounce(
    tx: Queryable,
    scope: { userId: string; sessionId?: string; except?: string },
    reason: RevokeReason,
  ): Promise<Revocation | null> {
    const conditions = [eq(sessionTable.userId, scope.userId), isNull(sessionTable.revokedAt)];
    if (scope.sessionId !== undefined) conditions.push(eq(sessionTable.id, scope.sessionId));
    if (scope.except !== undefined) conditions.push(ne(sessionTable.id, scope.except));
    const revoking = tx
      .update(sessionTable)
      .set({ revokedAt: new Date(clock.now()), revokeReason: reason })
      .where(and(...conditions))
      .returning({ id: sessionTable.id });
    if (scope.sessionId !== undefined) {
      const revocation: Revocation = { sessionIds: [scope.sessionId] };
      const revoked = tx.$with('revoked').as(revoking);
      const rows = await tx.with(revoked).select({ id: revoked.id, announced: revocationAnnouncement(revocation) }).from(revoked);
      return rows.length === 0 ? null : revocation;
    }
    const revoked = await revoking;
    if (revoked.length === 0) return null;
    const revocation: Revocation = scope.except === undefined ? { userId: scope.userId } : { sessionIds: revoked.map(({ id }) => id) };
    await announceRevocation(tx, revocation);
    return revocation;
  }

  async function forget(revocation: Revocation | null): Promise<void> {
    if (revocation !== null) await cache.forget(revocation);
  }

  const revokeAllWithin: Sessions['revokeAllWithin'] = async (tx, userId, options) => {
    const { reason } = options;
    const sessions = await revokeAndAnnounce(tx, { userId, except: options.except }, reason);
    const endsApiTokens = ENDS_EVERY_TOKEN.has(reason) || (deps.apiTokensEndWithCredentialChange && CREDENTIAL_CHANGES.has(reason));
    const apiTokens = endsApiTokens ? await revokeApiTokens(tx, { userId }, { at: new Date(clock.now()), reason }) : null;
    return [sessions, apiTokens].filter((revocation) => revocation !== null);
  };

  /**
   * A refresh. The common case, the session's current verifier, is one statement (rotation.ts); the
   * rest is judged in a transaction holding the session's lock: the grace window, reuse, expiry.
   */
  async function rotate(presented: { selector: string; verifier: string }): Promise<RotationResult> {
    const now = clock.now();
    const presentedHash = hashVerifier(presented.verifier);
    const successor = generateVerifier(random);
    const idleMs = policy.refreshIdleTimeoutSeconds === null ? null : policy.refreshIdleTimeoutSeconds * 1000;
    const draft: RotationDraft = {
      selector: presented.selector,
      presentedHash,
      successorHash: hashVerifier(successor),
      successorSeal: sealSuccessor(successor, presented.verifier),
      at: new Date(now),
      idleBefore: idleMs === null ? null : new Date(now - idleMs),
      // Access tokens of this session that expired a lifetime ago are of no further use to anyone.
      // One that expired since is kept: a call still in flight with it must hear TOKEN_EXPIRED (and
      // be replayed after the refresh), not TOKEN_INVALID, on a node that never cached it.
      spentBefore: new Date(now - policy.accessTokenTtlSeconds * 1000),
      windowOverBefore: new Date(now - windowMs),
      access: accessTokens.draft(),
    };
    const answer = await rotation.rotateCurrent(db, draft);
    if (answer.rotated) return rotated(answer, successor, draft);
    if (!answer.known) return { ok: false, code: 'TOKEN_INVALID' };
    // The current token of a live session whose window is full: refused as it stands, with no lock
    // taken and nothing written, however hard its holder floods.
    if (answer.windowFullSince !== null) return windowFull(answer.windowFullSince, now);
    return judgeLocked(presented, draft, successor);
  }

  function rotated(rotation: Extract<RotationAnswer, { rotated: true }>, successor: string, draft: RotationDraft): RotationResult {
    const owner = { sessionId: rotation.sessionId, userId: rotation.userId };
    return {
      ok: true,
      refreshVerifier: successor,
      ...owner,
      sessionExpiresAt: rotation.sessionExpiresAt,
      access: accessTokens.issued(draft.access, owner, rotation.accessExpiresAt),
    };
  }

  /** A token that is not the current one of a live session, judged with the session's row locked. */
  function judgeLocked(presented: { selector: string; verifier: string }, draft: RotationDraft, successor: string): Promise<RotationResult> {
    return db.transaction(async (tx): Promise<RotationResult> => {
      const [session] = await tx.select().from(sessionTable).where(eq(sessionTable.refreshSelector, presented.selector)).for('update');
      if (!session) return { ok: false, code: 'TOKEN_INVALID' };
      if (session.revokedAt) return { ok: false, code: 'TOKEN_REVOKED' };
      const now = draft.at.getTime();
      if (isOver(session, now)) return { ok: false, code: 'TOKEN_EXPIRED' };

      if (draft.presentedHash === session.refreshVerifierHash) {
        // Live and current after all: `lastUsedAt` moved on (a grace retry) since the statement judged
        // the session idle, or its window filled or ended meanwhile. It rotates now, under the lock
        // this transaction holds, unless the window is full.
        if (inWindow(session, now) && session.refreshesInWindow >= refreshLimit.maxPerWindow) return windowFull(session.refreshWindowStartedAt, now);
        const answer = await rotation.rotateCurrent(tx, draft);
        if (!answer.rotated) throw new Error('sessions.refresh: a locked, live session did not rotate to its successor');
        return rotated(answer, successor, draft);
      }
      if (
        draft.presentedHash === session.previousVerifierHash &&
        session.successorSeal !== null &&
        session.rotatedAt !== null &&
        now - session.rotatedAt.getTime() < policy.refreshGraceSeconds * 1000 &&
        session.graceRetries < MAX_GRACE_RETRIES
      ) {
        const refreshVerifier = openSuccessor(session.successorSeal, presented.verifier);
        const open = inWindow(session, now);
        await tx
          .update(sessionTable)
          .set({
            lastUsedAt: new Date(now),
            graceRetries: session.graceRetries + 1,
            refreshWindowStartedAt: open ? session.refreshWindowStartedAt : new Date(now),
            refreshesInWindow: open ? session.refreshesInWindow + 1 : 1,
          })
          .where(eq(sessionTable.id, session.id));
        const owner = { sessionId: session.id, userId: session.userId };
        const access = await accessTokens.issue(tx, { ...owner, sessionExpiresAt: session.expiresAt }, draft.access);
        return { ok: true, refreshVerifier, ...owner, sessionExpiresAt: session.expiresAt, access };
      }
      const scope = policy.refreshReuseRevokes === 'user' ? { userId: session.userId } : { userId: session.userId, sessionId: session.id };
      const revocation = await revokeAndAnnounce(tx, scope, 'refresh-token-reused');
      return { ok: false, code: 'REFRESH_TOKEN_REUSED', userId: session.userId, sessionId: session.id, revocation };
    });
  }

  const startIf: Sessions['startIf'] = async (userId, origin, gate) => {
    // Every way in ends here, so no sign-in method can start sessions past the limits.
    await deps.admit(origin, userId, gate.succeeded);
    const now = clock.now();
    const parts = generateTokenParts(random);
    const sessionId = generateId(random);
    const expiresAt = policy.refreshTokenTtlSeconds === null ? null : new Date(now + policy.refreshTokenTtlSeconds * 1000);
    const drafted = accessTokens.draft();
    // An access token never outlives the session that issued it.
    const accessExpiresAt = expiresAt && expiresAt < drafted.lifetimeEndsAt ? expiresAt : drafted.lifetimeEndsAt;
    const at = timestampParam(new Date(now));
    const admitted = sql.raw('admitted');
    // The gate, what goes with it, the session and its first access token: one statement, one round
    // trip under the gate's lock, everything random or hashed drawn before it.
    const statement = sql`
      WITH admitted AS (${gate.admits}),
      ${sql.join([...gate.alongWith(admitted), sql``], sql`, `)}
      started AS (
        INSERT INTO ${sessionTable} (id, user_id, refresh_selector, refresh_verifier_hash, created_at, last_used_at, expires_at, user_agent, ip)
        SELECT ${sessionId}, user_id, ${parts.selector}, ${hashVerifier(parts.verifier)}, ${at}, ${at},
          ${expiresAt === null ? sql`NULL::timestamptz` : timestampParam(expiresAt)}, ${origin.userAgent?.slice(0, 512) ?? null}::text, ${origin.ip}::text
        FROM admitted
        RETURNING id, user_id
      ),
      issued AS (
        INSERT INTO ${accessTokenTable} (selector, verifier_hash, session_id, user_id, expires_at)
        SELECT ${drafted.selector}, ${drafted.verifierHash}, id, user_id, ${timestampParam(accessExpiresAt)} FROM started
      )
      SELECT count(*)::int AS started FROM started
    `;
    const { first } = gate;
    const answer = first
      ? await db.transaction(async (tx) => {
          await first(tx);
          return tx.execute(statement);
        })
      : await db.execute(statement);
    // Both drivers answer `{ rows }`; the shared database type leaves the result unknown.
    const [row] = (answer as { rows: Array<{ started: number }> }).rows;
    if (!row || row.started === 0) return null;
    const access = accessTokens.issued(drafted, { sessionId, userId }, accessExpiresAt);
    cache.fill(access.entry, access.revocationsBefore);
    return { sessionId, tokens: toTokens({ selector: parts.selector, verifier: parts.verifier, expiresAt }, access) };
  };

  return {
    startIf,

    async start(userId, origin) {
      const started = await startIf(userId, origin, { admits: sql`SELECT ${userId}::text AS user_id`, alongWith: () => [] });
      if (!started) throw new Error('sessions.start: an unconditional start was refused');
      return started;
    },

    async refresh(refreshToken) {
      const presented = parseToken('refresh', refreshToken);
      if (!presented) return { ok: false, code: 'TOKEN_INVALID' };
      const result = await rotate(presented);
      if (!result.ok) {
        if (result.code !== 'REFRESH_TOKEN_REUSED') return result;
        await forget(result.revocation);
        audit.emit({ type: 'refresh-token-reused', userId: result.userId, sessionId: result.sessionId });
        return { ok: false, code: result.code, userId: result.userId, sessionId: result.sessionId };
      }
      cache.fill(result.access.entry, result.access.revocationsBefore);
      audit.emit({ type: 'refreshed', userId: result.userId, sessionId: result.sessionId });
      const refresh = { selector: presented.selector, verifier: result.refreshVerifier, expiresAt: result.sessionExpiresAt };
      return { ok: true, tokens: toTokens(refresh, result.access), userId: result.userId, sessionId: result.sessionId };
    },

    async revoke(userId, sessionId, reason) {
      // Scoped to the user: another user's session id changes nothing, exactly like an unknown one.
      const revocation = await revokeAndAnnounce(db, { userId, sessionId }, reason);
      await forget(revocation);
      // A logout is one whatever it found; another user's or an unknown session is no event.
      if (revocation !== null || reason === 'logout') report(reason, { userId, sessionId });
    },

    async revokeAllOf(userId, options) {
      const revocations = await db.transaction(async (tx) => {
        await options.alongWith?.(tx);
        return revokeAllWithin(tx, userId, options);
      });
      for (const revocation of revocations) await forget(revocation);
      report(options.reason, { userId, except: options.except });
    },

    revokeAllWithin,

    async forget(revocations) {
      // Sent to the worker together, so that it applies them in one batch (revocation-batch.ts): a
      // user named twice, as disabling one names it, costs one pass over the table, not one each.
      await Promise.all(revocations.map((revocation) => forget(revocation)));
    },

    async list(userId, currentSessionId) {
      const now = clock.now();
      const rows = await db
        .select()
        .from(sessionTable)
        .where(and(eq(sessionTable.userId, userId), isNull(sessionTable.revokedAt)))
        .orderBy(desc(sessionTable.lastUsedAt));
      return rows
        .filter((session) => !isOver(session, now))
        .map((session) => ({
          id: session.id,
          current: session.id === currentSessionId,
          createdAt: session.createdAt,
          lastUsedAt: session.lastUsedAt,
          expiresAt: session.expiresAt,
          userAgent: session.userAgent,
          ip: session.ip,
        }));
    },
  };
}
