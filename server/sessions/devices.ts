import { hash } from 'node:crypto';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { deviceTable } from '../../db/schema.js';
import { timestampParam } from '../../db/timestamp-param.js';
import type { AuthRequest } from '../context.js';
import { readCookie } from './cookie-header.js';
import type { Clock, RandomSource } from '../deps.js';
import { clientOf } from '../limits/throttles.js';

/*
 * Known devices. Every sign-in, whatever its method, leaves the browser a `__Host-auth-device` cookie:
 * 256 random bits, of which the database keeps only a SHA-256, beside the user who signed in. A
 * later sign-in to that account from that browser is recognised by it, so a stranger who makes the
 * account refuse the clients it does not know cannot lock this one out (throttles.ts). The cookie
 * opens nothing by itself: the password is still checked, and counted against the device.
 *
 * The cookie is `HttpOnly`, `Secure`, `SameSite=Strict` and lives 400 days, renewed by each sign-in;
 * the `__Host-` prefix keeps sibling subdomains from setting or shadowing it. A browser keeps one
 * cookie for every account signed in on it.
 *
 * A client that keeps no cookies (a native app, a script, a browser that drops them) never sends one
 * back, so a sign-in that brought none also remembers the client's address (an IPv4 address or an
 * IPv6 /64, as the limits count clients), in the same table under `address:<SHA-256>`. A later
 * sign-in from that address is known by it. That is weaker than a cookie (a NAT is shared), so it
 * spares the address the strangers' lock and no more: a guesser who shares it is held to that
 * address's own count (`rateLimits.loginFailuresPerAccountPerClient`), as a device is.
 *
 * An account remembers its newest `devices.maxPerUser` devices and `devices.addressesPerUser`
 * addresses, and forgets them when its credentials may have been someone else's: a password change
 * or reset keeps only the device (and address) that made it; an address proven against a password
 * someone else set, and "sign out everywhere" (which a stolen token can call), keep none.
 */

const DEVICE_COOKIE = '__Host-auth-device';
const DEVICE_COOKIE_FORMAT = /^dv_[A-Za-z0-9_-]{43}$/;
const DEVICE_COOKIE_BYTES = 32;
/** Browsers cap a cookie's life at 400 days. */
const COOKIE_SECONDS = 400 * 24 * 3600;
/** Where an address's key starts; a cookie's hash (base64url) never holds a colon. */
const ADDRESS_PREFIX = 'address:';

/** A device or address a request shows, and the accounts that signed in on it. */
export interface KnownDevice {
  cookieHash: string;
  userIds: ReadonlySet<string>;
}

/** What a request shows of the clients accounts know: its device cookie, and its address. */
export interface RecognisedClient {
  /** The device of the request's cookie; null without one. */
  device: KnownDevice | null;
  /** The request's address; null when it has none or when no account signed in from it. */
  address: KnownDevice | null;
}

export interface Devices {
  /** The device of the request's cookie and its address, each with the accounts it is known to. */
  recognise(db: Queryable, request: AuthRequest): Promise<RecognisedClient>;
  /** The request's device cookie, or a new one for a browser without; null when devices are off (`devices.maxPerUser` 0). */
  cookieFor(request: AuthRequest): string | null;
  /**
   * Records a sign-in of `userId` on the request's device (and on its address, when the request
   * brought no cookie), in the caller's transaction, and keeps the user's newest of each.
   */
  remember(tx: Queryable, request: AuthRequest, userId: string): Promise<void>;
  /**
   * The same as parts (named CTEs) of the caller's statement, each of which writes only if the part
   * named `admitted`, before them, answered a row: a sign-in records its device in the statement that
   * starts its session.
   */
  recording(request: AuthRequest, userId: string, admitted: SQL): SQL[];
  /** Forgets every device and address of the user but the request's own (every one, with `keep` null). */
  forget(tx: Queryable, userId: string, keep: AuthRequest | null): Promise<void>;
  /** Sets the device cookie on the response. */
  handOver(request: AuthRequest, cookie: string): void;
}

function cookieOf(request: AuthRequest): string | null {
  const cookie = readCookie(request.cookie, DEVICE_COOKIE);
  return cookie !== null && DEVICE_COOKIE_FORMAT.test(cookie) ? cookie : null;
}

function hashCookie(cookie: string): string {
  return hash('sha256', cookie, 'base64url');
}

function addressKeyOf(request: AuthRequest): string | null {
  return request.ip === null ? null : ADDRESS_PREFIX + hash('sha256', clientOf(request.ip), 'base64url');
}

export function createDevices(deps: { maxPerUser: number; addressesPerUser: number; clock: Clock; random: RandomSource }): Devices {
  const { maxPerUser, addressesPerUser, clock, random } = deps;
  // The sign-ins of one batched request, on a browser that had no cookie yet, share one new device.
  const issued = new WeakMap<AuthRequest, string>();

  function cookieFor(request: AuthRequest): string | null {
    if (maxPerUser === 0) return null;
    const cookie = cookieOf(request) ?? issued.get(request) ?? `dv_${Buffer.from(random(DEVICE_COOKIE_BYTES)).toString('base64url')}`;
    issued.set(request, cookie);
    return cookie;
  }

  /**
   * The parts that record `key` for the user and keep the newest `kept` keys of its kind, this one
   * among them, if `admitted` answered a row. The prune sees the table as the statement found it,
   * and spares this key anyway; it keeps the newest others by exclusion, since rows can share a time.
   */
  function recordParts(entry: { key: string; kept: number; name: string }, userId: string, admitted: SQL): SQL[] {
    const { key, kept, name } = entry;
    const now = timestampParam(clock.now());
    const ofKind = key.startsWith(ADDRESS_PREFIX) ? sql`cookie_hash LIKE ${`${ADDRESS_PREFIX}%`}` : sql`cookie_hash NOT LIKE ${`${ADDRESS_PREFIX}%`}`;
    const others = sql`user_id = ${userId} AND ${ofKind} AND cookie_hash <> ${key}`;
    return [
      sql`${sql.identifier(`${name}_recorded`)} AS (
        INSERT INTO ${deviceTable} (cookie_hash, user_id, created_at, last_signed_in_at)
        SELECT ${key}, user_id, ${now}, ${now} FROM ${admitted}
        ON CONFLICT (cookie_hash, user_id) DO UPDATE SET last_signed_in_at = EXCLUDED.last_signed_in_at
      )`,
      sql`${sql.identifier(`${name}_pruned`)} AS (
        DELETE FROM ${deviceTable}
        WHERE ${others} AND EXISTS (SELECT 1 FROM ${admitted})
          AND cookie_hash NOT IN (SELECT cookie_hash FROM ${deviceTable} WHERE ${others} ORDER BY last_signed_in_at DESC LIMIT ${kept - 1})
      )`,
    ];
  }

  function recording(request: AuthRequest, userId: string, admitted: SQL): SQL[] {
    const cookie = cookieFor(request);
    const addressKey = addressesPerUser === 0 ? null : addressKeyOf(request);
    return [
      ...(cookie === null ? [] : recordParts({ key: hashCookie(cookie), kept: maxPerUser, name: 'device' }, userId, admitted)),
      ...(cookieOf(request) === null && addressKey !== null ? recordParts({ key: addressKey, kept: addressesPerUser, name: 'address' }, userId, admitted) : []),
    ];
  }

  return {
    cookieFor,

    async recognise(db, request) {
      const cookie = maxPerUser === 0 ? null : cookieOf(request);
      const cookieHash = cookie === null ? null : hashCookie(cookie);
      const addressKey = addressesPerUser === 0 ? null : addressKeyOf(request);
      const keys = [cookieHash, addressKey].filter((key) => key !== null);
      const rows = keys.length === 0 ? [] : await db.select({ cookieHash: deviceTable.cookieHash, userId: deviceTable.userId }).from(deviceTable).where(inArray(deviceTable.cookieHash, keys));
      const knownBy = (key: string): KnownDevice => ({ cookieHash: key, userIds: new Set(rows.filter((row) => row.cookieHash === key).map((row) => row.userId)) });
      const address = addressKey === null ? null : knownBy(addressKey);
      return { device: cookieHash === null ? null : knownBy(cookieHash), address: address && address.userIds.size > 0 ? address : null };
    },

    async remember(tx, request, userId) {
      const parts = recording(request, userId, sql.raw('remembered'));
      if (parts.length > 0) await tx.execute(sql`WITH remembered AS (SELECT ${userId}::text AS user_id), ${sql.join(parts, sql`, `)} SELECT 1`);
    },

    recording,

    async forget(tx, userId, keep) {
      const cookie = keep === null ? null : cookieOf(keep);
      const kept = [cookie === null ? null : hashCookie(cookie), keep === null ? null : addressKeyOf(keep)].filter((key) => key !== null);
      await tx.delete(deviceTable).where(and(eq(deviceTable.userId, userId), kept.length === 0 ? undefined : notInArray(deviceTable.cookieHash, kept)));
    },

    handOver(request, cookie) {
      request.appendHeader('Set-Cookie', `${DEVICE_COOKIE}=${cookie}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${COOKIE_SECONDS}`);
    },
  };
}
