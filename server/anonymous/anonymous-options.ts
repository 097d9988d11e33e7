import { z } from 'zod';
import { positiveSeconds } from '../option-types.js';

/**
 * Anonymous users (`auth.signInAnonymously`): a session for an account with no address and no
 * password, which later upgrades in place (server/anonymous/). Off unless enabled.
 */
export const anonymousOptionsSchema = z.strictObject({
  /** @default false */
  enabled: z.boolean().default(false),
  /**
   * An anonymous account neither changed nor refreshed for this long is deleted by the cleaner, as
   * an administrator deletes one (every token ends on every node). @default 2592000 (30 days)
   */
  deleteUnusedAfterSeconds: positiveSeconds.default(30 * 86_400),
});

export type AnonymousPolicy = z.output<typeof anonymousOptionsSchema>;
