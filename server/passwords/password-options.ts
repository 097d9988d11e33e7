import { z } from 'zod';
import { functionOption } from '../option-types.js';
import { defaultConcurrentHashes, threadpoolSize } from './threadpool.js';

export const passwordOptionsSchema = z.strictObject({
  /** Counted in Unicode code points. @default 12 */
  minLength: z.number().int().min(8).max(256).default(12),
  /** argon2id memory in KiB; at least the OWASP minimum of 19456. @default 19456 */
  memoryCost: z.number().int().min(19_456).default(19_456),
  /** argon2id iterations; at least 2. @default 2 */
  timeCost: z.number().int().min(2).default(2),
  /**
   * How many hashes may run at once; more wait their turn. Each takes a thread of libuv's pool,
   * which must keep at least one for everything else (`createAuth` refuses more).
   * @default one per core but one (the event loop's), at least one, leaving two threads of the pool (UV_THREADPOOL_SIZE, 4 unless set) free
   */
  maxConcurrentHashes: z
    .number()
    .int()
    .positive()
    .default(defaultConcurrentHashes)
    .refine((hashes) => hashes < threadpoolSize(), {
      message: `would take every thread of libuv's pool (${threadpoolSize()}, from UV_THREADPOOL_SIZE); set UV_THREADPOOL_SIZE higher where Node is started`,
    }),
  /** How many may wait; beyond that a call that would hash answers `RATE_LIMITED` at once. @default 64 */
  maxQueuedHashes: z.number().int().min(0).default(64),
  /** Hashes one client may have running or waiting; beyond it `RATE_LIMITED` at once, counted nowhere. @default 4 */
  maxHashesPerClient: z.number().int().positive().default(4),
  /**
   * The least zxcvbn score (0 to 4) a new password must reach, judged against a dictionary of
   * common passwords, keyboard patterns and the account's own address and username; below it
   * `WEAK_PASSWORD`. 3 means about 10^8 guesses or more. @default 3
   */
  minStrength: z.number().int().min(0).max(4).default(3),
  /**
   * The application's own check of a new password against known breaches (a k-anonymity range
   * lookup, say): true refuses it with `WEAK_PASSWORD`. A throw is logged and the password judged
   * without it.
   */
  isBreached: functionOption<(password: string) => Promise<boolean>>().optional(),
});

export type PasswordPolicy = z.output<typeof passwordOptionsSchema>;
