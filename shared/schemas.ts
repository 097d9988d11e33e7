import { z } from 'zod';
import { findJsonProblem } from './bounded-json.js';
import type { JsonLimits, JsonObject } from './bounded-json.js';
import { isCleanText } from './clean-text.js';

/*
 * The zod schemas of every auth procedure's input and output. Inputs are strict (an unknown key is
 * an error, never silently dropped); outputs are plain objects, so a field the server did not mean
 * to send (a hash, a secret) is stripped on the way out.
 */

/** The longest password accepted, in UTF-16 code units; checked before any hashing. */
export const PASSWORD_MAX_LENGTH = 1024;
/** The bounds of a `meta` object: characters of its JSON text, values, nesting and key length. */
export const META_LIMITS: JsonLimits = { maxLength: 8192, maxNodes: 1000, maxDepth: 16, maxKeyLength: 100 };
/** The longest token accepted by any input; real tokens are far shorter. */
const TOKEN_MAX_LENGTH = 256;

/** A string of at most `maxLength` UTF-16 code units holding no NUL and no lone surrogate. */
export function textSchema(maxLength: number) {
  return z.string().max(maxLength).refine(isCleanText, 'text: NUL and lone surrogates are not allowed');
}

/** An email address, trimmed and lower-cased: the form in which the kit stores and looks it up. */
export const emailSchema = textSchema(254).trim().toLowerCase().pipe(z.email());

/**
 * A password: any Unicode, normalised to NFC so that the same characters typed on any keyboard give
 * the same password on every path (register, login, change, reset). The minimum length is the
 * server's setting and is checked there, in code points.
 */
export const passwordSchema = textSchema(PASSWORD_MAX_LENGTH)
  .min(1)
  .transform((password) => password.normalize('NFC'));

/** 3 to 20 characters: letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
export const usernameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{2,19}$/, 'username: 3-20 of A-Z a-z 0-9 _ . -');

/**
 * Application data kept with the user: a JSON object within `META_LIMITS`, checked in one pass that
 * stops at the first bound passed, before anything else looks at it. What it refuses is what could
 * not be stored or sent back: NUL, lone surrogates, and the keys superjson will not serialise
 * (`constructor`, `prototype`; a `__proto__` sent by hand never reaches it as a key).
 */
export const metaSchema = z.custom<JsonObject>().superRefine((meta, ctx) => {
  const problem = findJsonProblem(meta, META_LIMITS);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `meta: ${problem}` });
});

const tokenSchema = textSchema(TOKEN_MAX_LENGTH).min(1);

export const registerInput = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
  username: usernameSchema.optional(),
  meta: metaSchema.optional(),
});

/**
 * For a sign-up's link, `password` is the one chosen at sign-up: shown, it is kept; without it (or
 * wrong) the address is proven but the password is not, so it stops working (see address-proof.ts).
 */
export const confirmEmailInput = z.strictObject({ token: tokenSchema, password: passwordSchema.optional() });

export const magicLinkVerifyInput = z.strictObject({ token: tokenSchema });

export const emailOnlyInput = z.strictObject({ email: emailSchema });

export const loginInput = z.strictObject({
  /** An email address or a username. */
  identifier: textSchema(254).trim().min(1),
  password: passwordSchema,
});

/** Without a `refreshToken` (or with the null a cookie-mode sign-in returned), the cookie's is used. */
export const refreshInput = z.strictObject({ refreshToken: tokenSchema.nullish() });

/** `password` counts as a recent authentication, which ending the other sessions needs. */
export const logoutInput = z
  .strictObject({ scope: z.enum(['current', 'others', 'all']).optional(), password: passwordSchema.optional() })
  .optional();

export const updateUserInput = z.strictObject({
  username: usernameSchema.optional(),
  meta: metaSchema.optional(),
});

/** Without `currentPassword` only for an account that has none, from a session that signed in recently. */
export const changePasswordInput = z.strictObject({
  currentPassword: passwordSchema.optional(),
  newPassword: passwordSchema,
});

export const resetPasswordInput = z.strictObject({ token: tokenSchema, password: passwordSchema });

export const changeEmailInput = z.strictObject({ newEmail: emailSchema, password: passwordSchema });

/** `password` counts as a recent authentication, which ending another session needs. */
export const revokeSessionInput = z.strictObject({ sessionId: textSchema(64).min(1), password: passwordSchema.optional() });

export const publicUserSchema = z.object({
  id: z.string(),
  username: z.string().nullable(),
  /** Null for an anonymous account until it adds an address. */
  email: z.string().nullable(),
  emailConfirmed: z.boolean(),
  /** Made by `signInAnonymously` and not yet upgraded (an address confirmed, or an OAuth identity linked). */
  isAnonymous: z.boolean(),
  meta: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const authTokensSchema = z.object({
  accessToken: z.string(),
  accessTokenExpiresAt: z.date(),
  /** Null in cookie mode, where it travels in an `HttpOnly` cookie instead. */
  refreshToken: z.string().nullable(),
  /** Null when refresh tokens never expire (the default). */
  refreshTokenExpiresAt: z.date().nullable(),
  tokenType: z.literal('Bearer'),
});

export const signedInSchema = z.object({ user: publicUserSchema, tokens: authTokensSchema });

/** `signInAnonymously` takes nothing: no input, or an empty object. */
export const signInAnonymouslyInput = z.strictObject({}).optional();

/** A sign-up's confirmation signs in; an email change's does not (`tokens` absent). */
export const confirmEmailOutput = z.object({ user: publicUserSchema, tokens: authTokensSchema.optional() });

export const registerOutput = z.object({
  user: publicUserSchema.optional(),
  tokens: authTokensSchema.optional(),
  confirmationSent: z.boolean(),
});

export const okOutput = z.object({ ok: z.literal(true) });

export const sessionInfoSchema = z.object({
  id: z.string(),
  /** True for the session whose access token made the call. */
  current: z.boolean(),
  createdAt: z.date(),
  lastUsedAt: z.date(),
  /** When the session ends at the latest; null when it never does. */
  expiresAt: z.date().nullable(),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
});

export const authSettingsSchema = z.object({
  signupEnabled: z.boolean(),
  emailConfirmation: z.enum(['required', 'optional', 'off']),
  magicLink: z.boolean(),
  /** Whether `signInAnonymously` is on. */
  anonymousSignIn: z.boolean(),
  providers: z.array(z.string()),
  passwordMinLength: z.number(),
  accessTokenTtlSeconds: z.number(),
  refreshTokenTtlSeconds: z.number().nullable(),
});

/** The most scopes one API token may carry. */
export const API_TOKEN_MAX_SCOPES = 32;

/** A scope an API token may carry: `todos:read`, `billing.export`, `user:write`. */
export const scopeSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/, 'scope: 1-64 of A-Z a-z 0-9 _ . : / -');

export const createApiTokenInput = z.strictObject({
  /** What the token is for, as the list shows it. */
  name: textSchema(100).trim().min(1),
  /** Without scopes the token may call what needs none (`me`, say) and nothing that changes the account. */
  scopes: z.array(scopeSchema).max(API_TOKEN_MAX_SCOPES).optional(),
  /** @default the server's `apiTokens.expiresInDays` (365) */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
  /** Counts as a recent authentication, which minting a token needs. */
  password: passwordSchema.optional(),
});

export const createApiTokenOutput = z.object({
  id: z.string(),
  /** Shown this once: the server keeps only a hash of it. */
  token: z.string(),
});

export const apiTokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.date(),
  /** Recorded to the minute; null until first used. */
  lastUsedAt: z.date().nullable(),
  expiresAt: z.date(),
});

export const revokeApiTokenInput = z.strictObject({ id: textSchema(64).min(1) });

export const inviteInput = z.strictObject({ email: emailSchema, meta: metaSchema.optional() });

export const acceptInviteInput = z.strictObject({
  token: tokenSchema,
  password: passwordSchema,
  username: usernameSchema.optional(),
});

/** A provider's name, as the server's `oauth.providers` gives it. */
const providerNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'provider: 1-32 of a-z 0-9 _ -');

/** `redirectTo`: where to go once signed in, within the server's allowlist (by default, under its app URL). */
export const oauthStartInput = z.strictObject({ provider: providerNameSchema, redirectTo: textSchema(2048).min(1).optional() });

/** `password` counts as a recent authentication, which linking needs. */
export const oauthLinkInput = z.strictObject({ provider: providerNameSchema, redirectTo: textSchema(2048).min(1).optional(), password: passwordSchema.optional() });

/** What the provider sent the callback page: `code`, `state` and, where it sends one, `iss` (RFC 9207). */
export const oauthCallbackInput = z.strictObject({
  provider: providerNameSchema,
  code: textSchema(2048).min(1),
  state: textSchema(128).min(1),
  iss: textSchema(2048).min(1).optional(),
});

export const oauthUnlinkInput = z.strictObject({ provider: providerNameSchema });

export const oauthStartOutput = z.object({ url: z.string() });

export const oauthCallbackOutput = signedInSchema.extend({ redirectTo: z.string() });

export const oauthIdentitySchema = z.object({
  provider: z.string(),
  issuer: z.string(),
  subject: z.string(),
  /** The address the provider gave at the last sign-in, if any. */
  email: z.string().nullable(),
  linkedAt: z.date(),
});
