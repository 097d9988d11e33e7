import type { AuthRequest } from './context.js';
import type { Logger, RandomSource } from './deps.js';

/**
 * Work a procedure starts but does not wait for: what would otherwise make an answer slower for a
 * known address than for an unknown one. A failure is logged; `drain` waits for whatever is running.
 */
export interface BackgroundTasks {
  /**
   * Starts `task` on the next turn of the event loop, or, given the request it belongs to, once that
   * request's answer is written and then a random time later, up to the spread, in the order the
   * tasks came. PGlite runs its queries on this thread: work started any sooner would delay the
   * answer, and work started right after it the next request, for a known address and not for an
   * unknown one, by however much more a real account's work costs (rows written, a mail sent).
   */
  run(what: string, task: () => Promise<unknown>, after?: AuthRequest): void;
  /** Starts at once what waits out its spread (or comes while it drains), and waits for everything running. */
  drain(): Promise<void>;
}

export function createBackgroundTasks(deps: { logger: Logger; random: RandomSource; spreadMs: number }): BackgroundTasks {
  const { logger, random, spreadMs } = deps;
  const running = new Set<Promise<void>>();
  // Tasks whose answer is written, oldest first, each due no sooner than the one before it.
  const spreading: Array<{ start: () => void; dueAt: number }> = [];
  let spreadTimer: ReturnType<typeof setTimeout> | null = null;
  let draining = 0;

  function spreadDelayMs(): number {
    const bytes = random(4);
    return (new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) / 2 ** 32) * spreadMs;
  }

  function startDue(until: number): void {
    for (let next = spreading[0]; next && next.dueAt <= until; next = spreading[0]) {
      spreading.shift();
      next.start();
    }
  }

  function waitForNextDue(): void {
    const next = spreading[0];
    if (spreadTimer !== null || !next) return;
    spreadTimer = setTimeout(() => {
      spreadTimer = null;
      startDue(performance.now());
      waitForNextDue();
    }, next.dueAt - performance.now());
  }

  function spread(start: () => void): void {
    if (draining > 0) return start();
    spreading.push({ start, dueAt: Math.max(performance.now() + spreadDelayMs(), spreading.at(-1)?.dueAt ?? 0) });
    waitForNextDue();
  }

  return {
    run(what, task, after) {
      const settled = new Promise<void>((resolve) => (after ? after.afterResponse(() => spread(resolve)) : setImmediate(resolve)))
        .then(task)
        .then(
          () => undefined,
          (error: unknown) => logger.error(`${what} failed`, { error: String(error) }),
        )
        .finally(() => running.delete(settled));
      running.add(settled);
    },
    async drain() {
      draining++;
      try {
        if (spreadTimer !== null) clearTimeout(spreadTimer);
        spreadTimer = null;
        startDue(Infinity);
        while (running.size > 0) await Promise.all(running);
      } finally {
        draining--;
      }
    },
  };
}
