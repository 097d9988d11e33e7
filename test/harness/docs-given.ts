/**
 * What a code block of the README or docs/ may be given instead of writing it out: a block whose
 * first line is `// Given: auth, client` is type-checked with these two imported from here
 * (test/docs-examples.test.ts). Each stands for what the rest of the docs make of that name, so a block
 * is checked against the real types; nothing here ever runs.
 */
import type { ReactElement } from 'react';
import type { TRPCClient } from '@trpc/client';
import type { AuthDatabase } from '../../db/index.js';
import type { AuditEvent, Auth, AuthOptions, MailTransport } from '../../server/index.js';

/** The database from `connectDatabase()`, migrated. */
export declare const db: AuthDatabase;
/** A nodemailer transporter. */
export declare const transport: MailTransport;
/** The `mail` option of `createAuth`. */
export declare const mail: AuthOptions['mail'];
/** What `createAuth` returned. */
export declare const auth: Auth;

/** The router of the README's first example, here for its type. */
export function appRouterOf(kit: Auth) {
  return kit.router({
    auth: kit.authRouter,
    todos: kit.router({ list: kit.protectedProcedure.query(({ ctx }) => [{ owner: ctx.user.id, title: 'try trpc-auth-kit' }]) }),
  });
}
/** Its type: `auth` and `todos.list`. */
export type AppRouter = ReturnType<typeof appRouterOf>;
/** That router. */
export declare const appRouter: AppRouter;
/** A typed tRPC client of it (`authClient.trpc`). */
export declare const client: TRPCClient<AppRouter>;

/** The tRPC endpoint. */
export declare const url: string;
/** What a user typed to sign in. */
export declare const identifier: string;
export declare const password: string;
/** A token from a mailed link. */
export declare const token: string;
export declare const userId: string;
/** The application's own queries. */
export declare function listTodos(userId: string): Promise<Array<{ title: string }>>;
export declare function listNotes(userId: string): Promise<Array<{ text: string }>>;
/** An OAuth client's credentials, from the provider's console. */
export declare const clientId: string;
export declare const clientSecret: string;
/** The application's security log, which takes audit events. */
export declare const siem: { send(event: AuditEvent): void };
/** The application's sign-in form. */
export declare function SignIn(): ReactElement;
