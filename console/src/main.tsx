import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import App from './App.tsx';
import { isApiError } from './lib/api.ts';
import './index.css';

const queryClient: QueryClient = new QueryClient({
  // any 401 means the cookie is gone: back to the sign-in form
  queryCache: new QueryCache({
    onError: (error) => {
      if (isApiError(error, 401)) queryClient.setQueryData(['me'], null);
    },
  }),
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: false,
      retry: (n, e) => !isApiError(e) || ((e.status === 0 || e.status >= 500) && n < 2),
    },
  },
});

const root = document.getElementById('root');
if (!root) throw new Error('#root element missing from index.html');

createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
