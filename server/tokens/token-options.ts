import { z } from 'zod';
import { positiveSeconds } from '../option-types.js';

/** The lives of access and refresh tokens, and what a reused refresh token ends. */
export const tokenOptionsSchema = z.strictObject({
  /** @default 300 */
  accessTokenTtlSeconds: positiveSeconds.max(3600).default(300),
  /** The absolute lifetime of a session. @default null (never expires) */
  refreshTokenTtlSeconds: positiveSeconds.nullable().default(null),
  /** A session unused for this long ends. @default null (no idle timeout) */
  refreshIdleTimeoutSeconds: positiveSeconds.nullable().default(null),
  /** How long a just-rotated refresh token still returns its successor. @default 10 */
  refreshGraceSeconds: z.number().int().min(0).max(300).default(10),
  /** What a reused refresh token ends: its own session, or every session of the user. @default 'session' */
  refreshReuseRevokes: z.enum(['session', 'user']).default('session'),
});

export type TokenPolicy = z.output<typeof tokenOptionsSchema>;

/** Personal API tokens (`auth.apiTokens.*`). */
export const apiTokenOptionsSchema = z.strictObject({
  /** The lifetime of a new API token when its creator names none (at most 3650). @default 365 */
  expiresInDays: z.number().int().min(1).max(3650).default(365),
  /** A password change or reset ends every API token of the user. @default true */
  endWithCredentialChange: z.boolean().default(true),
  /** Live API tokens one user may hold; past it `apiTokens.create` answers `API_TOKEN_LIMIT_REACHED`. @default 100 */
  maxPerUser: z.number().int().min(1).max(10_000).default(100),
});
