import { z } from 'zod';
import type { AuthDatabase } from '../db/connect.js';
import { emailChangeOptionsSchema, invitationOptionsSchema, magicLinkOptionsSchema, passwordResetOptionsSchema, signupOptionsSchema } from './accounts/account-options.js';
import { anonymousOptionsSchema } from './anonymous/anonymous-options.js';
import { basicOptionsSchema } from './basic/basic-options.js';
import { auditOptionsSchema } from './audit/audit-options.js';
import { revocationListenerOptionsSchema, tokenCacheOptionsSchema } from './cache/cache-options.js';
import { cleanupOptionsSchema } from './cleanup/cleanup-options.js';
import type { AuthContextOptions } from './context.js';
import type { Clock, Logger, PasswordHasher, RandomSource } from './deps.js';
import { consoleLogger, systemRandom } from './deps.js';
import { databaseClock, isDatabaseClockRequest } from './database-clock.js';
import type { DatabaseClockRequest } from './database-clock.js';
import { rateLimitOptionsSchema } from './limits/rate-limit-options.js';
import { mailOptionsSchema } from './mail/mail-options.js';
import { oauthOptionsSchema, resolveOAuthOptions } from './oauth/oauth-options.js';
import { functionOption } from './option-types.js';
import { passwordOptionsSchema } from './passwords/password-options.js';
import { cookieOptionsSchema, deviceOptionsSchema, recentAuthOptionsSchema, refreshLimitOptionsSchema } from './sessions/session-options.js';
import { apiTokenOptionsSchema, tokenOptionsSchema } from './tokens/token-options.js';

/*
 * Every option is declared once, in the schema of the part it belongs to (its doc comment and
 * `@default` are there); this file puts the parts together. `AuthOptions` is what the schema
 * accepts and `ResolvedAuthOptions` what it returns, every default filled in.
 */

const optionsSchema = z
  .strictObject({
    /** The database, from `connectDatabase()` in `trpc-auth-kit/db`, already migrated. */
    db: z.custom<AuthDatabase>((db) => typeof db === 'object' && db !== null && '$client' in db, 'expected the database from connectDatabase()'),
    /** Where mail goes from, its links, templates and delivery (mail/mail-options.ts). */
    mail: mailOptionsSchema,
    /** Access and refresh tokens' lives, and what reuse ends (tokens/token-options.ts). */
    tokens: tokenOptionsSchema.prefault({}),
    /** Sign-up and the confirmation of its address. */
    signup: signupOptionsSchema.prefault({}),
    passwordReset: passwordResetOptionsSchema.prefault({}),
    /** Sign-in by a mailed link (`auth.magicLink.*`), for existing accounts. */
    magicLink: magicLinkOptionsSchema.prefault({}),
    emailChange: emailChangeOptionsSchema.prefault({}),
    invitations: invitationOptionsSchema.prefault({}),
    /** Anonymous users (`auth.signInAnonymously`); off unless enabled (anonymous/anonymous-options.ts). */
    anonymous: anonymousOptionsSchema.prefault({}),
    /** Personal API tokens (`auth.apiTokens.*`). */
    apiTokens: apiTokenOptionsSchema.prefault({}),
    /** The window in which a sign-in counts as recent (sessions/session-options.ts). */
    recentAuth: recentAuthOptionsSchema.prefault({}),
    /** How often one session may refresh (sessions/session-options.ts). */
    refreshLimit: refreshLimitOptionsSchema.prefault({}),
    /** Known devices, kept off the lock strangers can put on an account (sessions/session-options.ts). */
    devices: deviceOptionsSchema.prefault({}),
    /** HTTP Basic machine clients, per realm (`basicProcedure(realm)`, and the `admin` realm of `invite`). */
    basic: basicOptionsSchema,
    /** Sign-in with OAuth and OpenID Connect providers (`auth.oauth.*`, oauth/oauth-options.ts); none unless set. */
    oauth: oauthOptionsSchema,
    /** Every throttle's limit and window (limits/rate-limit-options.ts). */
    rateLimits: rateLimitOptionsSchema.prefault({}),
    /** Password rules, argon2id's cost and the hashing bulkhead (passwords/password-options.ts). */
    password: passwordOptionsSchema.prefault({}),
    /** How this node hears revocations made on other nodes (cache/cache-options.ts). */
    revocationListener: revocationListenerOptionsSchema.prefault({}),
    /**
     * The client's address, for per-client rate limits. By default the connection's peer (Node
     * adapters); behind a reverse proxy, read it from the header your proxy sets, and only from one
     * you trust. The fetch adapter has no peer: without this option, per-client limits are off there.
     */
    clientIp: functionOption<(opts: AuthContextOptions) => string | null>().optional(),
    /** Adds the application's own fields to every request's context. */
    context: functionOption<(opts: AuthContextOptions) => object>().optional(),
    /** Cookie mode for browsers; off unless set (sessions/session-options.ts). */
    cookies: cookieOptionsSchema.optional(),
    /** The in-memory token table (cache/cache-options.ts). */
    tokenCache: tokenCacheOptionsSchema.prefault({}),
    /** Deleting ended sessions, tokens, links and counters on a schedule (cleanup/cleanup-options.ts). */
    cleanup: cleanupOptionsSchema.prefault({}),
    /** An event for every sign-in, refresh, revocation and account change (audit/audit-options.ts). */
    audit: auditOptionsSchema.prefault({}),
    /**
     * The kit's time: every expiry, grace window and rate-limit window is judged by it (docs/time.md).
     * `databaseClock()` is the database's time as this node measures it; a plain `{ now }` is trusted
     * as it is, for tests that move time instead of waiting for it.
     * @default databaseClock()
     */
    clock: z
      .custom<Clock | DatabaseClockRequest>((clock) => isDatabaseClockRequest(clock) || typeof (clock as Clock | null)?.now === 'function', 'expected a clock (an object with now) or databaseClock()')
      .default(() => databaseClock()),
    /** @default the operating system's random bytes */
    // A function default is a factory to zod, hence the arrow returning the function itself.
    random: functionOption<RandomSource>().default(() => systemRandom),
    /**
     * Hashes and checks passwords; `password.memoryCost` and `timeCost` apply to the default only.
     * For tests that are not about hashing; a production server keeps the default.
     * @default argon2id at `password`'s parameters
     */
    passwordHasher: z
      .custom<PasswordHasher>((hasher) => typeof (hasher as PasswordHasher | null)?.verify === 'function' && typeof (hasher as PasswordHasher).hash === 'function', 'expected a hasher (hash and verify)')
      .optional(),
    /** @default the console */
    logger: z.custom<Logger>((logger) => typeof (logger as Logger | null)?.error === 'function', 'expected a logger (an object with error)').default(consoleLogger),
  })
  .transform(({ cookies, oauth, ...options }) => ({
    ...options,
    oauth: resolveOAuthOptions(oauth, { appUrl: options.mail.appUrl, signupEnabled: options.signup.enabled }),
    /** Null when cookie mode is off. */
    cookies: cookies ? { sameSite: cookies.sameSite, allowedOrigins: cookies.allowedOrigins ?? [new URL(options.mail.appUrl).origin] } : null,
  }));

/** The application's own context, typed: an application that names `TAppContext` passes `context`. */
interface AppContextOption<TAppContext extends object> {
  /** Adds the application's own fields to every request's context. */
  context?: (opts: AuthContextOptions) => TAppContext | Promise<TAppContext>;
}

/** What `createAuth` takes. Only `db` and `mail` are required. */
export type AuthOptions<TAppContext extends object = object> = Omit<z.input<typeof optionsSchema>, 'context'> & AppContextOption<TAppContext>;

/** The options with every default filled in. */
export type ResolvedAuthOptions<TAppContext extends object = object> = Omit<z.output<typeof optionsSchema>, 'context'> & AppContextOption<TAppContext>;

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
  // The schema checked that `context` is a function; its type is the application's.
  return { ...parsed.data, context: options.context };
}
