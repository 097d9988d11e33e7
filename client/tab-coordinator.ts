import type { AuthTokens } from '../shared/types.js';

/**
 * How clients that share tokens (the tabs of one origin) keep from tripping over each other: one
 * refreshes at a time, and what one learns (new tokens, a sign-out) the others hear at once.
 */
export interface TabCoordinator {
  /**
   * Runs `task` while no other tab runs a task of this coordinator. Once `signal` aborts, a task
   * still waiting for its turn is dropped and the promise rejects.
   */
  exclusive<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Tells the other tabs about new tokens, or null for a sign-out. */
  announce(tokens: AuthTokens | null): void;
  /** Calls `listener` with what another tab announced. Returns the function that stops listening. */
  onAnnouncement(listener: (tokens: AuthTokens | null) => void): () => void;
  close(): void;
}

/** For a client alone in its process (Node, or a page that opts out): nothing to share. */
export function soloCoordinator(): TabCoordinator {
  return {
    exclusive: (task) => task(),
    announce: () => {},
    onAnnouncement: () => () => {},
    close: () => {},
  };
}

interface Announcement {
  tokens: (Omit<AuthTokens, 'accessTokenExpiresAt' | 'refreshTokenExpiresAt'> & { accessTokenExpiresAt: number; refreshTokenExpiresAt: number | null }) | null;
}

function toAnnouncement(tokens: AuthTokens | null): Announcement {
  if (!tokens) return { tokens: null };
  return {
    tokens: { ...tokens, accessTokenExpiresAt: tokens.accessTokenExpiresAt.getTime(), refreshTokenExpiresAt: tokens.refreshTokenExpiresAt?.getTime() ?? null },
  };
}

function fromAnnouncement({ tokens }: Announcement): AuthTokens | null {
  if (!tokens) return null;
  return {
    ...tokens,
    accessTokenExpiresAt: new Date(tokens.accessTokenExpiresAt),
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt === null ? null : new Date(tokens.refreshTokenExpiresAt),
  };
}

/**
 * The tabs of one origin: refreshes are serialised by a Web Lock, and news travels on a
 * BroadcastChannel, both named after `name`.
 *
 * Where Web Locks are missing, tabs refresh without waiting for each other; two tabs presenting the
 * same refresh token inside the server's grace window get the same successor, so that costs a
 * second request, never a sign-out.
 */
export function browserTabCoordinator(name = 'trpc-auth-kit'): TabCoordinator {
  const locks = typeof navigator === 'object' ? navigator.locks : undefined;
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
  return {
    // `request` resolves to what the task's promise resolves to; its typing nests the promise.
    exclusive: <T>(task: () => Promise<T>, signal?: AbortSignal) =>
      locks ? (locks.request(`${name}:refresh`, signal ? { signal } : {}, task) as Promise<T>) : task(),
    announce(tokens) {
      channel?.postMessage(toAnnouncement(tokens));
    },
    onAnnouncement(listener) {
      if (!channel) return () => {};
      const onMessage = (event: MessageEvent<Announcement>) => listener(fromAnnouncement(event.data));
      channel.addEventListener('message', onMessage);
      return () => channel.removeEventListener('message', onMessage);
    },
    close() {
      channel?.close();
    },
  };
}
