import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createRoot } from 'react-dom/client';
import { createAuthClient, localStorageStore } from '../../client/index.js';
import { AuthProvider } from '../../client/react/index.js';
import type { ReferenceRouter } from '../server.js';
import { App } from './app.js';

// Cookie mode unless the page is opened with ?tokens=local: then the tokens live in localStorage.
const tokensInStorage = new URLSearchParams(location.search).get('tokens') === 'local';
const auth = createAuthClient<ReferenceRouter>(
  tokensInStorage ? { url: '/trpc', store: localStorageStore() } : { url: '/trpc', cookieMode: true },
);
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
