import type { AnyRouter } from '@trpc/server';
import { useCallback, useSyncExternalStore } from 'react';
import type { AuthClientState } from '../create-auth-client.js';
import { useAuthClient } from './auth-provider.js';

/**
 * Where the client stands (`status`, `user`, `accessTokenExpiresAt`); re-renders on every sign-in,
 * refresh and sign-out, in this tab or another.
 *
 * @example
 * const { status, user } = useSession();
 * if (status === 'signed-out') return <SignIn />;
 */
export function useSession(): AuthClientState {
  const client = useAuthClient();
  const subscribe = useCallback((onStoreChange: () => void) => client.onChange(onStoreChange), [client]);
  return useSyncExternalStore(subscribe, client.getState, client.getState);
}

/**
 * The session's state and the actions that change it, with the typed tRPC client.
 *
 * @example
 * const { status, user, login, logout } = useAuth<AppRouter>();
 * <button onClick={() => logout()}>Sign out {user?.email}</button>
 */
export function useAuth<TRouter extends AnyRouter>() {
  const client = useAuthClient<TRouter>();
  const state = useSession();
  return {
    ...state,
    trpc: client.trpc,
    register: client.register,
    confirmEmail: client.confirmEmail,
    verifyMagicLink: client.verifyMagicLink,
    acceptInvite: client.acceptInvite,
    login: client.login,
    signInAnonymously: client.signInAnonymously,
    logout: client.logout,
    oauth: client.oauth,
  };
}
