import type { AuthTokens } from '../shared/types.js';

/**
 * Where the client keeps its tokens. Every method may be async, so a store can sit on a file, an
 * encrypted keychain or a server-side session of the application's own.
 *
 * @example
 * const store: TokenStore = {
 *   get: () => keychain.read('tokens').then((text) => (text ? parseStoredTokens(text) : null)),
 *   set: (tokens) => (tokens ? keychain.write('tokens', serializeTokens(tokens)) : keychain.delete('tokens')),
 * };
 */
export interface TokenStore {
  /** The tokens last stored, or null when signed out. */
  get(): Promise<AuthTokens | null>;
  /** Stores new tokens; null clears them (sign-out). */
  set(tokens: AuthTokens | null): Promise<void>;
}

/** The tokens as text, for a store that keeps strings. Dates travel as ISO strings. */
export function serializeTokens(tokens: AuthTokens): string {
  return JSON.stringify(tokens);
}

/**
 * Reads what `serializeTokens` wrote. Anything else (a truncated file, another app's key, an older
 * format) reads as null: the client then counts as signed out rather than failing.
 */
export function parseStoredTokens(text: string): AuthTokens | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { accessToken, accessTokenExpiresAt, refreshToken, refreshTokenExpiresAt } = value as Record<string, unknown>;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || typeof accessTokenExpiresAt !== 'string') return null;
  if (refreshTokenExpiresAt !== null && typeof refreshTokenExpiresAt !== 'string') return null;
  const accessExpiry = new Date(accessTokenExpiresAt);
  const refreshExpiry = refreshTokenExpiresAt === null ? null : new Date(refreshTokenExpiresAt);
  if (Number.isNaN(accessExpiry.getTime()) || (refreshExpiry && Number.isNaN(refreshExpiry.getTime()))) return null;
  return { accessToken, accessTokenExpiresAt: accessExpiry, refreshToken, refreshTokenExpiresAt: refreshExpiry, tokenType: 'Bearer' };
}
