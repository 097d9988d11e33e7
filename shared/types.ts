import type { z } from 'zod';
import type { apiTokenInfoSchema, authSettingsSchema, authTokensSchema, publicUserSchema, sessionInfoSchema } from './schemas.js';

/** A user as every procedure returns it: never a hash or a secret. */
export type PublicUser = z.infer<typeof publicUserSchema>;
/** The token pair returned by sign-in and refresh. */
export type AuthTokens = z.infer<typeof authTokensSchema>;
/** One entry of `auth.sessions.list`. */
export type SessionInfo = z.infer<typeof sessionInfoSchema>;
/** What `auth.settings` tells a client about the server. */
export type AuthSettings = z.infer<typeof authSettingsSchema>;
/** How the server treats email confirmation at sign-up and sign-in. */
export type EmailConfirmationPolicy = AuthSettings['emailConfirmation'];
/** One entry of `auth.apiTokens.list`: never the token or its hash. */
export type ApiTokenInfo = z.infer<typeof apiTokenInfoSchema>;
