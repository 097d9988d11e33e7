import pg from 'pg';

/**
 * Runs `query` (one row, one numeric column `value`) on a connection of its own every `everyMs`
 * until stopped; `stop()` resolves with the highest value seen. A watch over a fault, such as
 * `pg_notification_queue_usage()` during a revocation storm, or the connections a node holds.
 * Sampling at an interval is what it is for; a sample still running when the next is due is not
 * overlapped, and a failed sample makes `stop()` reject.
 */
export function sampleHighest(databaseUrl: string, query: string, everyMs: number) {
  const client = new pg.Client({ connectionString: databaseUrl });
  let highest = 0;
  let failure: { error: unknown } | null = null;
  const noteFailure = (error: unknown) => {
    failure ??= { error };
  };
  const connected = client.connect().catch(noteFailure);
  let sampling: Promise<void> | null = null;
  const sample = () => {
    sampling ??= connected
      .then(() => client.query<{ value: number }>(query))
      .then(({ rows }) => {
        highest = Math.max(highest, Number(rows[0]?.value ?? 0));
      }, noteFailure)
      .finally(() => {
        sampling = null;
      });
  };
  sample();
  const timer = setInterval(sample, everyMs);
  // A watch left running must not keep the process alive.
  timer.unref();
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await sampling;
      await client.end();
      if (failure) throw failure.error;
      return highest;
    },
  };
}

/** The notification queue's use (0 to 1), the highest seen. */
export const NOTIFICATION_QUEUE_USAGE = 'SELECT pg_notification_queue_usage() AS value';

/**
 * Transactions waiting to commit behind another's NOTIFY, the most seen: PostgreSQL lets one
 * notifying transaction commit at a time (a lock on the database object 0, held through the commit).
 */
export const NOTIFY_COMMIT_WAITERS = "SELECT count(*)::int AS value FROM pg_locks WHERE locktype = 'object' AND classid = 'pg_database'::regclass AND objid = 0 AND NOT granted";
