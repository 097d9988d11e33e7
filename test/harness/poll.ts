import { setTimeout as nextCheck } from 'node:timers/promises';

/** How often a condition is looked at again: often enough to be prompt, rarely enough to cost nothing. */
export const CHECK_EVERY_MS = 10;

/**
 * Resolves with what `read` gives once it gives something (anything but undefined, null or false),
 * looking again until then; fails naming `what` after `timeoutMs`, which only keeps a broken run
 * from hanging. The one way tests wait for a condition: no test sleeps a fixed time.
 */
export async function until<T>(read: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await nextCheck(CHECK_EVERY_MS);
  }
}
