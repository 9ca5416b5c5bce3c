import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useCallback, useEffect, useState, type ComponentType } from 'react';
import { LoginForm } from './components/LoginForm.tsx';
import { SessionPicker } from './components/SessionPicker.tsx';
import { SessionView } from './components/SessionView.tsx';
import { PanelBoundary } from './components/Panel.tsx';
import { getMe, logout } from './lib/api.ts';
import { PAGES, parseHash, roleAllows, routeHash, type Page, type Route } from './lib/route.ts';
import type { Role } from './lib/types.ts';

/** Pages besides the live one: each view file registers here (the nav lists only these). Each
 * loads when first opened, so the live view's first render carries none of their code. */
const VIEWS: Partial<Record<Page, ComponentType>> = {
  history: lazy(() => import('./views/HistoryView.tsx').then((m) => ({ default: m.HistoryView }))),
  admin: lazy(() => import('./views/AdminView.tsx').then((m) => ({ default: m.AdminView }))),
  replay: lazy(() => import('./views/ReplayView.tsx').then((m) => ({ default: m.ReplayView }))),
  drift: lazy(() => import('./views/DriftView.tsx').then((m) => ({ default: m.DriftView }))),
};

/** The page and live session live in the URL hash so reload and back/forward keep them. */
function useRoute(): [Route, (next: Route) => void] {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((next: Route) => {
    const hash = routeHash(next);
    if (hash === '') history.pushState(null, '', window.location.pathname + window.location.search);
    else window.location.hash = hash;
    setRoute(next);
  }, []);
  return [route, go];
}

function Nav({ route, role, go }: { route: Route; role: Role; go: (next: Route) => void }) {
  const pages = PAGES.filter((p) => p.page === 'live' || VIEWS[p.page]);
  if (pages.length < 2) return null;
  return (
    <nav aria-label="Pages" className="flex gap-1 border-b border-zinc-800 px-3 text-xs" data-testid="nav">
      {pages.map((p) => {
        const current = route.page === p.page;
        const allowed = roleAllows(role, p.needs);
        return (
          <a
            key={p.page}
            href={routeHash({ page: p.page, session: null }) || '#'}
            onClick={(e) => {
              e.preventDefault();
              go({ page: p.page, session: null });
            }}
            aria-current={current ? 'page' : undefined}
            title={allowed ? undefined : `needs the ${p.needs} role`}
            data-testid={`nav-${p.page}`}
            className={`-mb-px border-b-2 px-3 py-2 focus-visible:outline-2 focus-visible:outline-red-500 ${
              current ? 'border-red-600 text-zinc-100' : 'border-transparent text-zinc-400 hover:text-zinc-200'
            } ${allowed ? '' : 'opacity-60'}`}
          >
            {p.label}
          </a>
        );
      })}
    </nav>
  );
}

function NeedsRole({ label, needs, role }: { label: string; needs: Role; role: Role }) {
  return (
    <p role="alert" className="p-6 text-sm text-amber-300" data-testid="needs-role">
      {label} needs the {needs} role; you are signed in as {role}.
    </p>
  );
}

function PageView({ route, role, go }: { route: Route; role: Role; go: (next: Route) => void }) {
  if (route.page === 'live') {
    return route.session === null ? (
      <SessionPicker onPick={(session) => go({ page: 'live', session })} />
    ) : (
      <SessionView key={route.session} sessionKey={route.session} onBack={() => go({ page: 'live', session: null })} />
    );
  }
  const page = PAGES.find((p) => p.page === route.page)!;
  const View = VIEWS[route.page];
  if (!View) return <SessionPicker onPick={(session) => go({ page: 'live', session })} />;
  if (!roleAllows(role, page.needs)) return <NeedsRole label={page.label} needs={page.needs} role={role} />;
  return (
    <PanelBoundary name={page.label}>
      <Suspense fallback={<p className="p-6 text-sm text-zinc-500">Loading {page.label}…</p>}>
        <View />
      </Suspense>
    </PanelBoundary>
  );
}

export default function App() {
  const qc = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: getMe, retry: false, staleTime: 60_000 });
  const [route, go] = useRoute();
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
      ) : (
        <>
          <Nav route={route} role={me.data.role} go={go} />
          <PageView route={route} role={me.data.role} go={go} />
        </>
      )}
    </div>
  );
}
