import { createAccessTokens } from './access-tokens.js';
import type { AccessAuthorization } from './access-tokens.js';
import { createAuthRouter } from './auth-router.js';
import { createBearerCheck, createProtectMiddleware } from './bearer.js';
import type { AuthBaseContext, AuthContextOptions } from './context.js';
import { readAuthRequest } from './context.js';
import type { AuthKernel } from './kernel.js';
import { createMailer } from './mail/mailer.js';
import type { AuthOptions } from './options.js';
import { resolveOptions } from './options.js';
import { createPasswordHasher } from './passwords.js';
import { createSessions } from './sessions.js';
import { createBackgroundTasks } from './background.js';
import { createRateLimiter } from './rate-limits.js';
import { createRefreshCookie } from './refresh-cookie.js';
import { createThrottles } from './throttles.js';
import { createAuthTRPC } from './trpc.js';
import { assertMigrated } from './assert-migrated.js';
import { startTokenCache } from './cache/token-cache.js';
import { revocationListenerFor } from './cache/listener-connection.js';

/**
 * Builds the auth kit: the auth router, the procedures an application builds its own routers from,
 * and the context function for its tRPC adapter.
 *
 * @example
 * const auth = await createAuth({ db, mail: { transport, from: 'app@example.com', appUrl } });
 * const appRouter = auth.router({ auth: auth.authRouter, todos: todosRouter });
 * createHTTPServer({ router: appRouter, createContext: auth.createContext }).listen(3000);
 * export type AppRouter = typeof appRouter;
 */
export async function createAuth<TAppContext extends object = object>(options: AuthOptions<TAppContext>) {
  const resolved = resolveOptions(options);
  const { db, clock, random, logger } = resolved;
  await assertMigrated(db);
  const cache = await startTokenCache({
    capacity: resolved.tokenCache.capacity,
    listener: revocationListenerFor(resolved),
    startTimeoutMs: resolved.revocationListener.startTimeoutMs,
    logger,
    now: () => clock.now(),
  });

  const accessTokens = createAccessTokens({ db, cache, clock, random, ttlSeconds: resolved.tokens.accessTokenTtlSeconds });
  const authenticate = createBearerCheck(accessTokens);
  const mailer = createMailer({ transport: resolved.mail.transport, from: resolved.mail.from, templates: resolved.mail.templates, delivery: resolved.mail.delivery, logger });
  const background = createBackgroundTasks(logger);
  const kernel: AuthKernel = {
    options: resolved,
    db,
    clock,
    random,
    logger,
    passwords: createPasswordHasher(resolved.password),
    accessTokens,
    sessions: createSessions({ db, cache, accessTokens, clock, random, tokens: resolved.tokens }),
    mailer,
    authenticate,
    throttles: createThrottles(createRateLimiter({ db, clock }), resolved.rateLimits),
    background,
    refreshCookie: createRefreshCookie({ cookies: resolved.cookies, clock }),
  };

  type Context = AuthBaseContext & TAppContext;
  const t = createAuthTRPC<Context>();
  const publicProcedure = t.procedure;
  const protect = createProtectMiddleware(authenticate);
  const protectedProcedure = t.procedure.use(protect);

  async function settled(): Promise<void> {
    await background.drain();
    await mailer.flush();
  }

  async function createContext(opts: AuthContextOptions): Promise<Context> {
    const appContext = resolved.context ? await resolved.context(opts) : ({} as TAppContext);
    const authRequest = readAuthRequest(opts);
    if (resolved.clientIp) authRequest.ip = resolved.clientIp(opts);
    return { ...appContext, authRequest };
  }

  return {
    /** Every auth procedure; mount it in the application's router (conventionally as `auth`). */
    authRouter: createAuthRouter(kernel),
    /** tRPC's `router`, on the kit's instance: build the application's routers with it. */
    router: t.router,
    /** tRPC's `mergeRouters`, on the kit's instance. */
    mergeRouters: t.mergeRouters,
    /** A procedure anyone may call, with the application's context. */
    publicProcedure,
    /** A procedure that needs a valid access token: `ctx.user` and `ctx.session` are set. */
    protectedProcedure,
    /** The context function for the standalone, Express and fetch adapters. */
    createContext,
    /**
     * Checks an access token the way `protectedProcedure` does, outside tRPC. Null when the token
     * is malformed, unknown, expired or revoked.
     */
    async verifyAccessToken(token: string): Promise<AccessAuthorization | null> {
      const check = await accessTokens.check(token);
      return check.ok ? check.authorization : null;
    },
    /** For an application that keeps its own tRPC instance: the check behind `protectedProcedure`. */
    protectMiddleware: protect,
    /**
     * Resolves once the mail and other work that calls started after answering is done: sent, or
     * given up on after its retries, and logged. For graceful shutdowns and tests.
     */
    settled,
    /**
     * Finishes the work calls started, waits for mail being sent (mail waiting for a retry is
     * dropped and logged), and stops the token cache's worker and its listener.
     */
    async close(): Promise<void> {
      await background.drain();
      await mailer.close();
      await cache.close();
    },
  };
}

/** What `createAuth` returns. */
export type Auth<TAppContext extends object = object> = Awaited<ReturnType<typeof createAuth<TAppContext>>>;
