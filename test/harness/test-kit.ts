import type { AddressInfo } from 'node:net';
import { after, before, describe } from 'node:test';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { createAuth } from '../../server/index.js';
import type { AuthOptions, PasswordHasher } from '../../server/index.js';
import { createManualClock } from './clock.js';
import type { ManualClock } from './clock.js';
import { DATABASE_KINDS, openTestDatabase } from './database.js';
import type { DatabaseKind, TestDatabase } from './database.js';
import { startSmtpServer } from './smtp.js';
import type { SmtpServer } from './smtp.js';
import { createTestHasher } from './test-hasher.js';

export const APP_URL = 'https://app.example.test';

/**
 * `createAuth`'s options, but the parts the kit provides; of `mail`, what a test may vary. Passwords
 * are hashed by the fast test hasher unless a test is about hashing and asks for `'argon2id'`.
 */
type KitOptions = Omit<AuthOptions, 'db' | 'mail' | 'clock' | 'passwordHasher'> & {
  mail?: Pick<AuthOptions['mail'], 'delivery' | 'templates' | 'appName'>;
  passwordHasher?: PasswordHasher | 'argon2id';
};

/**
 * Without a `clientIp` option every call of a test comes from one client, 127.0.0.1, many at once:
 * the limits per client (mail, sessions, hashing) would then measure the test, not the kit. The
 * tests of those limits name their clients (`clientIp`) and get the kit's defaults.
 */
function perClientLimits(options: KitOptions): Pick<KitOptions, 'rateLimits' | 'password'> {
  if (options.clientIp) return {};
  return {
    rateLimits: { mailsPerClientPerHour: 100_000, sessionsPerIp: 100_000, hashesPerIp: 100_000, oauthFlowsPerIp: 100_000, ...options.rateLimits },
    password: { maxHashesPerClient: 64, ...options.password },
  };
}

async function buildApp(parts: { database: TestDatabase; smtp: SmtpServer; clock: ManualClock }, options: KitOptions) {
  const { database, smtp, clock } = parts;
  const { passwordHasher = createTestHasher(), ...kitOptions } = options;
  const auth = await createAuth({
    ...kitOptions,
    ...perClientLimits(options),
    // No cleaning on a timer behind a test's back (a test that moved the clock on would see rows go); the cleanup tests ask for it.
    cleanup: { intervalMs: 0, ...options.cleanup },
    ...(passwordHasher !== 'argon2id' && { passwordHasher }),
    db: database.db,
    // The work after an answer starts within 20 ms rather than a second: the same spreading, and the tests wait for its mail.
    mail: { ...options.mail, delivery: { spreadMs: 20, ...options.mail?.delivery }, transport: smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL },
    clock,
    logger: options.logger ?? { info() {}, warn() {}, error() {} },
  });
  const appRouter = auth.router({
    auth: auth.authRouter,
    demo: auth.router({
      whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id, sessionId: ctx.session.id })),
    }),
  });
  const server = createHTTPServer({ router: appRouter, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** A client of this app; `accessToken` goes in the Authorization header when given. */
  function client(accessToken?: string) {
    return createTRPCClient<typeof appRouter>({
      links: [
        httpLink({
          url,
          transformer: superjson,
          headers: (): Record<string, string> => (accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
        }),
      ],
    });
  }

  return {
    auth,
    url,
    client,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof buildApp>>;

/**
 * One database, one SMTP server, one clock, and an app (auth kit + HTTP server) on them; `variant`
 * starts another app with other options on the same database.
 */
export interface TestKit extends TestApp {
  kind: DatabaseKind;
  database: TestDatabase;
  smtp: SmtpServer;
  clock: ManualClock;
  variant(options: KitOptions): Promise<TestApp>;
  /**
   * An app of one test's own on the same database and SMTP server: its own clock, and all its calls
   * from one client address no other app uses (unless `clientIp` says otherwise), so what it counts
   * and the time it moves reach no other test.
   */
  ownApp(options?: KitOptions): Promise<TestApp & { clock: ManualClock }>;
}

let clientSequence = 0;
/** An address of the benchmarking range (RFC 2544) no other app of this process uses. */
function ownClientAddress(): string {
  clientSequence++;
  return `198.18.${clientSequence >> 8}.${clientSequence & 255}`;
}

async function startTestKit(kind: DatabaseKind, options: KitOptions): Promise<TestKit> {
  const database = await openTestDatabase(kind);
  const smtp = await startSmtpServer();
  const clock = createManualClock();
  const main = await buildApp({ database, smtp, clock }, options);
  const variants: TestApp[] = [];
  return {
    ...main,
    kind,
    database,
    smtp,
    clock,
    async variant(variantOptions) {
      const app = await buildApp({ database, smtp, clock }, variantOptions);
      variants.push(app);
      return app;
    },
    async ownApp(appOptions = {}) {
      const address = ownClientAddress();
      const ownClock = createManualClock();
      const app = await buildApp({ database, smtp, clock: ownClock }, { clientIp: () => address, ...appOptions });
      variants.push(app);
      return { ...app, clock: ownClock };
    },
    async close() {
      for (const app of [main, ...variants]) await app.close();
      await smtp.close();
      await database.close();
    },
  };
}

/**
 * Declares a suite once and runs it on PGlite and on PostgreSQL, each with its own database, SMTP
 * server and clock shared by the suite's tests.
 */
export function describeOnEachDatabase(name: string, body: (kit: () => TestKit) => void, options: KitOptions = {}): void {
  describeOn(DATABASE_KINDS, name, { body, options });
}

/** The same, on PostgreSQL alone: for what only a server has (several nodes, LISTEN/NOTIFY). */
export function describeOnPostgres(name: string, body: (kit: () => TestKit) => void, options: KitOptions = {}): void {
  describeOn(['postgres'], name, { body, options });
}

function describeOn(kinds: readonly DatabaseKind[], name: string, suite: { body: (kit: () => TestKit) => void; options: KitOptions }): void {
  const { body, options } = suite;
  for (const kind of kinds) {
    describe(`${name} [${kind}]`, () => {
      let kit: TestKit | undefined;
      before(async () => {
        kit = await startTestKit(kind, options);
      });
      after(async () => {
        await kit?.close();
      });
      body(() => {
        if (!kit) throw new Error('the test kit is not started yet');
        return kit;
      });
    });
  }
}

let sequence = 0;
/** An address no other test in this process uses. */
export function uniqueEmail(label = 'user'): string {
  return `${label}-${process.pid}-${++sequence}@example.test`;
}

export const PASSWORD = 'correct horse battery staple';
