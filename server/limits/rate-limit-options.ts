import { z } from 'zod';
import { positiveSeconds } from '../option-types.js';

export const rateLimitOptionsSchema = z
  .strictObject({
    /**
     * Wrong passwords checked per account (its address and username together) per window, from all
     * clients; beyond it every sign-in to the account fails as a wrong password does, unchecked.
     * At most 100 (NIST SP 800-63B §5.2.2). @default 100
     */
    loginFailuresPerAccount: z.number().int().min(1).max(100).default(100),
    /**
     * The part of `loginFailuresPerAccount` that clients the account does not know (no device
     * cookie of it, no session of it) may spend together; beyond it only its known devices and
     * sessions are checked, so a stranger can never lock those out. @default half of loginFailuresPerAccount, rounded up
     */
    loginFailuresPerAccountFromUnknownClients: z.number().int().min(1).optional(),
    /**
     * Wrong passwords per account and client per window (a known device or session, else the
     * client's address); beyond it that client's sign-ins to the account fail as a wrong password
     * does, unchecked, while other clients go on. @default 10
     */
    loginFailuresPerAccountPerClient: z.number().int().min(1).default(10),
    /** Failed sign-ins and refreshes per client IP per window; beyond it `RATE_LIMITED`. @default 100 */
    failuresPerIp: z.number().int().min(1).default(100),
    /**
     * Unknown bearer tokens and mailed-link tokens per client IP per window; beyond it, a token that
     * needs a database lookup answers `RATE_LIMITED` (tokens this node has cached still work). @default 100
     */
    tokenFailuresPerIp: z.number().int().min(1).default(100),
    /** @default 900 */
    windowSeconds: positiveSeconds.default(900),
    /** Mails of any kind to one address per hour; beyond it none is sent, and the answer is the same. @default 5 */
    mailsPerAddressPerHour: z.number().int().min(1).default(5),
    /**
     * Calls that send mail (sign-up, forgot, resend, magic link, email change) per client per hour;
     * beyond it `RATE_LIMITED` with `Retry-After`. @default 30
     */
    mailsPerClientPerHour: z.number().int().min(1).default(30),
    /**
     * Calls that hash a password or secret, per client IP per window, counted before they hash and
     * given back when they prove a secret (a right password, a spent link); beyond it `RATE_LIMITED`.
     * @default 200
     */
    hashesPerIp: z.number().int().min(1).default(200),
    /** Sessions started (every way of signing in) per client IP per window; beyond it `RATE_LIMITED`. @default 60 */
    sessionsPerIp: z.number().int().min(1).default(60),
    /** Sessions started per account per window, from all clients together; beyond it `RATE_LIMITED`. @default 100 */
    sessionsPerAccount: z.number().int().min(1).default(100),
    /** OAuth flows started (`oauth.start`, `oauth.link`) per client IP per window; beyond it `RATE_LIMITED`. @default 30 */
    oauthFlowsPerIp: z.number().int().min(1).default(30),
    /** Anonymous accounts made (`signInAnonymously`) per client IP per hour; beyond it `RATE_LIMITED`. @default 10 */
    anonymousSignInsPerIpPerHour: z.number().int().min(1).default(10),
  })
  .refine((limits) => (limits.loginFailuresPerAccountFromUnknownClients ?? 0) <= limits.loginFailuresPerAccount, {
    message: 'loginFailuresPerAccountFromUnknownClients is a part of loginFailuresPerAccount and cannot exceed it',
    path: ['loginFailuresPerAccountFromUnknownClients'],
  })
  .transform((limits) => ({
    ...limits,
    loginFailuresPerAccountFromUnknownClients: limits.loginFailuresPerAccountFromUnknownClients ?? Math.ceil(limits.loginFailuresPerAccount / 2),
  }));

export type RateLimitPolicy = z.output<typeof rateLimitOptionsSchema>;
