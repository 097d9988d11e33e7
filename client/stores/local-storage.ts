import type { TokenStore } from '../token-store.js';
import { parseStoredTokens, serializeTokens } from '../token-store.js';

/**
 * Keeps the tokens in the browser's `localStorage` under `key`, shared by every tab of the origin
 * (the tabs hear of each other's changes through the client's tab coordinator).
 *
 * Page scripts can read `localStorage`: where an injected script must not be able to take the
 * refresh token, use cookie mode instead.
 *
 * @example
 * const auth = createAuthClient<AppRouter>({ url: '/trpc', store: localStorageStore() });
 */
export function localStorageStore(key = 'trpc-auth-kit.tokens'): TokenStore {
  return {
    get() {
      const text = localStorage.getItem(key);
      return Promise.resolve(text === null ? null : parseStoredTokens(text));
    },
    set(tokens) {
      if (tokens) localStorage.setItem(key, serializeTokens(tokens));
      else localStorage.removeItem(key);
      return Promise.resolve();
    },
  };
}
