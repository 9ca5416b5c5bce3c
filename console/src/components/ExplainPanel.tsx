import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { getExplanation, getMe, isApiError } from '../lib/api.ts';
import { formatLapTime } from '../lib/display.ts';
import type { Explanation } from '../lib/types.ts';
import { formatDelta, formatFeatureValue, waterfall, type Waterfall, type WaterfallStep } from '../lib/waterfall.ts';
import { Empty, Panel } from './Panel.tsx';

const SLOWER = '#ef4444';
const FASTER = '#22c55e';

function stepColor(s: WaterfallStep): string {
  if (s.kind === 'reference') return '#71717a';
  if (s.kind === 'prediction') return '#f4f4f5';
  if (s.kind === 'rest') return '#52525b';
  return s.delta > 0 ? SLOWER : FASTER;
}

function Note({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <p className="py-2 text-xs font-semibold text-amber-300" data-testid={testId}>
      {children}
    </p>
  );
}

/** Floating bars, one row per step, on a shared seconds axis (plain SVG, x in percent). */
function WaterfallChart({ w }: { w: Waterfall }) {
  const span = w.range[1] - w.range[0];
  const pad = Math.max(0.05, span * 0.12);
  const lo = w.range[0] - pad;
  const hi = w.range[1] + pad;
  const x = (v: number) => Math.min(100, Math.max(0, ((v - lo) / (hi - lo)) * 100));
  return (
    <ol className="m-0 flex list-none flex-col gap-0.5 p-0" aria-label="waterfall from reference to prediction">
      {w.steps.map((s, i) => {
        const total = s.kind === 'reference' || s.kind === 'prediction';
        // totals are bars from the axis start; steps float from the running total before to after
        const a = total ? 0 : x(Math.min(s.start, s.end));
        const b = total ? x(s.end) : x(Math.max(s.start, s.end));
        const value = s.kind === 'contribution' ? formatFeatureValue(s.value) : null;
        const amount = total ? formatLapTime(s.end) : formatDelta(s.delta);
        return (
          <li
            key={`${s.kind}-${s.label}-${i}`}
            data-testid="explain-step"
            data-kind={s.kind}
            data-feature={s.label}
            data-delta={s.delta.toFixed(3)}
            className="grid grid-cols-[minmax(0,11rem)_minmax(0,1fr)_5.5rem] items-center gap-2 text-xs"
            title={`${s.label}${value !== null ? ` = ${value}` : ''}: ${amount}`}
          >
            <span className={`truncate ${total ? 'font-semibold text-zinc-100' : 'text-zinc-300'}`}>
              {s.label}
              {value !== null && <span className="text-zinc-500"> = {value}</span>}
            </span>
            <svg className="h-3.5 w-full" aria-hidden>
              <rect x={`${a}%`} y="1" width={`${Math.max(b - a, 0.4)}%`} height="12" rx="1.5" fill={stepColor(s)} />
              {!total && <line x1={`${x(s.start)}%`} x2={`${x(s.start)}%`} y1="0" y2="14" stroke="#a1a1aa" strokeDasharray="2 2" />}
            </svg>
            <span
              className={`text-right tabular-nums ${total ? 'text-zinc-100' : s.kind === 'rest' ? 'text-zinc-400' : s.delta > 0 ? 'text-red-400' : 'text-green-400'}`}
            >
              {amount}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

function ExplainBody({ driver, e }: { driver: string; e: Explanation }) {
  const w = waterfall(e);
  const p = e.prediction;
  return (
    <div className="flex flex-col gap-2" data-testid="explain-body" data-driver={driver} data-lap={e.lap_number}>
      <div className="flex flex-wrap items-baseline gap-x-3 text-xs text-zinc-400">
        <span className="font-bold text-zinc-50">{driver}</span>
        <span>lap {e.lap_number}</span>
        <span>
          predicted <span className="tabular-nums text-zinc-100">{formatLapTime(p?.lap_time)}</span>
        </span>
        <span>{p?.degraded ? 'baseline' : p?.model_version ? `v${p.model_version}` : ''}</span>
      </div>
      {w === null ? (
        <p className="py-2 text-xs text-zinc-400" data-testid="explain-none">
          no explanation for this lap{p?.degraded ? ' (baseline prediction)' : e.reference === null ? ' (no reference pace)' : ''}
        </p>
      ) : (
        <>
          <WaterfallChart w={w} />
          <p className="text-[11px] text-zinc-500">
            reference + bias + contributions = prediction
            <span className="ml-2 text-zinc-600">(red: slower, green: faster)</span>
          </p>
          {w.residual !== 0 && (
            <p className="text-[11px] text-amber-300" data-testid="explain-residual" data-residual={w.residual.toFixed(3)}>
              residual {formatDelta(w.residual)}: the {e.contributions.length} contributions shown do not add up to the
              prediction; the rest of the features is the “other features” step.
            </p>
          )}
        </>
      )}
    </div>
  );
}

interface Props {
  sessionKey: string;
  /** the driver to explain (null: none selected) */
  driver: string | null;
  /** changes whenever that driver's next-lap prediction does, to refetch */
  revision: string;
  /** drivers ticked in the tower, to switch between */
  choices: string[];
  onPick: (driver: string) => void;
}

/** Why the model predicts the selected driver's next lap (engineer and admin). */
export function ExplainPanel({ sessionKey, driver, revision, choices, onPick }: Props) {
  const me = useQuery({ queryKey: ['me'], queryFn: getMe });
  // a viewer is told why without asking: the service would refuse (403)
  const viewer = me.data?.role === 'viewer';
  const q = useQuery({
    queryKey: ['explain', sessionKey, driver, revision],
    queryFn: () => getExplanation(sessionKey, driver as string),
    enabled: me.isSuccess && !viewer && driver !== null,
    retry: (n, e) => !isApiError(e) || (e.status >= 500 && n < 2),
    // keep the chart while the same driver's next explanation loads, not another driver's
    placeholderData: (prev, prevQuery) => (prevQuery?.queryKey[2] === driver ? prev : undefined),
  });
  const updatedAt = Math.max(q.dataUpdatedAt, q.errorUpdatedAt) || null;
  const picker =
    choices.length > 1 && !viewer ? (
      <div className="flex gap-1" role="group" aria-label="Driver to explain">
        {choices.map((d) => (
          <button
            key={d}
            type="button"
            aria-pressed={d === driver}
            onClick={() => onPick(d)}
            className={`rounded px-1.5 text-[11px] font-semibold focus-visible:outline-2 focus-visible:outline-red-500 ${d === driver ? 'bg-red-900/60 text-zinc-50' : 'text-zinc-400 hover:bg-zinc-800'}`}
          >
            {d}
          </button>
        ))}
      </div>
    ) : null;

  let body: ReactNode;
  if (viewer || (q.error && isApiError(q.error, 403))) {
    body = (
      <Note testId="explain-needs-engineer">
        Why this lap needs the engineer role{viewer ? ' (you are signed in as viewer)' : ''}.
      </Note>
    );
  } else if (driver === null) {
    body = <Empty>Tick a driver in the tower to see why the model predicts their next lap.</Empty>;
  } else if (q.data) {
    body = (
      <>
        <ExplainBody driver={driver} e={q.data} />
        {q.error && <p className="text-xs text-amber-300">(stale: {q.error.message})</p>}
      </>
    );
  } else if (q.error && isApiError(q.error, 404)) {
    body = <Empty>No lap for {driver} yet: nothing to explain.</Empty>;
  } else if (q.error) {
    body = (
      <p className="text-xs text-red-300" role="alert">
        explanation unavailable: {q.error.message}
      </p>
    );
  } else {
    body = <p className="text-xs text-zinc-500">loading explanation…</p>;
  }
  return (
    <Panel title="Why this lap" updatedAt={viewer ? null : updatedAt} actions={picker} testId="explain">
      {body}
    </Panel>
  );
}
