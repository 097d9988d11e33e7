import { z } from 'zod';
import type { AuthDatabase } from '../db/connect.js';
import type { EmailConfirmationPolicy } from '../shared/types.js';
import type { Clock, Logger, RandomSource } from './deps.js';
import { consoleLogger, systemClock, systemRandom } from './deps.js';
import type { MailTemplates, MailTransport } from './mail/mailer.js';
import type { AuthContextOptions } from './context.js';
import type { BasicOptions } from './basic/basic-options.js';
import { basicOptionsSchema } from './basic/basic-options.js';
import { defaultConcurrentHashes, threadpoolSize } from './passwords/threadpool.js';

/** What `createAuth` takes. Only `db` and `mail` are required. */
export interface AuthOptions<TAppContext extends object = object> {
  /** The database, from `connectDatabase()` in `trpc-auth-kit/db`, already migrated. */
  db: AuthDatabase;
  mail: {
    /** A nodemailer transporter (`nodemailer.createTransport(…)`), or anything with its `sendMail`. */
    transport: MailTransport;
    /** The sender of every mail. */
    from: string;
    /** The origin every mailed link starts with; never taken from a request. */
    appUrl: string;
    /** Replaces the default template of any kind of mail. */
    templates?: Partial<MailTemplates>;
    /** The name every mail goes by. @default the host name of appUrl */
    appName?: string;
    /**
     * How mail leaves: through a queue in memory, retried while the transport fails (an SMTP outage
     * changes no answer and, within the attempts, loses no mail).
     */
    delivery?: {
      /** Tries per mail, the first included. @default 6 (the last about 5.7 minutes after the first) */
      attempts?: number;
      /** The wait before the second try; each later wait is four times longer. @default 1000 */
      firstRetryDelayMs?: number;
      /**
       * Mails of one kind (sign-up confirmations, password resets, …) waiting or due for a retry, at
       * most; beyond it a mail of that kind is dropped and logged. The kinds are sent in turn, so a
       * flood of one cannot delay or drop another. @default 500
       */
      maxQueuedPerKind?: number;
      /** Mails handed to the transport at once. @default 2 */
      concurrency?: number;
      /**
       * What a procedure does after answering, behind the mail it may send (finding the account,
       * writing the link, sending), starts at a random moment up to this long after the answer, in
       * the order the requests came: on PGlite it runs on the thread that serves the next request,
       * which would otherwise take longer right after an answer for an address with an account.
       * 0 starts it at once. @default 1000
       */
      spreadMs?: number;
    };
    /** Paths under `appUrl` that receive mailed links; the token travels as `?token=`. */
    paths?: {
      /** @default '/confirm-email' */
      confirmEmail?: string;
      /** @default '/reset-password' */
      resetPassword?: string;
      /** @default '/magic-link' */
      magicLink?: string;
      /** @default '/accept-invite' */
      acceptInvite?: string;
    };
  };
  tokens?: {
    /** @default 300 */
    accessTokenTtlSeconds?: number;
    /** The absolute lifetime of a session. @default null (never expires) */
    refreshTokenTtlSeconds?: number | null;
    /** A session unused for this long ends. @default null (no idle timeout) */
    refreshIdleTimeoutSeconds?: number | null;
    /** How long a just-rotated refresh token still returns its successor. @default 10 */
    refreshGraceSeconds?: number;
    /** What a reused refresh token ends: its own session, or every session of the user. @default 'session' */
    refreshReuseRevokes?: 'session' | 'user';
  };
  signup?: {
    /** @default true */
    enabled?: boolean;
    /** @default 'required' */
    emailConfirmation?: EmailConfirmationPolicy;
    /** How long a confirmation link works. @default 86400 (a day) */
    confirmationLinkTtlSeconds?: number;
  };
  passwordReset?: {
    /** How long a reset link works. @default 3600 (an hour) */
    linkTtlSeconds?: number;
  };
  /** Sign-in by a mailed link (`auth.magicLink.*`), for existing accounts. */
  magicLink?: {
    /** @default true */
    enabled?: boolean;
    /** How long a sign-in link works; at most 10 minutes. @default 600 */
    linkTtlSeconds?: number;
  };
  emailChange?: {
    /** How long the link mailed to the new address works. @default 86400 (a day) */
    linkTtlSeconds?: number;
  };
  invitations?: {
    /** How long an invitation link works. @default 604800 (7 days) */
    linkTtlSeconds?: number;
  };
  apiTokens?: {
    /** The lifetime of a new API token when its creator names none (at most 3650). @default 365 */
    expiresInDays?: number;
    /** A password change or reset ends every API token of the user. @default true */
    endWithCredentialChange?: boolean;
    /** Live API tokens one user may hold; past it `apiTokens.create` answers `API_TOKEN_LIMIT_REACHED`. @default 100 */
    maxPerUser?: number;
  };
  /**
   * Minting an API token and ending other sessions need a recent authentication: a session that
   * signed in within this window, or the password sent with the call (`RECENT_AUTH_REQUIRED`
   * otherwise). Refreshing a session does not make it recent.
   */
  recentAuth?: {
    /** @default 600 */
    windowSeconds?: number;
  };
  /**
   * Known devices: every sign-in leaves the browser an `HttpOnly` `__Host-auth-device` cookie, and
   * an account keeps it off the lock strangers can put on it (`rateLimits`). Not a credential.
   */
  devices?: {
    /** Devices an account remembers, the newest; 0 sets no device cookie. @default 10 */
    maxPerUser?: number;
    /**
     * Addresses an account remembers, the newest, from sign-ins that brought no device cookie (a
     * client that keeps none is known by its address); 0 remembers none. @default 10
     */
    addressesPerUser?: number;
  };
  /** HTTP Basic machine clients, per realm (`basicProcedure(realm)`, and the `admin` realm of `invite`). */
  basic?: BasicOptions;
  rateLimits?: {
    /**
     * Wrong passwords checked per account (its address and username together) per window, from all
     * clients; beyond it every sign-in to the account fails as a wrong password does, unchecked.
     * At most 100 (NIST SP 800-63B §5.2.2). @default 100
     */
    loginFailuresPerAccount?: number;
    /**
     * The part of `loginFailuresPerAccount` that clients the account does not know (no device
     * cookie of it, no session of it) may spend together; beyond it only its known devices and
     * sessions are checked, so a stranger can never lock those out. @default half of loginFailuresPerAccount, rounded up
     */
    loginFailuresPerAccountFromUnknownClients?: number;
    /**
     * Wrong passwords per account and client per window (a known device or session, else the
     * client's address); beyond it that client's sign-ins to the account fail as a wrong password
     * does, unchecked, while other clients go on. @default 10
     */
    loginFailuresPerAccountPerClient?: number;
    /** Failed sign-ins and refreshes per client IP per window; beyond it `RATE_LIMITED`. @default 100 */
    failuresPerIp?: number;
    /**
     * Unknown bearer tokens and mailed-link tokens per client IP per window; beyond it, a token that
     * needs a database lookup answers `RATE_LIMITED` (tokens this node has cached still work). @default 100
     */
    tokenFailuresPerIp?: number;
    /** @default 900 */
    windowSeconds?: number;
    /** Mails of any kind to one address per hour; beyond it none is sent, and the answer is the same. @default 5 */
    mailsPerAddressPerHour?: number;
    /**
     * Calls that send mail (sign-up, forgot, resend, magic link, email change) per client per hour;
     * beyond it `RATE_LIMITED` with `Retry-After`. @default 30
     */
    mailsPerClientPerHour?: number;
    /**
     * Calls that hash a password or secret, per client IP per window, counted before they hash and
     * given back when they prove a secret (a right password, a spent link); beyond it `RATE_LIMITED`.
     * @default 200
     */
    hashesPerIp?: number;
    /** Sessions started (every way of signing in) per client IP per window; beyond it `RATE_LIMITED`. @default 60 */
    sessionsPerIp?: number;
    /** Sessions started per account per window, from all clients together; beyond it `RATE_LIMITED`. @default 100 */
    sessionsPerAccount?: number;
  };
  password?: {
    /** Counted in Unicode code points. @default 12 */
    minLength?: number;
    /** argon2id memory in KiB; at least the OWASP minimum of 19456. @default 19456 */
    memoryCost?: number;
    /** argon2id iterations; at least 2. @default 2 */
    timeCost?: number;
    /**
     * How many hashes may run at once; more wait their turn. Each takes a thread of libuv's pool,
     * which must keep at least one for everything else (`createAuth` refuses more).
     * @default one per core, leaving two threads of the pool (UV_THREADPOOL_SIZE, 4 unless set) free
     */
    maxConcurrentHashes?: number;
    /** How many may wait; beyond that a call that would hash answers `RATE_LIMITED` at once. @default 64 */
    maxQueuedHashes?: number;
    /** Hashes one client may have running or waiting; beyond it `RATE_LIMITED` at once, counted nowhere. @default 4 */
    maxHashesPerClient?: number;
    /**
     * The least zxcvbn score (0 to 4) a new password must reach, judged against a dictionary of
     * common passwords, keyboard patterns and the account's own address and username; below it
     * `WEAK_PASSWORD`. 3 means about 10^8 guesses or more. @default 3
     */
    minStrength?: number;
    /**
     * The application's own check of a new password against known breaches (a k-anonymity range
     * lookup, say): true refuses it with `WEAK_PASSWORD`. A throw is logged and the password judged
     * without it.
     */
    isBreached?: (password: string) => Promise<boolean>;
  };
  /**
   * How this node hears revocations made on other nodes (PostgreSQL only; PGlite is one process).
   * A revoked token is refused everywhere at once while the listener hears, and within
   * `staleAfterMs + heartbeatIntervalMs` when its connection fails in any way.
   */
  revocationListener?: {
    /** A direct connection to the primary for LISTEN (not a transaction pooler). @default the pool's */
    connectionString?: string;
    /** @default 1000 */
    heartbeatIntervalMs?: number;
    /** At least twice `heartbeatIntervalMs`. @default 3000 */
    staleAfterMs?: number;
    /** `createAuth` fails if the listener cannot listen within this long. @default 30000 */
    startTimeoutMs?: number;
  };
  /**
   * The client's address, for per-client rate limits. By default the connection's peer (Node
   * adapters); behind a reverse proxy, read it from the header your proxy sets, and only from one
   * you trust. The fetch adapter has no peer: without this option, per-client limits are off there.
   */
  clientIp?: (opts: AuthContextOptions) => string | null;
  /** Adds the application's own fields to every request's context. */
  context?: (opts: AuthContextOptions) => TAppContext | Promise<TAppContext>;
  /**
   * Cookie mode for browsers: a client that asks for it (the client SDK's `cookieMode`) gets every
   * refresh token in an `HttpOnly`, `Secure`, `SameSite` cookie named `__Host-auth-refresh`, never
   * in a response body. A request that carries the cookie must be JSON from an allowed origin.
   * Off unless set.
   */
  cookies?: {
    /** Origins whose pages may use the cookie. @default [the origin of mail.appUrl] */
    allowedOrigins?: string[];
    /** @default 'strict' */
    sameSite?: 'strict' | 'lax';
  };
  tokenCache?: {
    /** How many access tokens the in-memory table holds; beyond that the soonest to expire go. @default 100000 */
    capacity?: number;
  };
  clock?: Clock;
  random?: RandomSource;
  logger?: Logger;
}

const positiveSeconds = z.number().int().positive();
// A path under appUrl: one leading slash (`//host` would leave appUrl's origin).
const linkPath = z.string().regex(/^\/(?!\/)[^\s]*$/, 'a path under appUrl, starting with a single /');
const aFunction = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'expected a function');

const optionsSchema = z.strictObject({
  db: z.custom<AuthDatabase>((db) => typeof db === 'object' && db !== null && '$client' in db, 'expected the database from connectDatabase()'),
  mail: z.strictObject({
    transport: z.custom<MailTransport>(
      (transport) => typeof (transport as MailTransport | null)?.sendMail === 'function',
      'expected a nodemailer transporter (an object with sendMail)',
    ),
    from: z.string().min(3),
    appUrl: z.url({ protocol: /^https?$/ }),
    templates: z.record(z.string(), aFunction).optional(),
    appName: z.string().min(1).max(100).optional(),
    delivery: z
      .strictObject({
        attempts: z.number().int().min(1).max(20).default(6),
        firstRetryDelayMs: z.number().int().min(1).max(600_000).default(1000),
        maxQueuedPerKind: z.number().int().min(1).default(500),
        concurrency: z.number().int().min(1).max(100).default(2),
        spreadMs: z.number().int().min(0).max(60_000).default(1000),
      })
      .prefault({}),
    paths: z
      .strictObject({ confirmEmail: linkPath.optional(), resetPassword: linkPath.optional(), magicLink: linkPath.optional(), acceptInvite: linkPath.optional() })
      .optional(),
  }),
  tokens: z
    .strictObject({
      accessTokenTtlSeconds: positiveSeconds.max(3600).default(300),
      refreshTokenTtlSeconds: positiveSeconds.nullable().default(null),
      refreshIdleTimeoutSeconds: positiveSeconds.nullable().default(null),
      refreshGraceSeconds: z.number().int().min(0).max(300).default(10),
      refreshReuseRevokes: z.enum(['session', 'user']).default('session'),
    })
    .prefault({}),
  signup: z
    .strictObject({
      enabled: z.boolean().default(true),
      emailConfirmation: z.enum(['required', 'optional', 'off']).default('required'),
      confirmationLinkTtlSeconds: positiveSeconds.default(86_400),
    })
    .prefault({}),
  rateLimits: z
    .strictObject({
      loginFailuresPerAccount: z.number().int().min(1).max(100).default(100),
      loginFailuresPerAccountFromUnknownClients: z.number().int().min(1).optional(),
      loginFailuresPerAccountPerClient: z.number().int().min(1).default(10),
      failuresPerIp: z.number().int().min(1).default(100),
      tokenFailuresPerIp: z.number().int().min(1).default(100),
      windowSeconds: positiveSeconds.default(900),
      mailsPerAddressPerHour: z.number().int().min(1).default(5),
      mailsPerClientPerHour: z.number().int().min(1).default(30),
      hashesPerIp: z.number().int().min(1).default(200),
      sessionsPerIp: z.number().int().min(1).default(60),
      sessionsPerAccount: z.number().int().min(1).default(100),
    })
    .refine((limits) => (limits.loginFailuresPerAccountFromUnknownClients ?? 0) <= limits.loginFailuresPerAccount, {
      message: 'loginFailuresPerAccountFromUnknownClients is a part of loginFailuresPerAccount and cannot exceed it',
      path: ['loginFailuresPerAccountFromUnknownClients'],
    })
    .transform((limits) => ({
      ...limits,
      loginFailuresPerAccountFromUnknownClients: limits.loginFailuresPerAccountFromUnknownClients ?? Math.ceil(limits.loginFailuresPerAccount / 2),
    }))
    .prefault({}),
  devices: z
    .strictObject({ maxPerUser: z.number().int().min(0).max(100).default(10), addressesPerUser: z.number().int().min(0).max(100).default(10) })
    .prefault({}),
  passwordReset: z.strictObject({ linkTtlSeconds: positiveSeconds.max(86_400).default(3600) }).prefault({}),
  magicLink: z.strictObject({ enabled: z.boolean().default(true), linkTtlSeconds: positiveSeconds.max(600).default(600) }).prefault({}),
  emailChange: z.strictObject({ linkTtlSeconds: positiveSeconds.max(7 * 86_400).default(86_400) }).prefault({}),
  invitations: z.strictObject({ linkTtlSeconds: positiveSeconds.max(30 * 86_400).default(7 * 86_400) }).prefault({}),
  apiTokens: z
    .strictObject({
      expiresInDays: z.number().int().min(1).max(3650).default(365),
      endWithCredentialChange: z.boolean().default(true),
      maxPerUser: z.number().int().min(1).max(10_000).default(100),
    })
    .prefault({}),
  recentAuth: z.strictObject({ windowSeconds: positiveSeconds.default(600) }).prefault({}),
  basic: basicOptionsSchema,
  password: z
    .strictObject({
      minLength: z.number().int().min(8).max(256).default(12),
      memoryCost: z.number().int().min(19_456).default(19_456),
      timeCost: z.number().int().min(2).default(2),
      maxConcurrentHashes: z
        .number()
        .int()
        .positive()
        .default(defaultConcurrentHashes)
        .refine((hashes) => hashes < threadpoolSize(), {
          message: `would take every thread of libuv's pool (${threadpoolSize()}, from UV_THREADPOOL_SIZE); set UV_THREADPOOL_SIZE higher where Node is started`,
        }),
      maxQueuedHashes: z.number().int().min(0).default(64),
      maxHashesPerClient: z.number().int().positive().default(4),
      minStrength: z.number().int().min(0).max(4).default(3),
      isBreached: aFunction.optional(),
    })
    .prefault({}),
  revocationListener: z
    .strictObject({
      connectionString: z.string().regex(/^postgres(ql)?:\/\//).optional(),
      heartbeatIntervalMs: z.number().int().min(50).max(60_000).default(1000),
      staleAfterMs: z.number().int().min(100).max(60_000).default(3000),
      startTimeoutMs: z.number().int().min(100).default(30_000),
    })
    .refine((listener) => listener.staleAfterMs >= 2 * listener.heartbeatIntervalMs, {
      message: 'staleAfterMs must be at least twice heartbeatIntervalMs, or every heartbeat would find the listener silent',
      path: ['staleAfterMs'],
    })
    .prefault({}),
  context: aFunction.optional(),
  clientIp: aFunction.optional(),
  cookies: z
    .strictObject({
      allowedOrigins: z.array(z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin)).min(1).optional(),
      sameSite: z.enum(['strict', 'lax']).default('strict'),
    })
    .optional(),
  tokenCache: z.strictObject({ capacity: z.number().int().min(16).max(16_777_216).default(100_000) }).prefault({}),
  clock: z.custom<Clock>((clock) => typeof (clock as Clock | null)?.now === 'function').optional(),
  random: aFunction.optional(),
  logger: z.custom<Logger>((logger) => typeof (logger as Logger | null)?.error === 'function').optional(),
});

type ParsedOptions = z.output<typeof optionsSchema>;

/** The options with every default filled in. */
export interface ResolvedAuthOptions<TAppContext extends object = object> {
  db: AuthDatabase;
  mail: AuthOptions['mail'] & { paths: { confirmEmail: string; resetPassword: string; magicLink: string; acceptInvite: string }; delivery: ParsedOptions['mail']['delivery'] };
  tokens: ParsedOptions['tokens'];
  signup: ParsedOptions['signup'];
  password: ParsedOptions['password'];
  passwordReset: ParsedOptions['passwordReset'];
  magicLink: ParsedOptions['magicLink'];
  emailChange: ParsedOptions['emailChange'];
  invitations: ParsedOptions['invitations'];
  apiTokens: ParsedOptions['apiTokens'];
  recentAuth: ParsedOptions['recentAuth'];
  basic: ParsedOptions['basic'];
  rateLimits: ParsedOptions['rateLimits'];
  devices: ParsedOptions['devices'];
  revocationListener: ParsedOptions['revocationListener'];
  context: AuthOptions<TAppContext>['context'];
  clientIp: AuthOptions['clientIp'];
  /** Null when cookie mode is off. */
  cookies: { allowedOrigins: string[]; sameSite: 'strict' | 'lax' } | null;
  tokenCache: ParsedOptions['tokenCache'];
  clock: Clock;
  random: RandomSource;
  logger: Logger;
}

/**
 * Checks every option and fills in the defaults. A wrong option stops `createAuth` with an error
 * that names it, rather than surfacing later as a confusing failure in some request.
 */
export function resolveOptions<TAppContext extends object>(options: AuthOptions<TAppContext>): ResolvedAuthOptions<TAppContext> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`);
    throw new Error(`createAuth: invalid options\n  ${problems.join('\n  ')}`);
  }
  const { tokens, signup, password, passwordReset, invitations, apiTokens, basic, rateLimits, revocationListener, cookies } = parsed.data;
  return {
    db: options.db,
    mail: {
      ...options.mail,
      delivery: parsed.data.mail.delivery,
      paths: {
        confirmEmail: options.mail.paths?.confirmEmail ?? '/confirm-email',
        resetPassword: options.mail.paths?.resetPassword ?? '/reset-password',
        magicLink: options.mail.paths?.magicLink ?? '/magic-link',
        acceptInvite: options.mail.paths?.acceptInvite ?? '/accept-invite',
      },
    },
    tokens,
    signup,
    password,
    passwordReset,
    magicLink: parsed.data.magicLink,
    emailChange: parsed.data.emailChange,
    invitations,
    apiTokens,
    recentAuth: parsed.data.recentAuth,
    basic,
    rateLimits,
    devices: parsed.data.devices,
    revocationListener,
    context: options.context,
    clientIp: options.clientIp,
    cookies: cookies ? { sameSite: cookies.sameSite, allowedOrigins: cookies.allowedOrigins ?? [new URL(options.mail.appUrl).origin] } : null,
    tokenCache: parsed.data.tokenCache,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger ?? consoleLogger,
  };
}
