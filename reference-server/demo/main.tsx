import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createRoot } from 'react-dom/client';
import { createAuthClient, localStorageStore } from '../../client/index.js';
import { AuthProvider } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';
import { App } from './app.js';
import { chooseTokenMode, rememberSession, sessionMayResume } from './token-mode.js';

// Cookie mode unless the page is opened with ?tokens=local (or a mailed link is opened in a browser that last used it).
const tokensInStorage = chooseTokenMode() === 'local';
const auth = createAuthClient<ReferenceRouter>(
  tokensInStorage ? { url: '/trpc', store: localStorageStore() } : { url: '/trpc', cookieMode: true, refreshOnStart: sessionMayResume() },
);
auth.onChange((state) => rememberSession(state.status === 'signed-in'));
// For the browser console (and the browser tests): try `await trpcAuthDemo.auth.trpc.demo.whoami.query()`.
Object.assign(window, { trpcAuthDemo: { auth } });
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });

createRoot(document.getElementById('root') as HTMLElement).render(
  <QueryClientProvider client={queryClient}>
    <AuthProvider client={auth}>
      <App tokensInStorage={tokensInStorage} />
    </AuthProvider>
  </QueryClientProvider>,
);
