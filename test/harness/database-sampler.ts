import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/**
 * Runs `query` (one row, one numeric column `value`) on a connection of its own every `everyMs`
 * until stopped; `stop()` resolves with the highest value seen. A watch over a fault, such as
 * `pg_notification_queue_usage()` during a revocation storm, or the connections a node holds.
 */
export function sampleHighest(databaseUrl: string, query: string, everyMs: number) {
  const client = new pg.Client({ connectionString: databaseUrl });
  let highest = 0;
  let stopped = false;
  const watching = (async () => {
    await client.connect();
    while (!stopped) {
      const { rows } = await client.query<{ value: number }>(query);
      highest = Math.max(highest, Number(rows[0]?.value ?? 0));
      await sleep(everyMs);
    }
    await client.end();
  })();
  return {
    async stop(): Promise<number> {
      stopped = true;
      await watching;
      return highest;
    },
  };
}

/** The notification queue's use (0 to 1), the highest seen. */
export const NOTIFICATION_QUEUE_USAGE = 'SELECT pg_notification_queue_usage() AS value';
