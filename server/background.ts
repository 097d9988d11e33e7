import type { Logger } from './deps.js';

/**
 * Work a procedure starts but does not wait for: what would otherwise make an answer slower for a
 * known address than for an unknown one. A failure is logged; `drain` waits for whatever is running.
 */
export interface BackgroundTasks {
  run(what: string, task: () => Promise<unknown>): void;
  drain(): Promise<void>;
}

export function createBackgroundTasks(logger: Logger): BackgroundTasks {
  const running = new Set<Promise<void>>();
  return {
    run(what, task) {
      const settled = Promise.resolve()
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
