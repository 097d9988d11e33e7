import { createAccessTokens } from './tokens/access-tokens.js';
import type { AccessAuthorization } from './tokens/access-tokens.js';
import { createAuthRouter } from './auth-router.js';
import { createBearerCheck, createGuardedProtectMiddleware, createProtectMiddleware } from './middleware/bearer.js';
import type { AuthBaseContext, AuthContextOptions } from './context.js';
import { readAuthRequest, readPeerAddress } from './context.js';
import type { AuthKernel } from './kernel.js';
import { createMailer } from './mail/mailer.js';
import type { AuthOptions } from './options.js';
import { resolveOptions } from './options.js';
import { createPasswordHasher } from './passwords/passwords.js';
import { createHashingBulkhead } from './passwords/hashing-bulkhead.js';
import { createHashingTurns } from './passwords/hashing-turns.js';
import { createPasswordStrength } from './passwords/password-strength.js';
import { createSessions } from './sessions/sessions.js';
import { createBackgroundTasks } from './background.js';
import { createRateLimiter } from './limits/rate-limits.js';
import { rememberRefusals } from './limits/refusal-memory.js';
import { createRefreshCookie } from './sessions/refresh-cookie.js';
import { createDevices } from './sessions/devices.js';
import { createThrottles } from './limits/throttles.js';
import { createAuthTRPC } from './trpc.js';
import { createAuditTrail } from './audit/audit-trail.js';
import { createServerAdmin } from './admin/server-admin.js';
import { assertMigrated } from './assert-migrated.js';
import { startTokenCache } from './cache/token-cache.js';
import { ScopeSets } from './cache/scope-sets.js';
import { createApiTokens } from './tokens/api-tokens.js';
import { createBasicCheck } from './basic/basic-check.js';
import { createBasicMiddlewares } from './basic/basic-middleware.js';
import { revokeInvitation, sendInvitation } from './accounts/invitations.js';
import { requireScopes } from './tokens/scopes.js';
import { createTokenCheck } from './tokens/token-check.js';
import { createTokenFailures } from './tokens/token-failures.js';
import { createLinkTokenGuard } from './middleware/link-token-guard.js';
import { createRefusalGate } from './middleware/refusal-gate.js';
import type { RefusalGate, RefusalGateOptions } from './middleware/refusal-gate.js';
import { emailSchema, metaSchema } from '../shared/schemas.js';
import { revocationListenerFor } from './cache/listener-connection.js';
import { databaseUnavailableMiddleware } from './middleware/database-unavailable.js';
import { countRefusals } from './metrics/rate-limit-refusals.js';
import { countTokenChecks } from './metrics/token-check-counts.js';
import { readAuthMetrics } from './metrics/auth-metrics.js';
import type { AuthMetrics } from './metrics/auth-metrics.js';
import { createMetricsRegistry } from './metrics/prometheus.js';
import { createReadinessCheck } from './health/readiness.js';
import { startCleaner } from './cleanup/cleaner.js';
import { deleteUnusedAnonymousUsers } from './anonymous/unused-anonymous.js';
import { longestWindowSeconds } from './limits/throttles.js';
import { isDatabaseClockRequest, startDatabaseClock } from './database-clock.js';
import type { Clock } from './deps.js';

/** How the application builds its own fields of every request's context. */
export type AppContextBuilder<TAppContext extends object> = NonNullable<AuthOptions<TAppContext>['context']>;

/**
 * Builds the auth kit: the auth router, the procedures an application builds its own routers from,
 * and the context function for its tRPC adapter. An application that names its own context type
 * must pass `context`, the function that builds it: without it no request would carry those fields.
 *
 * @example
 * const auth = await createAuth({ db, mail: { transport, from: 'app@example.com', appUrl } });
 * const appRouter = auth.router({ auth: auth.authRouter, todos: todosRouter });
 * createHTTPServer({ router: appRouter, createContext: auth.createContext }).listen(3000);
 * export type AppRouter = typeof appRouter;
 */
export function createAuth<TAppContext extends object>(options: AuthOptions<TAppContext> & { context: AppContextBuilder<TAppContext> }): Promise<Auth<TAppContext>>;
export function createAuth(options: AuthOptions): Promise<Auth>;
export function createAuth<TAppContext extends object>(options: AuthOptions<TAppContext>): Promise<Auth<TAppContext>> | Promise<Auth> {
  return options.context === undefined ? buildAuth<object>(options, () => ({})) : buildAuth(options, options.context);
}

async function buildAuth<TAppContext extends object>(options: AuthOptions<TAppContext>, appContextFor: AppContextBuilder<TAppContext>) {
  const resolved = resolveOptions(options);
  const { db, clock: clockOption, random, logger, ...policy } = resolved;
  await assertMigrated(db);
  // Read only once the cache exists; the clock must exist before it, since the cache reads the time.
  let listenerConnects = () => 0;
  const databaseTime = isDatabaseClockRequest(clockOption)
    ? await startDatabaseClock({ db, request: clockOption, logger, listenerConnects: () => listenerConnects() })
    : null;
  const clock: Clock = databaseTime ?? (clockOption as Clock);
  const cache = await startTokenCache({
    capacity: resolved.tokenCache.capacity,
    listener: revocationListenerFor(resolved),
    startTimeoutMs: resolved.revocationListener.startTimeoutMs,
    maxEntryAgeMs: resolved.tokenCache.maxEntryAgeSeconds * 1000,
    logger,
    now: () => clock.now(),
  });

  listenerConnects = () => cache.listenerStats(Date.now())?.connects ?? 0;

  const audit = createAuditTrail({
    db,
    clock,
    logger,
    onEvent: resolved.audit.onEvent ?? null,
    store: resolved.audit.store ? { retentionDays: resolved.audit.retentionDays } : null,
  });
  const accessTokens = createAccessTokens({ db, cache, clock, random, ttlSeconds: resolved.tokens.accessTokenTtlSeconds });
  const background = createBackgroundTasks({ logger, random, spreadMs: resolved.mail.delivery.spreadMs });
  const apiTokens = createApiTokens({
    db,
    cache,
    scopeSets: new ScopeSets({ setsInUse: () => cache.scopeSetsInUse(), now: () => clock.now() }),
    clock,
    random,
    background,
    audit,
    defaultExpiresInDays: resolved.apiTokens.expiresInDays,
    maxPerUser: resolved.apiTokens.maxPerUser,
  });
  // A client already refused is refused again from memory: a flood past its allowance costs no query.
  const refusalMemory = rememberRefusals(createRateLimiter({ db, clock }), { now: () => clock.now() });
  const { limiter, refusals: rateLimitRefusals, count: countRefusal } = countRefusals(refusalMemory);
  const tokenFailures = createTokenFailures({
    limiter,
    limit: { max: resolved.rateLimits.tokenFailuresPerIp, windowSeconds: resolved.rateLimits.windowSeconds },
    now: () => clock.now(),
    logger,
  });
  const uncountedCheckToken = createTokenCheck({ cache, accessTokens, apiTokens, failures: tokenFailures, clock });
  const { check: checkToken, counts: tokenCheckCounts } = countTokenChecks(uncountedCheckToken);
  const { appName } = resolved.mail;
  const authenticate = createBearerCheck(checkToken, { realm: appName });
  const mailer = createMailer({ transport: resolved.mail.transport, from: resolved.mail.from, templates: resolved.mail.templates, appName, delivery: resolved.mail.delivery, logger });
  const throttles = createThrottles(limiter, resolved.rateLimits);
  const bulkhead = createHashingBulkhead({
    maxRunning: resolved.password.maxConcurrentHashes,
    maxQueued: resolved.password.maxQueuedHashes,
    maxPerClient: resolved.password.maxHashesPerClient,
  });
  const hashing = createHashingTurns({ hasher: resolved.passwordHasher ?? createPasswordHasher(resolved.password), bulkhead, throttles });
  const basic = createBasicMiddlewares(
    createBasicCheck({ policy: resolved.basic, windowSeconds: resolved.rateLimits.windowSeconds, limiter, hashing, logger }),
    resolved.basic.errorVerbosity,
  );
  const kernel: AuthKernel = {
    options: policy,
    db,
    clock,
    random,
    logger,
    hashing,
    passwordStrength: createPasswordStrength({ minStrength: resolved.password.minStrength, isBreached: options.password?.isBreached }, logger),
    apiTokens,
    sessions: createSessions({
      db,
      cache,
      accessTokens,
      clock,
      random,
      audit,
      tokens: resolved.tokens,
      refreshLimit: resolved.refreshLimit,
      apiTokensEndWithCredentialChange: resolved.apiTokens.endWithCredentialChange,
      admit: (origin, userId, succeeded) => throttles.admitSession(origin, userId, succeeded),
    }),
    mailer,
    authenticate,
    checkToken,
    basic,
    throttles,
    tokenFailures,
    linkTokenGuard: createLinkTokenGuard({ failures: tokenFailures, clock }),
    background,
    refreshCookie: createRefreshCookie({ cookies: resolved.cookies, clock }),
    devices: createDevices({ ...resolved.devices, clock, random }),
    audit,
  };

  const admin = createServerAdmin(kernel);
  const authRouter = createAuthRouter(kernel);

  /** Who a request's client is, for `createContext` and the refusal gate alike. */
  const clientIpOf = (opts: AuthContextOptions): string | null => (resolved.clientIp ? resolved.clientIp(opts) : readPeerAddress(opts));

  type Context = AuthBaseContext & TAppContext;
  const t = createAuthTRPC<Context>();
  // A database outage answers 503 from every procedure built here, the bearer check's read included.
  const publicProcedure = t.procedure.use(databaseUnavailableMiddleware);
  const protect = createProtectMiddleware(authenticate);
  // The outage guard and the bearer check in one step of tRPC's chain: the same answers, cheaper.
  const protectedProcedure = t.procedure.use(createGuardedProtectMiddleware(authenticate));
  const strictBasicProcedure = (realm: string) => publicProcedure.use(basic.basic(realm));
  const advertisedBasicProcedure = (realm: string) => publicProcedure.use(basic.advertised(realm));

  /**
   * A procedure for HTTP Basic clients of `realm`: `ctx.client` is `{ id, realm }`; anything else
   * gets 401 with the realm's challenge. With `advertise`, a request without Basic credentials goes
   * on (`ctx.client` null) to the checks that follow, and a 401 they answer carries the realm's
   * challenge beside theirs.
   */
  function basicProcedure(realm: string): ReturnType<typeof strictBasicProcedure>;
  function basicProcedure(realm: string, options: { advertise: true }): ReturnType<typeof advertisedBasicProcedure>;
  function basicProcedure(realm: string, options?: { advertise: true }) {
    return options?.advertise ? advertisedBasicProcedure(realm) : strictBasicProcedure(realm);
  }

  const cleaner = startCleaner({
    db,
    clock,
    random,
    logger,
    policy: {
      ...resolved.cleanup,
      accessTokenTtlSeconds: resolved.tokens.accessTokenTtlSeconds,
      refreshIdleTimeoutSeconds: resolved.tokens.refreshIdleTimeoutSeconds,
      counterLifetimeSeconds: longestWindowSeconds(resolved.rateLimits),
    },
    sweepAnonymous: (batch) => deleteUnusedAnonymousUsers(kernel, batch),
  });
  let closed = false;
  const readiness = createReadinessCheck({ db, cacheTrusted: () => cache.trusted, closed: () => closed });
  const metrics = (): AuthMetrics =>
    readAuthMetrics({
      tokenChecks: tokenCheckCounts,
      cache,
      capacity: resolved.tokenCache.capacity,
      hashing: () => bulkhead.stats(),
      rateLimitRefusals,
      mail: () => mailer.stats(),
      cleanup: () => cleaner.stats(),
      clock: () => databaseTime?.stats() ?? null,
    });

  async function settled(): Promise<void> {
    await background.drain();
    await mailer.flush();
    await audit.drain();
  }

  async function createContext(opts: AuthContextOptions): Promise<Context> {
    const appContext = await appContextFor(opts);
    const authRequest = readAuthRequest(opts);
    if (resolved.clientIp) authRequest.ip = clientIpOf(opts);
    return { ...appContext, authRequest };
  }

  return {
    /** Every auth procedure; mount it in the application's router (conventionally as `auth`). */
    authRouter,
    /** tRPC's `router`, on the kit's instance: build the application's routers with it. */
    router: t.router,
    /** tRPC's `mergeRouters`, on the kit's instance. */
    mergeRouters: t.mergeRouters,
    /** A procedure anyone may call, with the application's context. */
    publicProcedure,
    /**
     * A procedure that needs a valid access token or API token: `ctx.user` and `ctx.session` are set
     * (`ctx.session.scopes` is null for a session's token, an API token's scopes otherwise).
     */
    protectedProcedure,
    /** A middleware for after `protectedProcedure`: an API token must carry every one of these scopes (403 otherwise). */
    requireScopes,
    basicProcedure,
    /** The context function for the standalone, Express and fetch adapters. */
    createContext,
    /**
     * A gate for the tRPC handler serving `router`: a client this node already refuses
     * (`RATE_LIMITED`) is answered 429 with `Retry-After`, and a protected call without a token or
     * with a malformed one 401, before the body is read and before tRPC runs, with the answer tRPC
     * would give. `gate.node(handler)` for the standalone and Express
     * adapters, `gate.fetch(handler)` for the fetch adapter.
     *
     * @example
     * const gate = auth.refusalGate({ router: appRouter, basePath: '/trpc/' });
     * createServer(gate.node(createHTTPHandler({ router: appRouter, createContext: auth.createContext, basePath: '/trpc/' })));
     */
    refusalGate(gateOptions: RefusalGateOptions): RefusalGate {
      return createRefusalGate(
        {
          refusals: refusalMemory,
          tokenFailures,
          checkToken: uncountedCheckToken,
          clientIpOf,
          procedures: { login: authRouter._def.procedures.login, register: authRouter._def.procedures.register },
          registerCountsFailures: resolved.signup.emailConfirmation !== 'required',
          realm: appName,
          counted(refusal) {
            // Where tRPC would have counted the same refusal: a token's among the token checks.
            if ('key' in refusal) countRefusal(refusal.key);
            else tokenCheckCounts.memory[refusal.tokenCheck]++;
          },
        },
        gateOptions,
      );
    },
    /**
     * Checks an access token or an API token the way `protectedProcedure` does, outside tRPC: an API
     * token's authorization carries its scopes (a session token's, null). Null when the token is
     * malformed, unknown, expired or revoked, or when `clientIp` (given, the client's unknown tokens
     * are limited as `protectedProcedure` limits them) is over its allowance.
     */
    async verifyAccessToken(token: string, clientIp: string | null = null): Promise<AccessAuthorization | null> {
      const check = await checkToken(token, clientIp);
      return check.ok ? check.authorization : null;
    },
    /** Invites an address, as `auth.invite` does, from a script or the server's own code. */
    async invite(invitation: { email: string; meta?: Record<string, unknown> }): Promise<{ ok: true }> {
      await sendInvitation(kernel, { email: emailSchema.parse(invitation.email), meta: invitation.meta && metaSchema.parse(invitation.meta) });
      return { ok: true };
    },
    /** Takes back an invitation not yet accepted, as `auth.revokeInvitation` does. */
    async revokeInvitation(email: string): Promise<{ ok: true }> {
      await revokeInvitation(kernel, emailSchema.parse(email));
      return { ok: true };
    },
    /** Gives a user a role (`'admin'` may invite and administer); false when there is no such user. */
    grantRole: (userId: string, role: string): Promise<boolean> => admin.users.grantRole(userId, role),
    /** Takes a role away; false when there is no such user. */
    revokeRole: (userId: string, role: string): Promise<boolean> => admin.users.revokeRole(userId, role),
    /** What `auth.admin.*` does, for the server's own code: users (find, disable, delete, …) and the audit trail. */
    admin,
    /** For an application that keeps its own tRPC instance: the check behind `protectedProcedure`. */
    protectMiddleware: protect,
    /**
     * For an application that keeps its own tRPC instance, first on its procedures: a database that
     * is down or does not answer in time makes a 503 `SERVICE_UNAVAILABLE` with `Retry-After`, not a 500.
     */
    databaseUnavailableMiddleware,
    /**
     * Resolves once the mail and other work that calls started after answering is done: sent, or
     * given up on after its retries, and logged. For graceful shutdowns and tests.
     */
    settled,
    /**
     * Whether this node should get traffic: the database answers (within a second) and the token
     * cache is trusted (on PostgreSQL: the listener listens, and flushed the cache after it last
     * connected). The reference server serves it as `GET /readyz`.
     */
    readiness,
    /** This node's figures now: token checks, cache, listener, hashing, rate limits, mail, cleanup. */
    metrics,
    /**
     * The same figures for Prometheus, in a prom-client Registry of the kit's own, read at each
     * scrape: serve `await auth.metricsRegistry.metrics()` with `auth.metricsRegistry.contentType`.
     */
    metricsRegistry: createMetricsRegistry(metrics),
    /** Runs the cleanup now (see the `cleanup` option) and says what it deleted. */
    cleanUp: () => cleaner.run(),
    /**
     * Finishes the work calls started, waits for mail being sent (mail waiting for a retry is
     * dropped and logged), and stops the cleanup, the token cache's worker and its listener.
     */
    async close(): Promise<void> {
      closed = true;
      await cleaner.stop();
      await background.drain();
      await audit.drain();
      await mailer.close();
      await cache.close();
      databaseTime?.stop();
    },
  };
}

/** What `createAuth` returns. */
export type Auth<TAppContext extends object = object> = Awaited<ReturnType<typeof buildAuth<TAppContext>>>;
