import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Auth } from '../../server/index.js';

/** The header a client sends to say which client it is; `startWatchedServer` counts by it. */
export const CLIENT_HEADER = 'x-test-client';

function watchedRouter(auth: Auth) {
  return auth.router({
    auth: auth.authRouter,
    demo: auth.router({ whoami: auth.protectedProcedure.query(({ ctx }) => ({ userId: ctx.user.id })) }),
  });
}

export type WatchedRouter = ReturnType<typeof watchedRouter>;

/** The procedure paths of a request: `/a.b,c.d?batch=1` holds two. */
function pathsOf(request: IncomingMessage): string[] {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  return decodeURIComponent(pathname.slice(1)).split(',');
}

interface Hold {
  path: string;
  clients: ReadonlySet<string>;
  held: Array<{ client: string; answer: () => void }>;
}

/**
 * An app on `auth` behind an HTTP server that sees every request before tRPC does: it counts each
 * call by client (the `x-test-client` header) and procedure path, and can hold a client's requests
 * to a path unanswered, as a slow server would, until the test releases them.
 */
export async function startWatchedServer(auth: Auth) {
  const handler = createHTTPHandler({ router: watchedRouter(auth), createContext: auth.createContext });
  const calls: Array<{ client: string; path: string }> = [];
  const holds = new Set<Hold>();
  const waiters = new Set<() => void>();

  function onRequest(request: IncomingMessage, response: ServerResponse): void {
    const client = String(request.headers[CLIENT_HEADER] ?? '');
    const paths = pathsOf(request);
    for (const path of paths) calls.push({ client, path });
    const hold = [...holds].find((each) => each.clients.has(client) && paths.includes(each.path));
    if (hold) hold.held.push({ client, answer: () => void handler(request, response) });
    else void handler(request, response);
    for (const waiter of waiters) waiter();
  }

  const server = createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  /** Resolves once `condition` holds; it is checked now and after every request. */
  function until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  }

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    until,
    /** The paths `client` has called, in the order the requests arrived. */
    paths(client: string): string[] {
      return calls.filter((call) => call.client === client).map((call) => call.path);
    },
    /** How many calls `client` has made to `path`. */
    count(client: string, path: string): number {
      return calls.filter((call) => call.client === client && call.path === path).length;
    },
    /** Holds the requests of `clients` that call `path`, from now until `release()`. */
    hold(path: string, clients: Iterable<string>) {
      const hold: Hold = { path, clients: new Set(clients), held: [] };
      holds.add(hold);
      return {
        /** Resolves once each of the clients has a request held. */
        arrived: () => until(() => new Set(hold.held.map((each) => each.client)).size === hold.clients.size),
        /** Answers what was held, and holds nothing more. */
        release(): void {
          holds.delete(hold);
          for (const { answer } of hold.held) answer();
        },
      };
    },
    /** Stops listening; resolves once every connection has closed. */
    close(): Promise<void> {
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
    /** Drops every connection and stops listening, closed or not: the cleanup after a failure. */
    destroy(): void {
      server.closeAllConnections();
      if (server.listening) server.close();
    },
  };
}

export type WatchedServer = Awaited<ReturnType<typeof startWatchedServer>>;
