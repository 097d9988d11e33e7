import type { UserRow } from '../../db/schema.js';
import { bearerTokenOf } from '../middleware/bearer.js';
import type { AuthRequest } from '../context.js';
import type { KnownDevice } from './devices.js';
import type { AuthKernel } from '../kernel.js';
import type { AccountAttempt } from '../limits/throttles.js';

/*
 * Who is trying a password, as the account's counters see it (throttles.ts). An account knows the
 * client when the request carries the cookie of a device that signed in to it (devices.ts) or a live
 * session of it (an access token; in a signed-in call, the caller's own session). Anyone else is a
 * stranger and counts by the client's address. The request is read before the account is looked up,
 * with the same work whatever account is named, so the reading tells nothing of which ones exist.
 */

/** What a request shows of the accounts it is known to. */
export interface SignInClient {
  device: KnownDevice | null;
  address: KnownDevice | null;
  session: { id: string; userId: string } | null;
  ip: string | null;
}

/**
 * Reads the request's device cookie and, unless the caller names the session already, its bearer
 * token (a session's only: an API token is no sign of a device). A token that fails the check is
 * merely no sign; it counts as a failed token of the client as anywhere else.
 */
export async function identifyClient(kernel: AuthKernel, request: AuthRequest, session?: SignInClient['session']): Promise<SignInClient> {
  const token = session === undefined ? bearerTokenOf(request.authorization) : null;
  const [{ device, address }, check] = await Promise.all([kernel.devices.recognise(kernel.db, request), token === null ? null : kernel.checkToken(token, request.ip)]);
  const bearer = check?.ok && check.authorization.scopes === null ? { id: check.authorization.sessionId, userId: check.authorization.userId } : null;
  return { device, address, session: session ?? bearer, ip: request.ip };
}

/**
 * The attempt of `client` on `target`: an account, or the identifier of none. An account's
 * failures count against its current password, so a new one (a reset, a change) starts with none.
 */
export function passwordAttempt(client: SignInClient, target: UserRow | { unknown: string }): AccountAttempt {
  if ('unknown' in target) return { account: `unknown:${target.unknown}`, knownAs: null, ip: client.ip };
  const { userId, passwordHash } = target;
  const knownAs = client.device?.userIds.has(userId)
    ? `device:${client.device.cookieHash}`
    : client.session?.userId === userId
      ? `session:${client.session.id}`
      : client.address?.userIds.has(userId)
        ? client.address.cookieHash
        : null;
  return { account: `${userId}:${passwordHash ?? 'no password'}`, knownAs, ip: client.ip };
}
