import { SESSION_ENDING_CODES } from '../shared/errors.js';
import type { AuthErrorCode } from '../shared/errors.js';
import type { AuthTokens } from '../shared/types.js';
import { AuthClientClosedError, getAuthErrorCode } from './errors.js';
import { memoryStore } from './stores/memory.js';
import type { TabCoordinator } from './tab-coordinator.js';
import { soloCoordinator } from './tab-coordinator.js';
import type { TokenStore } from './token-store.js';

/*
 * The client's hold on a sign-in: the tokens, when to refresh them, and what happens when a refresh
 * is refused. Every refresh goes through one promise (single flight) and, across tabs, through the
 * coordinator's lock; inside the lock the store is read again, so a tab that waited behind another
 * takes the tokens that one got instead of spending the refresh token a second time.
 *
 * `close()` is final: it aborts the refresh in flight, and every path that could send a request or
 * arm the timer again (a refresh answered late, a sign-in answered late, the store read late, another
 * tab's news) checks first that the session is still open.
 */

/** Where the client stands. `loading` lasts until the store has been read. */
export type AuthStatus = 'loading' | 'signed-in' | 'signed-out';

/** Why the client signed out. */
export type SignOutReason =
  /** The application called `signOut` (or `logout`). */
  | 'signed-out'
  /** The server refused the refresh token: reused, revoked, expired or unknown. */
  | 'refresh-rejected'
  /** A call was refused because its session is over (revoked elsewhere). */
  | 'session-ended'
  /** Another tab signed out. */
  | 'other-tab';

export type AuthChange =
  | { type: 'signed-in' }
  | { type: 'refreshed' }
  | { type: 'signed-out'; reason: SignOutReason; code?: AuthErrorCode };

export interface AuthSessionState {
  status: AuthStatus;
  /** When the access token in hand expires; null when signed out. */
  accessTokenExpiresAt: Date | null;
}

export interface AuthSessionOptions {
  /**
   * Calls `auth.refresh`; the client passes the refresh token it holds (null in cookie mode) and a
   * signal that aborts when the session is closed.
   */
  refresh(refreshToken: string | null, opts: { signal: AbortSignal }): Promise<AuthTokens>;
  /** Where the tokens live. Default: memory. */
  store?: TokenStore;
  /** Shares refreshes and sign-outs with other tabs. Default: none. */
  coordinator?: TabCoordinator;
  /**
   * How long before its expiry an access token is refreshed, by a timer and before any call.
   * Default 30 s, at most a quarter of the token's life.
   */
  refreshAheadMs?: number;
  /** The time in milliseconds; tests move it. */
  now?: () => number;
  /**
   * When the store holds no tokens at start, try one refresh without a token: in cookie mode the
   * browser may still hold a refresh cookie from an earlier visit. Default false.
   */
  refreshOnStart?: boolean;
}

/** The wait a `RATE_LIMITED` answer names in its `Retry-After` header (tRPC keeps the response in `meta`). */
function retryAfterMs(refusal: Error): number {
  const header = (refusal as { meta?: { response?: { headers?: { get?: (name: string) => string | null } } } }).meta?.response?.headers?.get?.('retry-after');
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3600) * 1000 : 1000;
}

/**
 * Creates the client's session: give it to `authLink` and `authHeaders`, or let `createAuthClient`
 * do all of it.
 *
 * @example
 * const session = createAuthSession({
 *   store: localStorageStore(),
 *   refresh: (refreshToken) => client.auth.refresh.mutate({ refreshToken: refreshToken ?? undefined }, { context: SKIP_AUTH }).then((r) => r.tokens),
 * });
 */
export function createAuthSession(options: AuthSessionOptions) {
  const store = options.store ?? memoryStore();
  const coordinator = options.coordinator ?? soloCoordinator();
  const now = options.now ?? Date.now;
  const listeners = new Set<(state: AuthSessionState, change: AuthChange) => void>();
  // A set rather than listeners on the signal: a hundred waiting calls would trip Node's leak warning.
  const closeListeners = new Set<() => void>();

  let tokens: AuthTokens | null = null;
  let status: AuthStatus = 'loading';
  let refreshAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<string | null> | null = null;
  /** A refresh answered RATE_LIMITED: until `until` none is sent, and calls get the token in hand or `refusal`. */
  let held: { until: number; refusal: Error } | null = null;
  const closing = new AbortController();
  const { signal } = closing;

  /** Throws once the session is closed: what arrives after `close()` changes nothing and sends nothing. */
  function assertOpen(): void {
    if (signal.aborted) throw new AuthClientClosedError();
  }

  function state(): AuthSessionState {
    return { status, accessTokenExpiresAt: tokens?.accessTokenExpiresAt ?? null };
  }

  function emit(change: AuthChange): void {
    const snapshot = state();
    for (const listener of listeners) listener(snapshot, change);
  }

  function schedule(): void {
    clearTimeout(timer);
    if (!tokens || signal.aborted) return;
    const expiresAt = tokens.accessTokenExpiresAt.getTime();
    const life = expiresAt - now();
    refreshAt = expiresAt - Math.min(options.refreshAheadMs ?? 30_000, Math.max(0, life / 4));
    const stale = tokens.accessToken;
    // A failed refresh leaves the tokens as they were; the next call tries again. No retry loop here.
    timer = setTimeout(() => void refreshFrom(stale).catch(() => {}), Math.max(0, refreshAt - now()));
    // A pending refresh must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
  }

  /** Takes tokens (or a sign-out) as this tab's own, without telling the others. */
  function hold(next: AuthTokens | null, change: AuthChange): void {
    if (signal.aborted) return;
    tokens = next;
    status = next ? 'signed-in' : 'signed-out';
    schedule();
    emit(change);
  }

  async function end(reason: SignOutReason, code?: AuthErrorCode): Promise<void> {
    assertOpen();
    if (status === 'signed-out') return;
    await store.set(null);
    assertOpen();
    coordinator.announce(null);
    hold(null, code ? { type: 'signed-out', reason, code } : { type: 'signed-out', reason });
  }

  async function rotate(staleAccessToken: string): Promise<string | null> {
    // The lock may be granted after close().
    assertOpen();
    // Inside the lock: another tab may have refreshed meanwhile and left its tokens in the store.
    const stored = await store.get();
    assertOpen();
    if (!stored) {
      if (tokens) hold(null, { type: 'signed-out', reason: 'other-tab' });
      return null;
    }
    if (stored.accessToken !== staleAccessToken && stored.accessTokenExpiresAt.getTime() > now()) {
      if (stored.accessToken !== tokens?.accessToken) hold(stored, { type: 'refreshed' });
      return stored.accessToken;
    }
    let next: AuthTokens;
    try {
      next = await options.refresh(stored.refreshToken, { signal });
    } catch (error) {
      // Aborted by close(), whatever the transport made of the abort.
      assertOpen();
      const code = getAuthErrorCode(error);
      if (code && SESSION_ENDING_CODES.has(code)) {
        await end('refresh-rejected', code);
        return null;
      }
      // The server rotated nothing and the refresh token still works: wait as long as it says.
      if (code === 'RATE_LIMITED' && error instanceof Error) holdRefreshes(error);
      throw error;
    }
    // Stored even when close() came meanwhile: the server has rotated, and a store that outlives
    // this client must keep the refresh token that still works.
    await store.set(next);
    assertOpen();
    coordinator.announce(next);
    hold(next, { type: 'refreshed' });
    return next.accessToken;
  }

  /** Sends no refresh before the `Retry-After` of `refusal` (1 s if it names none), then tries again. */
  function holdRefreshes(refusal: Error): void {
    const until = now() + retryAfterMs(refusal);
    held = { until, refusal };
    clearTimeout(timer);
    const stale = tokens?.accessToken;
    if (stale === undefined) return;
    timer = setTimeout(() => {
      // The wait is over when this fires, whatever an injected clock says; else no timer would follow.
      held = null;
      void refreshFrom(stale).catch(() => {});
    }, until - now());
    (timer as { unref?: () => void }).unref?.();
  }

  function refreshFrom(staleAccessToken: string): Promise<string | null> {
    if (held && now() < held.until) {
      // A token that still works is better than none; an expired one gets the refusal, unsent.
      if (tokens && tokens.accessTokenExpiresAt.getTime() > now()) return Promise.resolve(tokens.accessToken);
      return Promise.reject(held.refusal);
    }
    held = null;
    inFlight ??= coordinator.exclusive(() => rotate(staleAccessToken), signal).finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  const stopListening = coordinator.onAnnouncement((announced) => {
    // A store this tab does not share (memory, in cookie mode) must hold what the lock holder got,
    // or the next refresh here would start from tokens already spent.
    // A store that cannot write still leaves this tab following the others, in memory.
    void store.set(announced).catch(() => {}).then(() => {
      if (announced) {
        if (announced.accessToken !== tokens?.accessToken) hold(announced, { type: tokens ? 'refreshed' : 'signed-in' });
      } else if (tokens) {
        hold(null, { type: 'signed-out', reason: 'other-tab' });
      }
    });
  });

  /** Signs in with the cookie alone, if there is one; any failure means there is none to use. */
  async function resumeFromCookie(): Promise<AuthTokens | null> {
    const stored = await store.get();
    if (stored) return stored;
    try {
      assertOpen();
      const resumed = await options.refresh(null, { signal });
      await store.set(resumed);
      assertOpen();
      coordinator.announce(resumed);
      return resumed;
    } catch {
      return null;
    }
  }

  const ready = store.get().then(async (stored) => {
    const found = stored ?? (options.refreshOnStart ? await coordinator.exclusive(resumeFromCookie, signal).catch(() => null) : null);
    // A sign-in that finished meanwhile wins over what was found.
    if (status === 'loading') hold(found, found ? { type: 'signed-in' } : { type: 'signed-out', reason: 'signed-out' });
  });

  return {
    /** Settles once the store has been read and the status is known. */
    ready,

    /** Where the client stands now. */
    getState: state,

    /** Calls `listener` on every sign-in, refresh and sign-out. Returns the function that stops it. */
    onChange(listener: (state: AuthSessionState, change: AuthChange) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /**
     * An access token good for a call made now, or null when signed out: refreshes first when the
     * one in hand is about to expire. Callers that arrive during a refresh wait for that one.
     */
    async accessToken(): Promise<string | null> {
      assertOpen();
      await ready;
      assertOpen();
      if (inFlight) return inFlight;
      if (!tokens) return null;
      if (now() < refreshAt) return tokens.accessToken;
      return refreshFrom(tokens.accessToken);
    },

    /** The access token in hand, without waiting or refreshing. */
    currentAccessToken(): string | null {
      return tokens?.accessToken ?? null;
    },

    /**
     * The server answered `TOKEN_EXPIRED` to a call made with `rejected`: refreshes, unless that
     * already happened, and resolves to the token to replay with (null: signed out).
     */
    refreshAfterExpiry(rejected: string): Promise<string | null> {
      if (signal.aborted) return Promise.reject(new AuthClientClosedError());
      if (tokens && tokens.accessToken !== rejected) return Promise.resolve(tokens.accessToken);
      return refreshFrom(rejected);
    },

    /** The server says the session behind `rejected` is over: sign out, unless tokens changed since. */
    async endAfterRejection(rejected: string, code: AuthErrorCode): Promise<void> {
      if (!signal.aborted && tokens?.accessToken === rejected) await end('session-ended', code);
    },

    /** Holds the tokens of a fresh sign-in, here and in every tab. */
    async signIn(signedIn: AuthTokens): Promise<void> {
      assertOpen();
      await store.set(signedIn);
      assertOpen();
      coordinator.announce(signedIn);
      hold(signedIn, { type: 'signed-in' });
    },

    /** Forgets the tokens, here and in every tab. Does not call the server: see `logout`. */
    signOut(): Promise<void> {
      return end('signed-out');
    },

    /** True once `close()` was called. */
    isClosed: (): boolean => signal.aborted,

    /** Calls `listener` once, when the session is closed. Returns the function that stops it. */
    onClose(listener: () => void): () => void {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },

    /**
     * Ends the session here for good: stops the refresh timer and the tab coordinator and aborts the
     * refresh in flight. Resolves once that refresh has settled; from then on nothing of this session
     * reaches the network or the timer again, its state no longer changes, and `accessToken`,
     * `refreshAfterExpiry`, `signIn` and `signOut` fail with `AuthClientClosedError`. The stored
     * tokens stay, for the next client to pick up.
     */
    async close(): Promise<void> {
      if (!signal.aborted) {
        closing.abort(new AuthClientClosedError());
        clearTimeout(timer);
        stopListening();
        coordinator.close();
        for (const listener of closeListeners) listener();
        closeListeners.clear();
      }
      await Promise.allSettled([inFlight, ready]);
    },
  };
}

export type AuthSession = ReturnType<typeof createAuthSession>;
