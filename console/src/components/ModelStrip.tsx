import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { getMe, getModel, isApiError } from '../lib/api.ts';
import { promotionsText } from '../lib/display.ts';
import type { ModelInfo } from '../lib/types.ts';
import { Panel } from './Panel.tsx';

function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'info'; children: ReactNode }) {
  const cls = {
    ok: 'bg-emerald-900/50 text-emerald-200',
    warn: 'bg-amber-900/50 text-amber-200',
    bad: 'bg-red-900/60 text-red-200',
    info: 'bg-zinc-800 text-zinc-300',
  }[tone];
  return <span className={`rounded px-1.5 py-0.5 text-xs ${cls}`}>{children}</span>;
}

function SeenVersions({ versions }: { versions: (string | null)[] }) {
  return (
    <span className="text-xs text-zinc-400" data-testid="versions-seen">
      in predictions:{' '}
      {versions.length === 0 ? (
        <span className="text-zinc-500">none yet</span>
      ) : (
        versions.map((v) => (
          <span key={v ?? 'baseline'} className="ml-1 font-semibold text-zinc-100">
            {v === null ? 'baseline' : `v${v}`}
          </span>
        ))
      )}
    </span>
  );
}

/** Summary values of the model card worth a glance (scalars only, first few). */
function cardSummary(card: Record<string, unknown> | null): [string, string][] {
  if (!card) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(card)) {
    if (k === 'data_version' || k === 'champions' || k === 'rolled_back') continue; // shown apart
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) {
      out.push([k, typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)]);
    } else if (typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (typeof v2 === 'number') out.push([`${k}.${k2}`, Number.isInteger(v2) ? String(v2) : v2.toFixed(3)]);
      }
    }
    if (out.length >= 6) break;
  }
  return out.slice(0, 6);
}

function ModelDetails({ m }: { m: ModelInfo }) {
  const store = m.online_store;
  const promotions = promotionsText(m.card);
  return (
    <>
      <span className="text-xs text-zinc-400">
        serving{' '}
        <span className="font-semibold text-zinc-50" data-testid="serving">
          {m.serving === null ? 'none' : `v${m.serving}`}
        </span>
      </span>
      {m.degraded ? <Badge tone="bad">degraded: baseline predictions</Badge> : <Badge tone="ok">model loaded</Badge>}
      {store && (
        <span className="text-xs text-zinc-400" title={store.error ?? undefined}>
          online store <span className="text-zinc-200">{store.backend}</span>{' '}
          {store.available ? <Badge tone="ok">available</Badge> : <Badge tone="bad">unavailable{store.error ? `: ${store.error}` : ''}</Badge>}
        </span>
      )}
      {m.last_error && (
        <span className="max-w-md truncate text-xs text-red-300" title={m.last_error}>
          last error: {m.last_error}
        </span>
      )}
      {typeof m.card?.data_version === 'string' && (
        <span className="text-xs text-zinc-400" data-testid="data-version">
          data <span className="text-zinc-200">{m.card.data_version}</span>
        </span>
      )}
      {promotions && (
        <span className="text-xs text-zinc-400" data-testid="promotions">
          champions <span className="text-zinc-200">{promotions}</span>
        </span>
      )}
      {cardSummary(m.card).map(([k, v]) => (
        <span key={k} className="text-xs text-zinc-500">
          {k} <span className="tabular-nums text-zinc-300">{v}</span>
        </span>
      ))}
    </>
  );
}

/** The model being served (engineer and admin) or, for viewers, what the predictions say. */
export function ModelStrip({ versionsSeen }: { versionsSeen: (string | null)[] }) {
  const me = useQuery({ queryKey: ['me'], queryFn: getMe });
  // a viewer is told why without asking: the service would refuse (403)
  const viewer = me.data?.role === 'viewer';
  const q = useQuery({
    queryKey: ['model'],
    queryFn: getModel,
    enabled: me.isSuccess && !viewer,
    refetchInterval: (query) => (isApiError(query.state.error, 403) ? false : 15_000),
    retry: (n, e) => !isApiError(e) || (e.status >= 500 && n < 2),
  });
  const updatedAt = Math.max(q.dataUpdatedAt, q.errorUpdatedAt) || null;
  return (
    <Panel title="Model" updatedAt={updatedAt} testId="model-panel">
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1" data-testid="model-strip">
        {viewer || (q.error && isApiError(q.error, 403)) ? (
          <span className="text-xs font-semibold text-amber-300" data-testid="needs-engineer">
            Model details need the engineer role{viewer ? ' (you are signed in as viewer)' : ''}.
          </span>
        ) : q.isPending ? (
          <span className="text-xs text-zinc-500">loading model…</span>
        ) : q.data ? (
          <>
            <ModelDetails m={q.data} />
            {q.error && <span className="text-xs text-amber-300">(stale: {q.error.message})</span>}
          </>
        ) : (
          <span className="text-xs text-red-300" role="alert">
            model status unavailable: {q.error?.message}
          </span>
        )}
        <SeenVersions versions={versionsSeen} />
      </div>
    </Panel>
  );
}
