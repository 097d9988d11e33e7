import { availableParallelism } from 'node:os';

/*
 * argon2 hashes on libuv's thread pool, the same few threads that serve `dns.lookup` (every new
 * `pg` connection to a host name), asynchronous file access and `crypto`'s asynchronous calls. A
 * pool full of hashes stalls all of those, so hashing must leave threads free.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the pool first starts, and in an ES module program that
 * is before any module runs (the loader reads module files on the pool): a library cannot resize
 * the pool by setting the variable at import, only whoever starts Node can.
 */

/** libuv's own default. */
const LIBUV_DEFAULT_THREADS = 4;
const LIBUV_MAX_THREADS = 1024;
/** Threads always left to everything but hashing. */
export const THREADS_KEPT_FROM_HASHING = 2;

/**
 * The size of this process's thread pool, as libuv read it from UV_THREADPOOL_SIZE at start. A value
 * libuv would read oddly (not a positive count) is taken as one thread: too small a guess only makes
 * hashing more careful.
 */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.UV_THREADPOOL_SIZE;
  if (value === undefined || value === '') return LIBUV_DEFAULT_THREADS;
  const threads = Number.parseInt(value, 10);
  if (!Number.isFinite(threads) || threads < 1) return 1;
  return Math.min(threads, LIBUV_MAX_THREADS);
}

/**
 * How many hashes may run at once by default: one per core but one, so that the event loop keeps a
 * core of its own while hashes run flat out (a hash keeps its core busy for its whole run, and the
 * token checks, the refusals and every answer wait for the loop); at most the pool's size less
 * `THREADS_KEPT_FROM_HASHING`; and at least one.
 */
export function defaultConcurrentHashes(): number {
  return Math.max(1, Math.min(availableParallelism() - 1, threadpoolSize() - THREADS_KEPT_FROM_HASHING));
}
