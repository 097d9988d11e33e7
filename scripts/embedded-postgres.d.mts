/** A PostgreSQL server of a run's own (embedded-postgres.mjs). */
export interface EmbeddedPostgresServer {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** Stops the server and starts it again on the same port and data; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
}

/** Starts a server in a new temporary directory named after `label`, as root too. */
export function startEmbeddedPostgres(label: string): Promise<EmbeddedPostgresServer>;

/** The server of a test run; its failure says how to name a server instead (TEST_DATABASE_URL). */
export function startTestPostgres(): Promise<EmbeddedPostgresServer>;
