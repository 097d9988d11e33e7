// The README's example, whole and runnable: `npx tsx examples/quickstart.ts` (its test: test/quickstart.test.ts).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import nodemailer from 'nodemailer';
import { connectDatabase, migrate } from '../db/index.js'; // in your app: 'trpc-auth-kit/db'
import { createAuth } from '../server/index.js'; // in your app: 'trpc-auth-kit/server'
import { createAuthClient } from '../client/index.js'; // in your app: 'trpc-auth-kit/client'

// --- server ---
const db = await connectDatabase(); // in-memory PGlite; pass a postgres:// URL for PostgreSQL
await migrate(db);
const transport = nodemailer.createTransport({ jsonTransport: true }); // use your SMTP transport
const auth = await createAuth({ db, mail: { transport, from: 'app@example.com', appUrl: 'http://localhost:3000' }, signup: { emailConfirmation: 'off' } });

const todosRouter = auth.router({
  list: auth.protectedProcedure.query(({ ctx }) => [{ owner: ctx.user.id, title: 'try trpc-auth-kit' }]),
});
const appRouter = auth.router({ auth: auth.authRouter, todos: todosRouter });
export type AppRouter = typeof appRouter;
const server = createHTTPServer({ router: appRouter, createContext: auth.createContext }).listen(Number(process.env.PORT ?? 3000));
await once(server, 'listening');
const url = `http://localhost:${(server.address() as AddressInfo).port}`;

// --- client: it keeps the tokens and refreshes them; every call is typed ---
const client = createAuthClient<AppRouter>({ url });
await client.register({ email: 'ada@example.com', password: 'correct horse battery staple' });
console.log(await client.trpc.todos.list.query());

await client.close();
server.close();
await auth.close();
