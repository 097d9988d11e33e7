import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import type { TRPCClient, TRPCLink } from '@trpc/client';
import type { AnyRouter, inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import type { AuthRouter } from '../server/auth-router.js';
import { SESSION_ENDING_CODES } from '../shared/errors.js';
import type { PublicUser } from '../shared/types.js';
import { SKIP_AUTH, authHeaders, authLink } from './auth-link.js';
import { getAuthErrorCode } from './errors.js';
import { createAuthSession } from './auth-session.js';
import type { AuthChange, AuthSessionState } from './auth-session.js';
import { COOKIE_TRANSPORT_HEADER } from '../shared/cookie-transport.js';
import { memoryStore } from './stores/memory.js';
import { browserTabCoordinator, soloCoordinator } from './tab-coordinator.js';
import type { TabCoordinator } from './tab-coordinator.js';
import type { TokenStore } from './token-store.js';

export interface CreateAuthClientOptions {
  /** The tRPC endpoint, e.g. `https://api.example.com/trpc` or `/trpc`. */
  url: string;
  /** Where the tokens live. Default: memory (and always memory in cookie mode). */
  store?: TokenStore;
  /**
   * Browser only: the refresh token travels in an `HttpOnly` cookie the page cannot read, and the
   * access token stays in memory. The server must enable `cookies`.
   */
  cookieMode?: boolean;
  /**
   * Cookie mode: on start, ask the server whether the browser's cookie still holds a session (an
   * `auth.refresh`). `false` starts signed out without a request, for a page that knows no session
   * was started in this browser (the server would answer 401, which the browser logs). Default true.
   */
  refreshOnStart?: boolean;
  /**
   * How tabs share refreshes and sign-outs. Default: in a browser, a Web Lock and a
   * BroadcastChannel per origin; elsewhere, none.
   */
  tabs?: TabCoordinator;
  /** Where the auth router is mounted in the application's router. Default `auth`. */
  authPath?: string;
  /** Batch calls made in the same tick into one request (`httpBatchLink`). Default true. */
  batch?: boolean;
  /** Headers sent with every call, besides the bearer token. */
  headers?: Record<string, string>;
  /** The fetch to use (a test's, or one with a proxy agent). */
  fetch?: typeof fetch;
  /** See `createAuthSession`. */
  refreshAheadMs?: number;
  /** The time in milliseconds; tests move it. */
  now?: () => number;
}

/** Where the client stands, with the signed-in user once known. */
export interface AuthClientState extends AuthSessionState {
  user: PublicUser | null;
}

type AuthInputs = inferRouterInputs<AuthRouter>;
type SignedIn = inferRouterOutputs<AuthRouter>['login'];

/** Calls the auth router under `prefix`, where the application mounted it. */
function underPath(prefix: string): TRPCLink<AuthRouter> {
  return () =>
    function mountedAt({ op, next }) {
      return next({ ...op, path: `${prefix}.${op.path}` });
    };
}

/** Where `oauth.start` leaves the provider's name for `oauth.complete`, on the callback page. */
const OAUTH_PROVIDER_KEY = 'trpc-auth-kit:oauth-provider';

function isBrowser(): boolean {
  return typeof window === 'object' && typeof document === 'object';
}

/**
 * The ready path: a typed tRPC client whose calls carry the token and refresh it as needed, plus
 * sign-up, sign-in and sign-out, the current state and change events.
 *
 * @example
 * const auth = createAuthClient<AppRouter>({ url: 'http://localhost:3000/trpc' });
 * await auth.login({ identifier: 'ada@example.com', password });
 * const todos = await auth.trpc.todos.list.query();
 * auth.onChange((state) => render(state.status));
 */
export function createAuthClient<TRouter extends AnyRouter>(options: CreateAuthClientOptions) {
  const authPath = options.authPath ?? 'auth';
  const cookieMode = options.cookieMode ?? false;
  const store = cookieMode ? memoryStore() : (options.store ?? memoryStore());
  const listeners = new Set<(state: AuthClientState, change: AuthChange | { type: 'user' }) => void>();
  let user: PublicUser | null = null;

  const session = createAuthSession({
    store,
    coordinator: options.tabs ?? (isBrowser() ? browserTabCoordinator() : soloCoordinator()),
    refresh: async (refreshToken, { signal }) => {
      const input = refreshToken === null ? {} : { refreshToken };
      const result = await calls.refresh.mutate(input, { context: SKIP_AUTH, signal });
      return result.tokens;
    },
    refreshOnStart: cookieMode && options.refreshOnStart !== false,
    ...(options.refreshAheadMs === undefined ? {} : { refreshAheadMs: options.refreshAheadMs }),
    ...(options.now ? { now: options.now } : {}),
  });

  const staticHeaders = { ...options.headers, ...(cookieMode ? { [COOKIE_TRANSPORT_HEADER]: 'cookie' } : {}) };
  const bearer = authHeaders(session);
  const transport = {
    url: options.url,
    transformer: superjson,
    // Cookie mode across origins needs the browser to send and accept cookies.
    fetch: cookieMode ? (input: RequestInfo | URL, init?: RequestInit) => (options.fetch ?? fetch)(input, { ...init, credentials: 'include' }) : options.fetch,
  };
  // Built for any router: the application's router type only matters to the typed clients below.
  const terminating: TRPCLink<AnyRouter> =
    options.batch === false
      ? httpLink<AnyRouter>({ ...transport, headers: async (opts) => ({ ...staticHeaders, ...(await bearer(opts)) }) })
      : httpBatchLink<AnyRouter>({ ...transport, headers: async (opts) => ({ ...staticHeaders, ...(await bearer(opts)) }) });
  const client: TRPCClient<TRouter> = createTRPCClient<TRouter>({ links: [authLink<TRouter>(session), terminating as TRPCLink<TRouter>] });
  // The client's own calls, typed by the auth router wherever the application mounted it.
  const calls: TRPCClient<AuthRouter> = createTRPCClient<AuthRouter>({
    links: [underPath(authPath), authLink<AuthRouter>(session), terminating as TRPCLink<AuthRouter>],
  });

  // One object per state, replaced on change: React's useSyncExternalStore compares by identity.
  let snapshot: AuthClientState = { ...session.getState(), user };

  function emit(change: AuthChange | { type: 'user' }): void {
    snapshot = { ...session.getState(), user };
    for (const listener of listeners) listener(snapshot, change);
  }

  async function loadUser(): Promise<void> {
    try {
      const me = await calls.me.query();
      if (session.getState().status !== 'signed-in') return;
      user = me;
      emit({ type: 'user' });
    } catch {
      // Signed out meanwhile, or offline: the state says so, or the next call will.
    }
  }

  session.onChange((_, change) => {
    if (change.type === 'signed-out') user = null;
    emit(change);
    // A sign-in this tab did not make itself (another tab, or tokens read from the store).
    if (change.type === 'signed-in' && !user) void loadUser();
  });

  async function signedIn(result: SignedIn): Promise<PublicUser> {
    user = result.user;
    await session.signIn(result.tokens);
    return result.user;
  }

  /** `auth.register`; signs in when the server needs no confirmation first. */
  async function register(input: AuthInputs['register']) {
    const result = await calls.register.mutate(input, { context: SKIP_AUTH });
    if (result.user && result.tokens) await signedIn({ user: result.user, tokens: result.tokens });
    return { user: result.user ?? null, confirmationSent: result.confirmationSent };
  }

  /**
   * `auth.confirmEmail` with the mailed token. A sign-up's link signs in, and keeps the password
   * chosen at sign-up only if it is given here (without it the address is proven but that password
   * stops working, and the user sets one); an email change's link signs nobody in.
   */
  async function confirmEmail(input: AuthInputs['confirmEmail']): Promise<PublicUser> {
    const result = await calls.confirmEmail.mutate(input, { context: SKIP_AUTH });
    return result.tokens ? signedIn({ user: result.user, tokens: result.tokens }) : result.user;
  }

  /** `auth.magicLink.verify` with the mailed token; signs in. */
  async function verifyMagicLink(token: string): Promise<PublicUser> {
    return signedIn(await calls.magicLink.verify.mutate({ token }, { context: SKIP_AUTH }));
  }

  /** `auth.acceptInvite` with the mailed token and a password; signs in. */
  async function acceptInvite(input: AuthInputs['acceptInvite']): Promise<PublicUser> {
    return signedIn(await calls.acceptInvite.mutate(input, { context: SKIP_AUTH }));
  }

  /** `auth.login` by email or username; signs in. */
  async function login(input: AuthInputs['login']): Promise<PublicUser> {
    return signedIn(await calls.login.mutate(input, { context: SKIP_AUTH }));
  }

  /**
   * `auth.signInAnonymously`: a new account with no address, signed in (`user.isAnonymous`); the
   * server must enable it. Upgrade it later, keeping its id: `changePassword` then `changeEmail`, or
   * `oauth.link`.
   */
  async function signInAnonymously(): Promise<PublicUser> {
    return signedIn(await calls.signInAnonymously.mutate(undefined, { context: SKIP_AUTH }));
  }

  /**
   * Sign-in with an OAuth provider, in two steps: `start` on the sign-in page, then `complete` on the
   * callback page the provider sends the browser back to. The server binds the flow to this browser
   * by a cookie, so the API must be on the page's origin or the client in cookie mode.
   */
  const oauth = {
    /**
     * `auth.oauth.start`: answers the provider's authorization URL; send the browser there
     * (`location.assign(url)`). The provider's name is kept in `sessionStorage` for `complete`.
     */
    async start(provider: string, input: { redirectTo?: string } = {}): Promise<{ url: string }> {
      const result = await calls.oauth.start.mutate({ provider, ...input }, { context: SKIP_AUTH });
      globalThis.sessionStorage?.setItem(OAUTH_PROVIDER_KEY, provider);
      return result;
    },
    /**
     * `auth.oauth.callback` with the query the provider sent (`callbackUrl`, the page's own URL by
     * default); signs in, and answers the user and where the flow was to return. A provider's
     * refusal (`?error=…`) fails with `OAUTH_FAILED` without calling the server.
     */
    async complete(callbackUrl: string | URL = globalThis.location.href, input: { provider?: string } = {}): Promise<{ user: PublicUser; redirectTo: string }> {
      const query = new URL(callbackUrl).searchParams;
      const provider = input.provider ?? globalThis.sessionStorage?.getItem(OAUTH_PROVIDER_KEY) ?? null;
      globalThis.sessionStorage?.removeItem(OAUTH_PROVIDER_KEY);
      const code = query.get('code');
      const state = query.get('state');
      if (query.has('error') || !provider || !code || !state) throw new Error('OAUTH_FAILED');
      const iss = query.get('iss');
      const result = await calls.oauth.callback.mutate({ provider, code, state, ...(iss !== null && { iss }) }, { context: SKIP_AUTH });
      return { user: await signedIn(result), redirectTo: result.redirectTo };
    },
  };

  /**
   * `auth.logout`, then forgets the tokens here and in every tab, whatever the server answered:
   * a user who asked to sign out is signed out on this device. A session the server had already
   * ended is no error; any other failure (the server unreachable) is thrown after signing out here.
   */
  async function logout(scope: 'current' | 'others' | 'all' = 'current'): Promise<void> {
    try {
      if (session.getState().status === 'signed-in') await calls.logout.mutate({ scope });
    } catch (error) {
      // No session left to end on the server: what the user asked for is done.
      const code = getAuthErrorCode(error);
      if (!code || !SESSION_ENDING_CODES.has(code)) throw error;
    } finally {
      if (scope !== 'others') await session.signOut();
    }
  }

  return {
    /** The typed tRPC client for the whole application router. */
    trpc: client,
    /** The session behind the client: tokens, refresh, change events. */
    session,
    /** Settles once stored tokens have been read. */
    ready: session.ready,
    /** Where the client stands now: the same object until it changes. */
    getState: (): AuthClientState => snapshot,
    /** Calls `listener` on every sign-in, refresh, sign-out and user change. */
    onChange(listener: (state: AuthClientState, change: AuthChange | { type: 'user' }) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    register,
    confirmEmail,
    verifyMagicLink,
    acceptInvite,
    login,
    signInAnonymously,
    logout,
    oauth,
    /**
     * Ends the client for good: stops the refresh timer and the tab coordinator, fails the calls in
     * flight and aborts their requests and the refresh's, and resolves once the refresh has settled.
     * Every call made afterwards (the typed client's included) fails with `AuthClientClosedError`
     * and sends nothing. The stored tokens stay, for the next client to pick up.
     */
    close: (): Promise<void> => session.close(),
  };
}

export type AuthClient<TRouter extends AnyRouter> = ReturnType<typeof createAuthClient<TRouter>>;
