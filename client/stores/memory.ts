import type { AuthTokens } from '../../shared/types.js';
import type { TokenStore } from '../token-store.js';

/**
 * Keeps the tokens in this process only: gone on reload or restart. The default, and the store for
 * cookie mode, where the refresh token lives in an `HttpOnly` cookie and only the short-lived
 * access token is held here.
 *
 * @example
 * const auth = createAuthClient<AppRouter>({ url, store: memoryStore() });
 */
export function memoryStore(): TokenStore {
  let current: AuthTokens | null = null;
  return {
    get: () => Promise.resolve(current),
    set(tokens) {
      current = tokens;
      return Promise.resolve();
    },
  };
}
