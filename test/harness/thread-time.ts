/*
 * Where a node's request thread spent a stretch of wall time: on a CPU, or runnable and waiting for
 * one, from Linux's scheduler statistics (`/proc/<pid>/task/<pid>/schedstat`: nanoseconds run, then
 * nanoseconds waited on a run queue). A validation answered from the cache needs nothing but that
 * thread, so when its latency grows while the thread's own CPU does not, the wait shows whether the
 * machine's CPUs were what it queued for. Elsewhere than Linux there is nothing to read, and the
 * figures are null.
 */
import { readFile } from 'node:fs/promises';

/** Nanoseconds a thread ran and waited to run, as read at one moment. */
interface ThreadTimes {
  ranNs: number;
  waitedNs: number;
  atMs: number;
}

async function readThreadTimes(pid: number): Promise<ThreadTimes | null> {
  try {
    const [ran, waited] = (await readFile(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')).split(' ').map(Number);
    if (!Number.isFinite(ran) || !Number.isFinite(waited)) return null;
    return { ranNs: ran as number, waitedNs: waited as number, atMs: performance.now() };
  } catch {
    return null;
  }
}

/** The shares of a stretch of wall time a thread ran and waited to run (1 = the whole stretch). */
export interface ThreadShares {
  ran: number;
  waited: number;
}

/** Starts timing the main threads of `pids`; `stop()` gives each one's shares since, or null where unreadable. */
export async function timeThreads(pids: readonly number[]): Promise<{ stop(): Promise<Array<ThreadShares | null>> }> {
  const started = await Promise.all(pids.map(readThreadTimes));
  return {
    async stop() {
      const ended = await Promise.all(pids.map(readThreadTimes));
      return ended.map((end, index) => {
        const start = started[index];
        if (!start || !end || end.atMs <= start.atMs) return null;
        const wallNs = (end.atMs - start.atMs) * 1e6;
        return { ran: (end.ranNs - start.ranNs) / wallNs, waited: (end.waitedNs - start.waitedNs) / wallNs };
      });
    },
  };
}

/** The shares of each node's request thread, for a diagnostic line. */
export function describeThreadShares(names: readonly string[], shares: ReadonlyArray<ThreadShares | null>): string {
  return names
    .map((name, index) => {
      const share = shares[index];
      return share ? `${name} ran ${(share.ran * 100).toFixed(0)} %, waited for a CPU ${(share.waited * 100).toFixed(0)} %` : `${name} unknown`;
    })
    .join('; ');
}
