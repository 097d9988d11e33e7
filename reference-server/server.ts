import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import nodemailer from 'nodemailer';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import type { AuthDatabase } from '../db/index.js';
import { createAuth } from '../server/index.js';
import type { Auth, Clock } from '../server/index.js';
import type { ReferenceServerConfig } from './config.js';
import { loadDemoPage } from './demo-build.js';
import { createOutboxTransport, serveOutbox } from './outbox.js';
import { serveOperations } from './operations.js';

/**
 * A node started while its database is down waits for it, and serves nothing until it has migrated
 * (and, inside `createAuth`, listens for revocations).
 */
async function migrateOnceReachable(db: AuthDatabase, log: (line: string) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await migrate(db);
      return;
    } catch (error) {
      if (attempt === 0) log(`waiting for the database: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 2000)));
    }
  }
}

/** The reference server's application router: the auth router and a protected `demo.whoami`. */
function referenceRouter(auth: Auth) {
  return auth.router({
    auth: auth.authRouter,
    demo: auth.router({
      whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id, sessionId: ctx.session.id })),
    }),
  });
}

/** What a client of the reference server imports to be typed. */
export type ReferenceRouter = ReturnType<typeof referenceRouter>;

/** Paths that serve the demo page: its home, and the landing pages of mailed links. */
const PAGE_ROUTES = new Set(['/', '/confirm-email', '/reset-password', '/magic-link', '/accept-invite', '/oauth/callback']);

/** The largest request body the server reads; auth inputs are far smaller. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The reference server: the auth router and `demo.whoami` at `/trpc`, and a demo page at `/` (also
 * served at `/confirm-email` and `/reset-password`, where the mailed links lead), and the page that
 * receives invitation links at `/accept-invite`, and where OAuth providers send the browser back at
 * `/oauth/callback`; `/healthz`, `/readyz` and `/metrics` for operators. `deps.clock` is a test's
 * clock; by default the server runs on the database's (docs/time.md).
 */
export async function startReferenceServer(config: ReferenceServerConfig, log: (line: string) => void = console.log, deps: { clock?: Clock } = {}) {
  // It listens from the start, so that probes hear from a node that still waits for its database;
  // everything but the probes answers 503 until the kit is built.
  let app: { auth: Auth; handle: RequestListener } | null = null;
  const server = createServer((req, res) => {
    if (serveOperations(req, res, { auth: app?.auth ?? null, metrics: { token: config.metricsToken, appUrl: config.appUrl } })) return;
    if (!app) return res.writeHead(503, { 'retry-after': '5' }).end();
    return app.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  log(`trpc-auth-kit reference server starting on ${url} (GET /readyz answers 200 once it serves)`);

  if (!/^postgres(ql)?:/.test(config.databaseUrl)) log(`opening PGlite in ${config.databaseUrl}…`);
  const db = await connectDatabase(config.databaseUrl);
  await migrateOnceReachable(db, log);
  const outbox = config.smtpUrl ? null : createOutboxTransport(join(config.dataDir, 'outbox'), log);
  const transport = outbox ?? nodemailer.createTransport(config.smtpUrl ?? '');

  const auth = await createAuth({
    db,
    mail: { transport, from: config.mailFrom, appUrl: config.appUrl },
    tokens: {
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
      refreshGraceSeconds: config.refreshGraceSeconds,
    },
    signup: { emailConfirmation: config.emailConfirmation },
    // The demo page runs in cookie mode, opened at APP_URL or at the address the server listens on.
    cookies: { allowedOrigins: [config.appUrl, `http://localhost:${config.port}`, `http://127.0.0.1:${config.port}`] },
    basic: { clients: config.basicClients },
    // The redirect URI to register at each provider is $APP_URL/oauth/callback, the demo page.
    oauth: { providers: config.oauthProviders },
    anonymous: { enabled: config.anonymous },
    // A test's clock, so that it moves time instead of waiting for it.
    ...(deps.clock && { clock: deps.clock }),
  });

  const appRouter = referenceRouter(auth);

  // A client this node already refuses is answered before its body is read or tRPC runs.
  const gate = auth.refusalGate({ router: appRouter, basePath: '/trpc/' });
  const trpc = gate.node(createHTTPHandler({ router: appRouter, createContext: auth.createContext, basePath: '/trpc/', maxBodySize: MAX_BODY_BYTES }));
  const demo = await loadDemoPage(log);
  const handle: RequestListener = (req, res) => {
    if (req.url?.startsWith('/trpc/')) return trpc(req, res);
    const path = req.url?.split('?')[0] ?? '/';
    if (path === '/dev/outbox') return serveOutbox(req, res, { outbox, appUrl: config.appUrl });
    // The page's own routes, where the mailed links lead, are the page itself.
    const file = demo.get(PAGE_ROUTES.has(path) ? '/index.html' : path);
    if (req.method !== 'GET' || !file) return res.writeHead(404).end();
    // The page reads a mailed token from its own URL: it must not leak to other origins.
    res.writeHead(200, { 'content-type': file.type, 'referrer-policy': 'no-referrer' });
    return res.end(file.body);
  };
  app = { auth, handle };
  log(`trpc-auth-kit reference server listening on ${url}${config.appUrl === url ? '' : ` (mailed links lead to ${config.appUrl})`}`);

  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await auth.close();
      await closeDatabase(db);
    },
  };
}

