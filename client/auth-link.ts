import type { Operation, TRPCLink } from '@trpc/client';
import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import type { Unsubscribable } from '@trpc/server/observable';
import { SESSION_ENDING_CODES } from '../shared/errors.js';
import { AuthClientClosedError, getAuthErrorCode } from './errors.js';
import type { AuthSession } from './auth-session.js';

/** Where the link leaves, on each call, the access token that call is sent with. */
const ACCESS_TOKEN_KEY = 'authAccessToken';

/**
 * The context of a call that must go without the session's token and without waiting for a
 * refresh: the refresh itself, and sign-in calls.
 *
 * @example
 * await client.auth.refresh.mutate({ refreshToken }, { context: SKIP_AUTH });
 */
export const SKIP_AUTH = { skipAuth: true } as const;

function skipsAuth(op: Operation): boolean {
  return op.context.skipAuth === true;
}

/**
 * The tRPC link that signs calls in: it waits for a usable access token (refreshing first when the
 * one in hand is about to expire), and when the server still answers `TOKEN_EXPIRED` it refreshes
 * once and replays the call once. Every call that waits shares the one refresh. A call that fails
 * for any other reason fails as it is. Once the session is closed, every call through the link fails
 * with `AuthClientClosedError`, those in flight included (their requests are aborted), and none is
 * sent. Put it before the terminating link and pass `authHeaders(session)` to that link's `headers`.
 *
 * @example
 * createTRPCClient<AppRouter>({
 *   links: [authLink(session), httpBatchLink({ url, transformer: superjson, headers: authHeaders(session) })],
 * });
 */
export function authLink<TRouter extends AnyRouter>(session: AuthSession): TRPCLink<TRouter> {
  return () =>
    function signIn({ op, next }) {
      return observable((observer) => {
        let downstream: Unsubscribable | null = null;
        let stopped = false;

        const fail = (cause: unknown) => observer.error(TRPCClientError.from(cause instanceof Error ? cause : new Error(String(cause))));
        // Failing the call tears it down, which unsubscribes the terminating link: that aborts the request.
        const failClosed = () => fail(new AuthClientClosedError());
        if (session.isClosed()) {
          failClosed();
          return () => {};
        }
        const stopWatchingClose = session.onClose(failClosed);

        function send(token: string | null, isReplay: boolean): void {
          if (stopped) return;
          downstream = next({ ...op, context: { ...op.context, [ACCESS_TOKEN_KEY]: token } }).subscribe({
            next: (result) => observer.next(result),
            complete: () => observer.complete(),
            error(error) {
              const code = getAuthErrorCode(error);
              if (token && code === 'TOKEN_EXPIRED' && !isReplay) {
                session.refreshAfterExpiry(token).then((fresh) => (fresh ? send(fresh, true) : observer.error(error)), fail);
                return;
              }
              // An expired token was refreshed above; a token refused for any other reason is a session over.
              if (token && code && code !== 'TOKEN_EXPIRED' && SESSION_ENDING_CODES.has(code)) void session.endAfterRejection(token, code);
              observer.error(error);
            },
          });
        }

        if (skipsAuth(op)) {
          downstream = next(op).subscribe(observer);
        } else {
          session.accessToken().then((token) => send(token, false), fail);
        }

        return () => {
          stopped = true;
          stopWatchingClose();
          downstream?.unsubscribe();
        };
      });
    };
}

/**
 * The `headers` option for `httpBatchLink`, `httpLink` and `httpBatchStreamLink`, and the headers of
 * `httpSubscriptionLink`'s `eventSourceOptions` (with an EventSource that sends headers): the bearer
 * token `authLink` chose for the calls. A subscription asks the session again on every reconnect,
 * so a stream outlives its first token.
 */
export function authHeaders(session: AuthSession) {
  return async function headers(opts: { op: Operation } | { opList: readonly Operation[] }): Promise<Record<string, string>> {
    const ops = 'op' in opts ? [opts.op] : opts.opList;
    const signed = ops.filter((op) => !skipsAuth(op));
    if (signed.length === 0) return {};
    let token: string | null;
    if (signed.some((op) => op.type === 'subscription')) {
      token = await session.accessToken();
    } else {
      // A batch normally shares one token; if a refresh landed between its calls, send the newer.
      const chosen = signed.map((op) => op.context[ACCESS_TOKEN_KEY]).filter((value): value is string => typeof value === 'string');
      const current = session.currentAccessToken();
      token = chosen.find((value) => value === current) ?? chosen[0] ?? null;
    }
    return token ? { authorization: `Bearer ${token}` } : {};
  };
}
