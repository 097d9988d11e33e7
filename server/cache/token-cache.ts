/**
 * What a node remembers of a verified access token, so that the next check of the same token is a
 * memory read. An entry is a hint that the database said yes: removing one costs a database read
 * later, never a wrong answer.
 */
export interface CachedAccessToken {
  selector: string;
  /** SHA-256 of the verifier, as stored in the database. */
  verifierHash: string;
  userId: string;
  sessionId: string;
  /** Milliseconds since the epoch; the entry is worthless after it. */
  expiresAtMs: number;
}

/**
 * The token cache behind `verifyAccessToken`. `get` runs on every protected request and must not
 * wait on anything; the deletes run when a session or a user is revoked, before the revoking call
 * returns.
 */
export interface TokenCache {
  get(selector: string): CachedAccessToken | undefined;
  /**
   * Counts the deletes so far. A database lookup notes it before its query and fills the cache only
   * if it is unchanged after, so a revocation that lands meanwhile is never undone by a stale fill.
   */
  readonly revocations: number;
  set(entry: CachedAccessToken): void;
  delete(selector: string): void;
  deleteSession(sessionId: string): void;
  deleteUser(userId: string): void;
  /**
   * An untrusted cache answers nothing and keeps nothing, so every check reads the database: the
   * state while revocations from other nodes may be going unheard. Either change empties it.
   */
  setTrusted(trusted: boolean): void;
  /** Stops whatever the cache runs in the background. */
  close(): Promise<void>;
}
