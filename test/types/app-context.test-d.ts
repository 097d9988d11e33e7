// Type-level tests, checked by `npm run typecheck` (nothing here runs): an application that names its
// own context type must say how each request's context is built.
import { expectTypeOf } from 'expect-type';
import { createAuth } from '../../server/index.js';
import type { Auth, AuthOptions } from '../../server/index.js';

declare const options: AuthOptions;

// Without `context`, every procedure would read a `ctx.tenant` that no request carries.
// @ts-expect-error: naming the context type without passing `context` does not compile.
void createAuth<{ tenant: string }>(options);

// With `context`, its fields are typed on every procedure's `ctx`.
const named = createAuth<{ tenant: string }>({ ...options, context: () => ({ tenant: 'acme' }) });
expectTypeOf(named).resolves.toEqualTypeOf<Auth<{ tenant: string }>>();
const inferred = createAuth({ ...options, context: () => Promise.resolve({ tenant: 'acme', plan: 'pro' as const }) });
expectTypeOf(inferred).resolves.toEqualTypeOf<Auth<{ tenant: string; plan: 'pro' }>>();
declare const auth: Awaited<typeof inferred>;
void auth.protectedProcedure.query(({ ctx }) => {
  expectTypeOf(ctx.tenant).toEqualTypeOf<string>();
  expectTypeOf(ctx.plan).toEqualTypeOf<'pro'>();
});

// Without either, the context holds the kit's fields only.
expectTypeOf(createAuth(options)).resolves.toEqualTypeOf<Auth>();
declare const plain: Auth;
void plain.publicProcedure.query(({ ctx }) => {
  // @ts-expect-error: no application field exists on a context nobody builds.
  void ctx.tenant;
});
