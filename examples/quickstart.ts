// app.ts: `npx tsx app.ts` signs up, confirms the address, calls a protected procedure, and exits.
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import nodemailer from 'nodemailer';
import { createAuthClient } from 'trpc-auth-kit/client';
import { closeDatabase, connectDatabase, migrate } from 'trpc-auth-kit/db';
import { createAuth } from 'trpc-auth-kit/server';
import type { MailTransport } from 'trpc-auth-kit/server';

// Server
const port = Number(process.env.PORT ?? 3000);
const appUrl = `http://localhost:${port}`;
const db = await connectDatabase(process.env.DATABASE_URL); // unset: in-memory PGlite
await migrate(db);
// Mail goes through SMTP_URL when it is set; without it, into this array (a mail's link is in its text).
const outbox: string[] = [];
const transport: MailTransport = process.env.SMTP_URL
  ? nodemailer.createTransport(process.env.SMTP_URL)
  : { sendMail: (mail) => Promise.resolve(outbox.push(mail.text)) };
const auth = await createAuth({ db, mail: { transport, from: 'app@example.com', appUrl } });

const todos = auth.router({
  list: auth.protectedProcedure.query(({ ctx }) => [{ owner: ctx.user.id, title: 'try trpc-auth-kit' }]),
});
const appRouter = auth.router({ auth: auth.authRouter, todos });
export type AppRouter = typeof appRouter;
const server = createHTTPServer({ router: appRouter, createContext: auth.createContext }).listen(port);

// Client: keeps the tokens, refreshes them before they expire; every input and output is typed
const authClient = createAuthClient<AppRouter>({ url: appUrl });
const password = 'correct horse battery staple';
await authClient.register({ email: 'ada@example.com', password }); // no tokens yet: the address must be confirmed
await auth.settled(); // the confirmation mail leaves after the answer
const token = /[?&]token=([\w-]+)/.exec(outbox.join('\n'))?.[1]; // from the link `${appUrl}/confirm-email?token=lk_…`
if (token) {
  await authClient.confirmEmail({ token, password }); // signs in
  console.log(await authClient.trpc.todos.list.query()); // [ { owner: '…', title: 'try trpc-auth-kit' } ]
} else {
  console.log('The confirmation link went to ada@example.com: your page at /confirm-email calls authClient.confirmEmail.');
}

await authClient.close();
server.close();
await auth.close();
await closeDatabase(db);
