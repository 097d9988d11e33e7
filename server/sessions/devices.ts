import { hash } from 'node:crypto';
import { and, desc, eq, ne, notInArray } from 'drizzle-orm';
import type { Queryable } from '../../db/connect.js';
import { deviceTable } from '../../db/schema.js';
import type { AuthRequest } from '../context.js';
import { readCookie } from './cookie-header.js';
import type { Clock, RandomSource } from '../deps.js';

/*
 * Known devices. Every sign-in, whatever its method, leaves the browser a `__Host-auth-device` cookie:
 * 256 random bits, of which the database keeps only a SHA-256, beside the user who signed in. A
 * later sign-in to that account from that browser is recognised by it, so a stranger who makes the
 * account refuse the clients it does not know cannot lock this one out (throttles.ts). The cookie
 * opens nothing by itself: the password is still checked, and counted against the device.
 *
 * The cookie is `HttpOnly`, `Secure`, `SameSite=Strict` and lives 400 days, renewed by each sign-in;
 * the `__Host-` prefix keeps sibling subdomains from setting or shadowing it. A browser keeps one
 * cookie for every account signed in on it. An account remembers its newest `devices.maxPerUser`
 * devices, and forgets the others when its credentials may have been someone else's: a password
 * change or reset keeps only the device that made it; an address proven against a password someone
 * else set, and "sign out everywhere" (which a stolen token can call), keep none.
 */

const DEVICE_COOKIE = '__Host-auth-device';
const DEVICE_COOKIE_FORMAT = /^dv_[A-Za-z0-9_-]{43}$/;
const DEVICE_COOKIE_BYTES = 32;
/** Browsers cap a cookie's life at 400 days. */
const COOKIE_SECONDS = 400 * 24 * 3600;

/** The device a request's cookie names, and the accounts that signed in on it. */
export interface KnownDevice {
  cookieHash: string;
  userIds: ReadonlySet<string>;
}

export interface Devices {
  /** The device of the request's cookie and the accounts it is known to; null without a cookie. */
  recognise(db: Queryable, request: AuthRequest): Promise<KnownDevice | null>;
  /** The request's device cookie, or a new one for a browser without; null when devices are off (`devices.maxPerUser` 0). */
  cookieFor(request: AuthRequest): string | null;
  /** Records a sign-in of `userId` on the device of `cookie`, in the caller's transaction, and keeps the user's newest devices. */
  remember(tx: Queryable, cookie: string, userId: string): Promise<void>;
  /** Forgets every device of the user but the request's own (every one, with `keep` null). */
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

export function createDevices(deps: { maxPerUser: number; clock: Clock; random: RandomSource }): Devices {
  const { maxPerUser, clock, random } = deps;
  // The sign-ins of one batched request, on a browser that had no cookie yet, share one new device.
  const issued = new WeakMap<AuthRequest, string>();

  return {
    cookieFor(request) {
      if (maxPerUser === 0) return null;
      const cookie = cookieOf(request) ?? issued.get(request) ?? `dv_${Buffer.from(random(DEVICE_COOKIE_BYTES)).toString('base64url')}`;
      issued.set(request, cookie);
      return cookie;
    },

    async recognise(db, request) {
      const cookie = maxPerUser === 0 ? null : cookieOf(request);
      if (cookie === null) return null;
      const cookieHash = hashCookie(cookie);
      const rows = await db.select({ userId: deviceTable.userId }).from(deviceTable).where(eq(deviceTable.cookieHash, cookieHash));
      return { cookieHash, userIds: new Set(rows.map((row) => row.userId)) };
    },

    async remember(tx, cookie, userId) {
      const cookieHash = hashCookie(cookie);
      const now = new Date(clock.now());
      await tx
        .insert(deviceTable)
        .values({ cookieHash, userId, createdAt: now, lastSignedInAt: now })
        .onConflictDoUpdate({ target: [deviceTable.cookieHash, deviceTable.userId], set: { lastSignedInAt: now } });
      // This device and the newest others are kept; by exclusion, since devices can share a time.
      const newestOthers = tx
        .select({ cookieHash: deviceTable.cookieHash })
        .from(deviceTable)
        .where(and(eq(deviceTable.userId, userId), ne(deviceTable.cookieHash, cookieHash)))
        .orderBy(desc(deviceTable.lastSignedInAt))
        .limit(maxPerUser - 1);
      await tx
        .delete(deviceTable)
        .where(and(eq(deviceTable.userId, userId), ne(deviceTable.cookieHash, cookieHash), notInArray(deviceTable.cookieHash, newestOthers)));
    },

    async forget(tx, userId, keep) {
      const kept = keep === null ? null : cookieOf(keep);
      await tx
        .delete(deviceTable)
        .where(and(eq(deviceTable.userId, userId), kept === null ? undefined : ne(deviceTable.cookieHash, hashCookie(kept))));
    },

    handOver(request, cookie) {
      request.appendHeader('Set-Cookie', `${DEVICE_COOKIE}=${cookie}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${COOKIE_SECONDS}`);
    },
  };
}
