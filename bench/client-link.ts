import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { createAuthClient } from '../client/index.js';
import { closeDatabase, connectDatabase, migrate } from '../db/index.js';
import { createAuth } from '../server/index.js';

/**
 * What the client SDK adds to a call: `createAuthClient` (auth link, bearer headers, expiry check)
 * against a plain `httpBatchLink` with a fixed bearer header, both calling one trivial protected query
 * on the same server: a round trip of about a millisecond, so the SDK's share shows. Sequential calls, rounds alternating so noise hits
 * both alike; the figure is the median round's time per call.
 */
export async function clientLinkOverhead(): Promise<{ plainUs: number; authLinkUs: number }> {
  const db = await connectDatabase();
  await migrate(db);
  const quiet = { info() {}, warn() {}, error() {} };
  const auth = await createAuth({ db, mail: { transport: { sendMail: () => Promise.resolve({}) }, from: 'bench@example.test', appUrl: 'http://localhost' }, signup: { emailConfirmation: 'off' }, logger: quiet });
  const router = auth.router({
    auth: auth.authRouter,
    work: auth.protectedProcedure.query(() => ({ ok: true })),
  });
  const server = createHTTPServer({ router, createContext: auth.createContext });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const withAuth = createAuthClient<typeof router>({ url });
  await withAuth.register({ email: 'bench@example.test', password: 'correct horse battery staple' });
  const accessToken = await withAuth.session.accessToken();
  const plain = createTRPCClient<typeof router>({
    links: [httpBatchLink({ url, transformer: superjson, headers: { authorization: `Bearer ${accessToken}` } })],
  });

  const perCallUs = async (call: () => Promise<unknown>) => {
    const calls = 300;
    const start = process.hrtime.bigint();
    for (let index = 0; index < calls; index++) await call();
    return Number(process.hrtime.bigint() - start) / calls / 1000;
  };
  const plainRounds: number[] = [];
  const authRounds: number[] = [];
  for (let round = 0; round < 11; round++) {
    plainRounds.push(await perCallUs(() => plain.work.query()));
    authRounds.push(await perCallUs(() => withAuth.trpc.work.query()));
  }
  await withAuth.close();
  server.close();
  await auth.close();
  await closeDatabase(db);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  return { plainUs: median(plainRounds), authLinkUs: median(authRounds) };
}
