import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { readDocBlocks } from './harness/doc-blocks.js';
import type { DocBlock } from './harness/doc-blocks.js';
import { openTestDatabase } from './harness/database.js';
import { freePort } from './harness/free-port.js';

// The blocks are written where the repository's node_modules and tsconfig (whose `paths` map
// `trpc-auth-kit/*` to the sources) apply, as they would in an application that installed the kit.
const ROOT = process.cwd();
const GIVEN_MODULE = join(ROOT, 'test/harness/docs-given.js');

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir('docs')).filter((name) => name.endsWith('.md')).sort();
  return ['README.md', ...docs.map((name) => join('docs', name))];
}

function fileNameOf(block: DocBlock): string {
  return `${block.file.replace(/\.md$/, '').replace(/[^\w]+/g, '-')}-${block.line}.${block.lang}`;
}

/** The block as a module: what it is given imported on one line above its first. */
function moduleOf(block: DocBlock, dir: string): string {
  const from = relative(dir, GIVEN_MODULE);
  const given = block.given.length > 0 ? `import { ${block.given.join(', ')} } from './${from}';` : '';
  return `${given}\n${block.code}export {};\n`;
}

/** Runs one block as `npx tsx` would, in the environment `env`; resolves with how it ended. */
function runBlock(path: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', path], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A block must end by itself: one still running after this long has left something open.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe("the README's and docs' code blocks", async () => {
  const blocks = await readDocBlocks(await markdownFiles());
  const runnable = blocks.filter((block) => block.given.length === 0);
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(ROOT, '.docs-examples-'));
    for (const block of blocks) await writeFile(join(dir, fileNameOf(block)), moduleOf(block, dir));
    const tsconfig = {
      extends: '../tsconfig.json',
      // A block may import a type without `import type`, as an application's own settings allow.
      compilerOptions: { verbatimModuleSyntax: false },
      include: ['*.ts', '*.tsx'],
    };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('are found: the README and docs/ have blocks, and some run as written', () => {
    assert.ok(blocks.filter((block) => block.file === 'README.md').length >= 5, 'the README blocks were found');
    assert.ok(runnable.length >= 3, 'some blocks run as written');
  });

  it("the first one is examples/quickstart.ts, byte for byte, so that `npx tsx examples/quickstart.ts` runs what the README shows", async () => {
    assert.equal(blocks[0]?.file, 'README.md');
    assert.equal(blocks[0]?.code, await readFile('examples/quickstart.ts', 'utf8'));
  });

  it('type-check as written, given only what their first line names (`// Given: …`, from test/harness/docs-given.ts)', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--noEmit', '--pretty', 'false'], { cwd: ROOT }).then(
      () => ({ stdout: '' }),
      (error: Error & { stdout?: string }) => ({ stdout: error.stdout || error.message }),
    );
    // Each error, at its line in the Markdown file (the given import is line 1 of the module).
    const errors = result.stdout
      .split('\n')
      .filter((line) => line.includes('error TS'))
      .map((line) => {
        const [, file = '', at = '0', message = line] = /^(?:.*[\\/])?([^\\/(]+)\((\d+),\d+\): (.*)$/.exec(line) ?? [];
        const block = blocks.find((candidate) => fileNameOf(candidate) === file);
        return block ? `${block.file}:${block.line + Math.max(Number(at) - 2, 0)}: ${message}` : line;
      });
    assert.deepEqual(errors, [], 'a block that needs a name it does not define says so on its first line: // Given: name, name');
  });

  it('docs/database.md names every table the migrations make', async () => {
    const database = await openTestDatabase('pglite');
    try {
      const client = database.db.$client;
      assert.ok(client instanceof PGlite);
      const { rows } = await client.query<{ name: string }>(
        // Every kit table is in auth_kit (its migrations' journal aside); the page names them without the schema.
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'auth_kit' AND table_name <> '__drizzle_migrations'",
      );
      const doc = await readFile('docs/database.md', 'utf8');
      assert.ok(rows.length >= 7, 'the tables were read');
      assert.deepEqual(rows.map(({ name }) => name).filter((name) => !doc.includes(`\`${name}\``)), []);
    } finally {
      await database.close();
    }
  });

  // As a reader runs them: no DATABASE_URL (PGlite in memory), no SMTP_URL. test/quickstart.test.ts runs
  // the first on PostgreSQL with an SMTP server.
  for (const block of runnable) {
    it(`${block.file}:${block.line}, given nothing, runs to the end and exits by itself`, async () => {
      const { SMTP_URL: _unset, DATABASE_URL: _none, ...env } = process.env;
      env.PORT = String(await freePort());
      const { code, output } = await runBlock(join(dir, fileNameOf(block)), env);
      assert.equal(code, 0, `${block.file}:${block.line} ended with ${code}:\n${output}`);
      if (block === blocks[0]) assert.match(output, /title: 'try trpc-auth-kit'/, 'the quickstart signed in and read its todos');
    });
  }
});
