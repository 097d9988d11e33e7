import { useQueryClient } from '@tanstack/react-query';
import type { AnyRouter } from '@trpc/server';
import { createContext, useContext, useEffect } from 'react';
import type { ReactNode } from 'react';
import type { AuthClient } from '../create-auth-client.js';

const AuthClientContext = createContext<AuthClient<AnyRouter> | null>(null);

/**
 * Makes an auth client available to `useAuth` and `useSession` below it. Place it inside the
 * application's `QueryClientProvider`: on sign-out, and when another user signs in, it clears the
 * query cache, so no screen shows the previous user's data.
 *
 * @example
 * const auth = createAuthClient<AppRouter>({ url: '/trpc', cookieMode: true });
 * root.render(
 *   <QueryClientProvider client={queryClient}>
 *     <AuthProvider client={auth}><App /></AuthProvider>
 *   </QueryClientProvider>,
 * );
 */
export function AuthProvider<TRouter extends AnyRouter>(props: { client: AuthClient<TRouter>; children?: ReactNode }) {
  const { client, children } = props;
  const queryClient = useQueryClient();
  useEffect(() => {
    let userId = client.getState().user?.id ?? null;
    return client.onChange((state) => {
      const nextUserId = state.user?.id ?? null;
      const anotherUser = userId !== null && nextUserId !== null && nextUserId !== userId;
      if (state.status === 'signed-out' || anotherUser) queryClient.clear();
      if (nextUserId !== null || state.status === 'signed-out') userId = nextUserId;
    });
  }, [client, queryClient]);
  return <AuthClientContext.Provider value={client}>{children}</AuthClientContext.Provider>;
}

/** The auth client of the nearest `AuthProvider`. */
export function useAuthClient<TRouter extends AnyRouter>(): AuthClient<TRouter> {
  const client = useContext(AuthClientContext);
  if (!client) throw new Error('useAuth and useSession need an <AuthProvider> above them');
  return client;
}
