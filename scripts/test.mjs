// `npm test`: starts one PostgreSQL server for the whole run (each test file makes its own database
// in it), runs every test file on it and on PGlite, then stops the server.
// TEST_DATABASE_URL, when set, names a server to use instead.
// A file still running after TEST_FILE_TIMEOUT_SECONDS (default 300; the slowest file takes about a
// minute on a busy machine) fails instead of stalling the run: test-watchdog.mjs ends it and says what
// kept it open, and the runner's --test-timeout, a little later, ends one whose event loop is blocked.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestPostgres } from './embedded-postgres.mjs';

// Node 20's runner finds no .ts file by itself (a bare --test passes having run nothing): list them.
const explicit = process.argv.slice(2);
const files = explicit.length > 0 ? explicit : (await readdir('test')).filter((name) => name.endsWith('.test.ts')).sort().map((name) => join('test', name));

const fileTimeoutSeconds = Number(process.env.TEST_FILE_TIMEOUT_SECONDS ?? 300);
if (!(fileTimeoutSeconds > 0)) throw new Error(`TEST_FILE_TIMEOUT_SECONDS must be a positive number of seconds, not ${process.env.TEST_FILE_TIMEOUT_SECONDS}`);
// Node 20's runner applies --test-timeout to each file's process as a whole (and kills it), not to each test.
const runnerTimeoutMs = (fileTimeoutSeconds + 30) * 1000;
const watchdog = new URL('./test-watchdog.mjs', import.meta.url).href;

let postgres;
const env = { ...process.env, TEST_FILE_TIMEOUT_SECONDS: String(fileTimeoutSeconds) };
if (!env.TEST_DATABASE_URL) {
  postgres = await startTestPostgres();
  env.TEST_DATABASE_URL = postgres.url;
}

const started = Date.now();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--import', watchdog, '--test', '--test-concurrency=2', `--test-timeout=${runnerTimeoutMs}`, ...files],
  { stdio: 'inherit', env },
);
const code = await new Promise((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))));
console.log(`npm test: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);

await postgres?.stop();
process.exit(code);
