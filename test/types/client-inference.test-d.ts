// Type-level tests, checked by `npm run typecheck` (nothing here runs): an application router built
// from the kit's procedures and the auth router merge, and the client infers every input and output.
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { expectTypeOf } from 'expect-type';
import superjson from 'superjson';
import type { AuthTokens, PublicUser, SessionInfo } from '../../shared/index.js';
import type { Auth } from '../../server/index.js';
import { createAuthClient } from '../../client/index.js';

declare const auth: Auth<{ tenant: string }>;

const todos = auth.router({
  list: auth.protectedProcedure.query(({ ctx }) => {
    expectTypeOf(ctx.user.id).toEqualTypeOf<string>();
    expectTypeOf(ctx.session.accessTokenExpiresAt).toEqualTypeOf<Date>();
    expectTypeOf(ctx.tenant).toEqualTypeOf<string>();
    return [{ id: 1, title: 'write tests', dueAt: new Date() }];
  }),
  add: auth.publicProcedure.input((value: unknown) => value as { title: string }).mutation(({ input }) => input.title.length),
});
const appRouter = auth.router({ auth: auth.authRouter, todos });
const mergedRouter = auth.mergeRouters(appRouter, auth.router({ extra: todos }));

type Inputs = inferRouterInputs<typeof appRouter>;
type Outputs = inferRouterOutputs<typeof appRouter>;

expectTypeOf<Inputs['auth']['login']>().toEqualTypeOf<{ identifier: string; password: string }>();
expectTypeOf<Inputs['auth']['register']>().toMatchTypeOf<{ email: string; password: string; username?: string }>();
expectTypeOf<Inputs['auth']['logout']>().toEqualTypeOf<void | { scope?: 'current' | 'others' | 'all' | undefined; password?: string | undefined } | undefined>();
expectTypeOf<Outputs['auth']['login']>().toEqualTypeOf<{ user: PublicUser; tokens: AuthTokens }>();
expectTypeOf<Outputs['auth']['refresh']>().toEqualTypeOf<{ tokens: AuthTokens }>();
expectTypeOf<Outputs['auth']['me']>().toEqualTypeOf<PublicUser>();
expectTypeOf<Outputs['auth']['sessions']['list']>().toEqualTypeOf<SessionInfo[]>();
expectTypeOf<Outputs['auth']['register']['confirmationSent']>().toEqualTypeOf<boolean>();
expectTypeOf<AuthTokens['accessTokenExpiresAt']>().toEqualTypeOf<Date>();
expectTypeOf<AuthTokens['refreshTokenExpiresAt']>().toEqualTypeOf<Date | null>();

const client = createTRPCClient<typeof appRouter>({ links: [httpLink({ url: 'http://localhost/trpc', transformer: superjson })] });
expectTypeOf(client.auth.login.mutate).parameter(0).toEqualTypeOf<{ identifier: string; password: string }>();
expectTypeOf(client.auth.me.query).returns.resolves.toEqualTypeOf<PublicUser>();
expectTypeOf(client.todos.list.query).returns.resolves.toEqualTypeOf<Array<{ id: number; title: string; dueAt: Date }>>();
expectTypeOf(client.todos.add.mutate).parameter(0).toEqualTypeOf<{ title: string }>();

const merged = createTRPCClient<typeof mergedRouter>({ links: [httpLink({ url: 'http://localhost/trpc', transformer: superjson })] });
expectTypeOf(merged.extra.list.query).returns.resolves.toEqualTypeOf<Array<{ id: number; title: string; dueAt: Date }>>();
expectTypeOf(merged.auth.sessions.revoke.mutate).parameter(0).toEqualTypeOf<{ sessionId: string; password?: string | undefined }>();

expectTypeOf(mergedRouter._def.record).toHaveProperty('extra');

// @ts-expect-error: an unknown procedure does not exist on the client.
void client.auth.signInWithCarrierPigeon;

// The SDK's ready path types the whole application router, and its own actions.
const sdk = createAuthClient<typeof appRouter>({ url: 'http://localhost/trpc' });
expectTypeOf(sdk.trpc.todos.list.query).returns.resolves.toEqualTypeOf<{ id: number; title: string; dueAt: Date }[]>();
expectTypeOf(sdk.login).returns.resolves.toEqualTypeOf<PublicUser>();
expectTypeOf(sdk.getState().status).toEqualTypeOf<'loading' | 'signed-in' | 'signed-out'>();
expectTypeOf<AuthTokens['refreshToken']>().toEqualTypeOf<string | null>();

// The SDK's own calls take what the auth router takes, and answer what it answers.
expectTypeOf(sdk.register).parameter(0).toEqualTypeOf<Inputs['auth']['register']>();
expectTypeOf(sdk.confirmEmail).parameter(0).toEqualTypeOf<Inputs['auth']['confirmEmail']>();
expectTypeOf(sdk.acceptInvite).parameter(0).toEqualTypeOf<Inputs['auth']['acceptInvite']>();
expectTypeOf(sdk.login).parameter(0).toEqualTypeOf<Inputs['auth']['login']>();
expectTypeOf(sdk.register).returns.resolves.toEqualTypeOf<{ user: PublicUser | null; confirmationSent: boolean }>();
// @ts-expect-error: a key the server's strict input refuses is refused here first.
void sdk.login({ identifier: 'ada', password: 'pw', remember: true });
