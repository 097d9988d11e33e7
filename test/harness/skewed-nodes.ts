import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createAuth, databaseClock } from '../../server/index.js';
import type { Auth, AuthOptions, Clock } from '../../server/index.js';
import { APP_URL } from './test-kit.js';
import type { TestKit } from './test-kit.js';
import { createTestHasher } from './test-hasher.js';

/** A node's own wall clock: the real time, off by what a test sets, and stepped while it runs. */
export interface SkewedClock extends Clock {
  skewMs: number;
}

export function createSkewedClock(skewMs: number): SkewedClock {
  const clock = { skewMs, now: () => Date.now() + clock.skewMs };
  return clock;
}

/** A node of a cluster in this process: its own kit, cache worker, listener and pool, on the suite's database. */
export interface SkewedNode {
  name: string;
  url: string;
  killed: boolean;
  auth: Auth;
  local: SkewedClock;
  close(): Promise<void>;
}

type NodeOptions = Omit<AuthOptions, 'db' | 'mail' | 'clock' | 'passwordHasher'>;

/**
 * Nodes named A, B, C… on `kit`'s database and SMTP server, each on the kit's default time authority
 * (`databaseClock`) over a wall clock of its own that stands `skewsMs[i]` off the real time (the
 * database's, which is right), served at `<url>/trpc/` as the reference server serves its router.
 */
export async function startSkewedNodes(kit: TestKit, skewsMs: readonly number[], options: NodeOptions = {}): Promise<SkewedNode[]> {
  return Promise.all(
    skewsMs.map(async (skewMs, index): Promise<SkewedNode> => {
      const local = createSkewedClock(skewMs);
      const auth = await createAuth({
        ...options,
        db: kit.database.db,
        mail: { transport: kit.smtp.transport, from: 'auth@app.example.test', appUrl: APP_URL, delivery: { spreadMs: 20 } },
        passwordHasher: createTestHasher(),
        // Measured every second, so that a test sees a stepped clock measured without waiting a minute.
        clock: databaseClock({ local, calibrateEverySeconds: 1 }),
        cleanup: { intervalMs: 0 },
        logger: { info() {}, warn() {}, error() {} },
      });
      const router = auth.router({
        auth: auth.authRouter,
        demo: auth.router({ whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id, sessionId: ctx.session.id })) }),
      });
      const server = createHTTPServer({ router, createContext: auth.createContext, basePath: '/trpc/' });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        name: String.fromCharCode(65 + index),
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        killed: false,
        auth,
        local,
        async close() {
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await auth.close();
        },
      };
    }),
  );
}
