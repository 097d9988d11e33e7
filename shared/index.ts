/**
 * What the client and the server both import: the zod schemas of every auth procedure, the error
 * codes, the token format and the public types. Safe to bundle for the browser.
 * @module
 */
export { AUTH_ERROR_CODES, SESSION_ENDING_CODES, isAuthErrorCode } from './errors.js';
export type { AuthErrorCode } from './errors.js';
export { TOKEN_PREFIXES, formatToken, parseToken } from './token-format.js';
export type { TokenKind, TokenParts } from './token-format.js';
export {
  API_TOKEN_MAX_SCOPES,
  META_LIMITS,
  PASSWORD_MAX_LENGTH,
  acceptInviteInput,
  apiTokenInfoSchema,
  authSettingsSchema,
  authTokensSchema,
  changeEmailInput,
  changePasswordInput,
  confirmEmailInput,
  confirmEmailOutput,
  createApiTokenInput,
  createApiTokenOutput,
  emailOnlyInput,
  emailSchema,
  inviteInput,
  loginInput,
  logoutInput,
  magicLinkVerifyInput,
  metaSchema,
  okOutput,
  passwordSchema,
  publicUserSchema,
  refreshInput,
  registerInput,
  registerOutput,
  resetPasswordInput,
  revokeApiTokenInput,
  revokeSessionInput,
  scopeSchema,
  sessionInfoSchema,
  signedInSchema,
  updateUserInput,
  usernameSchema,
} from './schemas.js';
export type { ApiTokenInfo, AuthSettings, AuthTokens, EmailConfirmationPolicy, PublicUser, SessionInfo } from './types.js';
export type { JsonLimits, JsonObject, JsonValue } from './bounded-json.js';
