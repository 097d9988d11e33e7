import type { AuthRequest } from './context.js';
import type { Logger } from './deps.js';

/**
 * Work a procedure starts but does not wait for: what would otherwise make an answer slower for a
 * known address than for an unknown one. A failure is logged; `drain` waits for whatever is running.
 */
export interface BackgroundTasks {
  /**
   * Starts `task` on the next turn of the event loop, or, given the request it belongs to, once that
   * request's answer is written: PGlite runs its queries on this thread, so work started any sooner
   * would delay the answer for a known address and not for an unknown one.
   */
  run(what: string, task: () => Promise<unknown>, after?: AuthRequest): void;
  drain(): Promise<void>;
}

export function createBackgroundTasks(logger: Logger): BackgroundTasks {
  const running = new Set<Promise<void>>();
  return {
    run(what, task, after) {
      const settled = new Promise<void>((resolve) => (after ? after.afterResponse(resolve) : setImmediate(resolve)))
        .then(task)
        .then(
          () => undefined,
          (error: unknown) => logger.error(`${what} failed`, { error: String(error) }),
        )
        .finally(() => running.delete(settled));
      running.add(settled);
    },
    async drain() {
      while (running.size > 0) await Promise.all(running);
    },
  };
}
