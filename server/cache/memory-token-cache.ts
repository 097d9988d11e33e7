import type { CachedAccessToken, TokenCache } from './token-cache.js';

/**
 * A token cache in this process's heap: a `Map` by selector, with indexes by session and by user so
 * a revocation removes exactly the entries it ends. When full, the oldest entry goes.
 */
export function createMemoryTokenCache(options: { capacity: number }): TokenCache {
  const { capacity } = options;
  const entries = new Map<string, CachedAccessToken>();
  const selectorsBySession = new Map<string, Set<string>>();
  const sessionsByUser = new Map<string, Set<string>>();

  function addToIndex(index: Map<string, Set<string>>, key: string, value: string): void {
    const values = index.get(key);
    if (values) values.add(value);
    else index.set(key, new Set([value]));
  }

  function removeFromIndex(index: Map<string, Set<string>>, key: string, value: string): void {
    const values = index.get(key);
    if (!values) return;
    values.delete(value);
    if (values.size === 0) index.delete(key);
  }

  function remove(selector: string): void {
    const entry = entries.get(selector);
    if (!entry) return;
    entries.delete(selector);
    removeFromIndex(selectorsBySession, entry.sessionId, selector);
    if (!selectorsBySession.has(entry.sessionId)) removeFromIndex(sessionsByUser, entry.userId, entry.sessionId);
  }

  function removeSession(sessionId: string): void {
    for (const selector of selectorsBySession.get(sessionId) ?? []) remove(selector);
  }

  let revocations = 0;
  let trusted = true;

  function clear(): void {
    entries.clear();
    selectorsBySession.clear();
    sessionsByUser.clear();
  }

  return {
    get: (selector) => (trusted ? entries.get(selector) : undefined),
    get revocations() {
      return revocations;
    },
    set(entry) {
      if (!trusted) return;
      remove(entry.selector);
      if (entries.size >= capacity) {
        const oldest = entries.keys().next();
        if (!oldest.done) remove(oldest.value);
      }
      entries.set(entry.selector, entry);
      addToIndex(selectorsBySession, entry.sessionId, entry.selector);
      addToIndex(sessionsByUser, entry.userId, entry.sessionId);
    },
    delete(selector) {
      revocations++;
      remove(selector);
    },
    deleteSession(sessionId) {
      revocations++;
      removeSession(sessionId);
    },
    deleteUser(userId) {
      revocations++;
      for (const sessionId of sessionsByUser.get(userId) ?? []) removeSession(sessionId);
    },
    setTrusted(value) {
      revocations++;
      trusted = value;
      clear();
    },
    close() {
      clear();
      return Promise.resolve();
    },
  };
}
