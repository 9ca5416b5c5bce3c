import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState } from 'react';
import { LoginForm } from './components/LoginForm.tsx';
import { SessionPicker } from './components/SessionPicker.tsx';
import { SessionView } from './components/SessionView.tsx';
import { getMe, logout } from './lib/api.ts';

const HASH_PREFIX = '#/session/';

function sessionFromHash(): string | null {
  const h = window.location.hash;
  if (!h.startsWith(HASH_PREFIX)) return null;
  try {
    return decodeURIComponent(h.slice(HASH_PREFIX.length)) || null;
  } catch {
    return null;
  }
}

/** The chosen session lives in the URL hash so reload and back/forward keep it. */
function useSessionRoute(): [string | null, (key: string | null) => void] {
  const [key, setKey] = useState<string | null>(sessionFromHash);
  useEffect(() => {
    const on = () => setKey(sessionFromHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((next: string | null) => {
    window.location.hash = next === null ? '' : `${HASH_PREFIX}${encodeURIComponent(next)}`;
    setKey(next);
  }, []);
  return [key, go];
}

export default function App() {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: getMe, retry: false, staleTime: 60_000 });
  const [sessionKey, setSessionKey] = useSessionRoute();
  const out = useMutation({
    mutationFn: logout,
    onSettled: () => qc.setQueryData(['me'], null),
  });
  const signedOut = me.data === null;
  useEffect(() => {
    // drop the previous key's data once its views are gone (removing it while they are
    // mounted would make them refetch without a cookie)
    if (signedOut) qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
  }, [signedOut, qc]);

  return (
    <div className="min-h-screen bg-zinc-950 font-mono text-zinc-100">
      <header className="flex h-12 items-center gap-4 border-b border-zinc-800 px-4">
        <h1 className="text-sm font-semibold tracking-tight">
          <span className="mr-2 inline-block h-3 w-3 rounded-sm bg-red-600 align-middle" />
          f1-lap-prediction console
        </h1>
        {me.data && (
          <div className="ml-auto flex items-center gap-3 text-xs">
            <span className="text-zinc-400" data-testid="whoami">
              <span className="rounded bg-zinc-800 px-1.5 py-0.5 font-semibold text-zinc-100">{me.data.role}</span>{' '}
              {me.data.key_id}
            </span>
            <button
              type="button"
              onClick={() => out.mutate()}
              disabled={out.isPending}
              className="rounded border border-zinc-700 px-2 py-0.5 text-zinc-300 hover:bg-zinc-800 focus-visible:outline-2 focus-visible:outline-red-500"
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      {me.isPending ? (
        <p className="p-6 text-sm text-zinc-500">Checking sign-in…</p>
      ) : me.isError ? (
        <div role="alert" className="p-6 text-sm text-red-300">
          Cannot reach the console API: {me.error.message}{' '}
          <button type="button" className="underline" onClick={() => me.refetch()}>
            retry
          </button>
        </div>
      ) : me.data === null ? (
        <LoginForm />
      ) : sessionKey === null ? (
        <SessionPicker onPick={setSessionKey} />
      ) : (
        <SessionView key={sessionKey} sessionKey={sessionKey} onBack={() => setSessionKey(null)} />
      )}
    </div>
  );
}
