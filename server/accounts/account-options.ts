import { z } from 'zod';
import { positiveSeconds } from '../option-types.js';

/** Sign-up (`auth.register`) and the confirmation of its address. */
export const signupOptionsSchema = z.strictObject({
  /** @default true */
  enabled: z.boolean().default(true),
  /** @default 'required' */
  emailConfirmation: z.enum(['required', 'optional', 'off']).default('required'),
  /** How long a confirmation link works. @default 86400 (a day) */
  confirmationLinkTtlSeconds: positiveSeconds.default(86_400),
});

export const passwordResetOptionsSchema = z.strictObject({
  /** How long a reset link works. @default 3600 (an hour) */
  linkTtlSeconds: positiveSeconds.max(86_400).default(3600),
});

/** Sign-in by a mailed link (`auth.magicLink.*`), for existing accounts. */
export const magicLinkOptionsSchema = z.strictObject({
  /** @default true */
  enabled: z.boolean().default(true),
  /** How long a sign-in link works; at most 10 minutes. @default 600 */
  linkTtlSeconds: positiveSeconds.max(600).default(600),
});

export const emailChangeOptionsSchema = z.strictObject({
  /** How long the link mailed to the new address works. @default 86400 (a day) */
  linkTtlSeconds: positiveSeconds.max(7 * 86_400).default(86_400),
});

export const invitationOptionsSchema = z.strictObject({
  /** How long an invitation link works. @default 604800 (7 days) */
  linkTtlSeconds: positiveSeconds.max(30 * 86_400).default(7 * 86_400),
});
