import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { Auth } from '../../server/index.js';
import { CookieJar } from './cookie-jar.js';

// The type of a router that mounts the auth router at `auth`, as every test app does.
const _mountAuth = (auth: Auth) => auth.router({ auth: auth.authRouter });
type AuthAppRouter = ReturnType<typeof _mountAuth>;

/**
 * A browser at a test app: a client of its auth procedures that keeps the cookies the app sets and
 * sends them back, and an access token when given one.
 */
export function browserAt(appUrl: string, jar = new CookieJar()) {
  let accessToken: string | null = null;
  const client = createTRPCClient<AuthAppRouter>({
    links: [
      httpLink({
        url: appUrl,
        transformer: superjson,
        headers: () => ({ ...(jar.cookies.size > 0 && { cookie: jar.header() }), ...(accessToken && { authorization: `Bearer ${accessToken}` }) }),
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          jar.store(response);
          return response;
        },
      }),
    ],
  });
  return {
    client,
    jar,
    /** Sends this access token with every later call (null: none). */
    signIn(token: string | null): void {
      accessToken = token;
    },
  };
}

export type KitBrowser = ReturnType<typeof browserAt>;
