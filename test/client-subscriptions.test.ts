import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import { SKIP_AUTH, authHeaders, authLink, createAuthSession } from '../client/index.js';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createAuth } from '../server/index.js';
import { createManualClock } from './harness/clock.js';
import { PASSWORD } from './harness/test-kit.js';

const ACCESS_TOKEN_TTL_SECONDS = 60;

async function startApp() {
  const db = await connectDatabase();
  await migrate(db);
  const clock = createManualClock();
  const auth = await createAuth({
    db,
    mail: { transport: { sendMail: () => Promise.resolve({}) }, from: 'app@example.test', appUrl: 'http://localhost' },
    signup: { emailConfirmation: 'off' },
    tokens: { accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS },
    clock,
    logger: { info() {}, warn() {}, error() {} },
  });
  const router = auth.router({
    auth: auth.authRouter,
    countdown: auth.protectedProcedure.subscription(async function* ({ ctx }) {
      for (const left of [3, 2, 1]) {
        await new Promise((resolve) => setImmediate(resolve));
        yield { left, userId: ctx.user.id };
      }
    }),
  });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    router,
    clock,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.close();
      await auth.close();
      await closeDatabase(db);
    },
  };
}

describe('subscriptions over SSE with the auth link', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    app = await startApp();
  });
  after(() => app.close());

  it('a subscription opened with an expired token refreshes once and streams', async () => {
    const refreshes: string[] = [];
    // The client's clock lags: it opens the stream with a token the server finds expired.
    const session = createAuthSession({
      now: () => Date.now() - 3_600_000,
      refresh: async (refreshToken) => {
        refreshes.push(refreshToken ?? '');
        return (await trpc.auth.refresh.mutate({ refreshToken }, { context: SKIP_AUTH })).tokens;
      },
    });
    const headers = authHeaders(session);
    const trpc = createTRPCClient<typeof app.router>({
      links: [
        authLink(session),
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({
            url: app.url,
            transformer: superjson,
            EventSource,
            // The `eventsource` package sends headers through the fetch it is given.
            eventSourceOptions: async ({ op }) => {
              const bearer = await headers({ op });
              return { fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...bearer } }) };
            },
          }),
          false: httpBatchLink({ url: app.url, transformer: superjson, headers }),
        }),
      ],
    });
    const { tokens } = await trpc.auth.register.mutate({ email: 'sse@example.test', password: PASSWORD }, { context: SKIP_AUTH });
    assert.ok(tokens);
    await session.signIn(tokens);
    app.clock.advanceSeconds(ACCESS_TOKEN_TTL_SECONDS + 1);

    const received = await new Promise<number[]>((resolve, reject) => {
      const lefts: number[] = [];
      const subscription = trpc.countdown.subscribe(undefined, {
        onData: ({ left }) => {
          lefts.push(left);
          if (left === 1) {
            subscription.unsubscribe();
            resolve(lefts);
          }
        },
        onError: reject,
      });
    });
    assert.deepEqual(received, [3, 2, 1]);
    assert.equal(refreshes.length, 1);
    await session.close();
  });
});
