/*
 * The message every node hears when a session ends somewhere: PostgreSQL `NOTIFY` on one channel,
 * sent inside the revoking transaction, so it goes out exactly when the revocation commits. It holds
 * ids only, never a token or a hash, since any database role may listen. A notice can only make a
 * node forget cached tokens; a crafted one can therefore cost a database read, never grant access.
 */

export const REVOCATION_CHANNEL = 'trpc_auth_kit_revocations';

/** What ended: some sessions, or every session of a user. */
export type Revocation = { sessionIds: string[] } | { userId: string };

// PostgreSQL refuses payloads of 8000 bytes or more; stay well under.
const MAX_PAYLOAD_BYTES = 7000;
const MAX_ID_LENGTH = 64;

/**
 * The payloads that announce `revocation`: one for a user, as many as it takes for many sessions.
 * Given `sentAtMs`, each carries it, so a listener can tell how long the notice took to arrive.
 */
export function encodeRevocation(revocation: Revocation, sentAtMs?: number): string[] {
  const sentAt = sentAtMs === undefined ? {} : { t: sentAtMs };
  if ('userId' in revocation) return [JSON.stringify({ u: revocation.userId, ...sentAt })];
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 0;
  for (const id of revocation.sessionIds) {
    if (size + id.length + 3 > MAX_PAYLOAD_BYTES && batch.length > 0) {
      payloads.push(JSON.stringify({ s: batch, ...sentAt }));
      batch = [];
      size = 0;
    }
    batch.push(id);
    size += id.length + 3;
  }
  if (batch.length > 0) payloads.push(JSON.stringify({ s: batch, ...sentAt }));
  return payloads;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

/** A payload read back: what ended, and when its sender sent it (null when it does not say). */
export interface RevocationNotice {
  revocation: Revocation;
  sentAtMs: number | null;
}

/** Reads a payload back, or null for anything that is not one of ours, whatever it holds. */
export function readRevocationNotice(payload: string): RevocationNotice | null {
  let message: unknown;
  try {
    message = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  const { u, s, t } = message as { u?: unknown; s?: unknown; t?: unknown };
  const sentAtMs = typeof t === 'number' && Number.isSafeInteger(t) && t > 0 ? t : null;
  if (isId(u)) return { revocation: { userId: u }, sentAtMs };
  if (Array.isArray(s) && s.length > 0 && s.every(isId)) return { revocation: { sessionIds: s }, sentAtMs };
  return null;
}

