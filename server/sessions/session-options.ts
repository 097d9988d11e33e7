import { z } from 'zod';
import { positiveSeconds } from '../option-types.js';

/**
 * Minting an API token and ending other sessions need a recent authentication: a session that
 * signed in within this window, or the password sent with the call (`RECENT_AUTH_REQUIRED`
 * otherwise). Refreshing a session does not make it recent.
 */
export const recentAuthOptionsSchema = z.strictObject({
  /** @default 600 */
  windowSeconds: positiveSeconds.default(600),
});

/**
 * How often one session may refresh: at most `maxPerWindow` refreshes (rotations and grace
 * retries alike) in a window of `windowSeconds` that starts at the first one, and past them only the
 * grace retries of the last rotation (at most 20, never refused: a retry refused past the grace window
 * would come back as reuse), so at most `maxPerWindow` + 20 access tokens a window. Each refresh writes an
 * access token's row and a token-cache entry that lives for the token's lifetime, so a client
 * refreshing in a loop would otherwise crowd other users out of the cache. Past it `auth.refresh`
 * answers `RATE_LIMITED` with `Retry-After`: nothing rotates, and the token presented stays the
 * current one. Counted on the session's row in the rotation's own statement, so every node sees it.
 */
export const refreshLimitOptionsSchema = z.strictObject({
  /** Refreshes of one session a window admits: a client refreshing every few minutes, or every tab of a browser at once, never meets it. @default 60 */
  maxPerWindow: z.number().int().min(1).max(100_000).default(60),
  /** @default 60 */
  windowSeconds: positiveSeconds.max(86_400).default(60),
});

export type RefreshLimit = z.output<typeof refreshLimitOptionsSchema>;

/**
 * Known devices: every sign-in leaves the browser an `HttpOnly` `__Host-auth-device` cookie, and
 * an account keeps it off the lock strangers can put on it (`rateLimits`). Not a credential.
 */
export const deviceOptionsSchema = z.strictObject({
  /** Devices an account remembers, the newest; 0 sets no device cookie. @default 10 */
  maxPerUser: z.number().int().min(0).max(100).default(10),
  /**
   * Addresses an account remembers, the newest, from sign-ins that brought no device cookie (a
   * client that keeps none is known by its address); 0 remembers none. @default 10
   */
  addressesPerUser: z.number().int().min(0).max(100).default(10),
});

/**
 * Cookie mode for browsers: a client that asks for it (the client SDK's `cookieMode`) gets every
 * refresh token in an `HttpOnly`, `Secure`, `SameSite` cookie named `__Host-auth-refresh`, never
 * in a response body. A request that carries the cookie must be JSON from an allowed origin.
 * Off unless set.
 */
export const cookieOptionsSchema = z.strictObject({
  /** Origins whose pages may use the cookie. @default [the origin of mail.appUrl] */
  allowedOrigins: z
    .array(z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin))
    .min(1)
    .optional(),
  /** @default 'strict' */
  sameSite: z.enum(['strict', 'lax']).default('strict'),
});

/** Cookie mode as the kit runs it: null when it is off. */
export type CookiePolicy = Required<z.output<typeof cookieOptionsSchema>> | null;
