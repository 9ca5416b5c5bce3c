/** History (engineer): how the served predictions fared, from what the pipeline published. */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Empty, Panel } from '../components/Panel.tsx';
import { getComparison, getHistory, getHistoryErrors } from '../lib/api.ts';
import { formatLapTime, formatPct, formatSeconds, isoMs } from '../lib/display.ts';
import { BREAKDOWNS, groupLabel, summarize } from '../lib/history.ts';
import type { AnswerContext, Breakdown, BreakdownRow, HistoryErrors, VersionComparison } from '../lib/types.ts';

const SELECT =
  'rounded border border-zinc-700 bg-zinc-900 px-2 py-1 text-xs text-zinc-100 focus-visible:outline-2 focus-visible:outline-red-500';
const TIP = { background: '#18181b', border: '1px solid #3f3f46', fontSize: 12 };

function BreakdownChart({ by, rows }: { by: Breakdown; rows: BreakdownRow[] }) {
  if (rows.length === 0) return <Empty>No clean lap in this selection.</Empty>;
  const data = rows.map((r) => ({ ...r, label: groupLabel(by, r.group) }));
  return (
    <div className="h-44 w-full" role="img" aria-label={`Clean-lap MAE ${by.replace('_', ' ')}`} data-testid={`breakdown-${by}`}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#27272a" strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" stroke="#a1a1aa" tick={{ fontSize: 10 }} interval={0} angle={data.length > 8 ? -35 : 0} textAnchor={data.length > 8 ? 'end' : 'middle'} height={data.length > 8 ? 48 : 24} />
          <YAxis stroke="#a1a1aa" tick={{ fontSize: 11 }} width={40} tickFormatter={(v: number) => v.toFixed(1)} />
          <Tooltip
            contentStyle={TIP}
            cursor={{ fill: '#27272a' }}
            formatter={(value, name, item) => {
              const r = item.payload as BreakdownRow;
              return [`${formatSeconds(Number(value))} · coverage ${formatPct(r.coverage_clean)} · ${r.clean_laps} laps`, name];
            }}
          />
          <Bar dataKey="mae_clean" name="MAE (clean)" fill="#e10600" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

function WorstLaps({ errors }: { errors: HistoryErrors }) {
  if (errors.worst.length === 0) return <Empty>No clean lap predicted yet.</Empty>;
  return (
    <div className="max-h-80 overflow-auto">
      <table className="w-full text-xs tabular-nums" data-testid="worst-laps">
        <thead className="sticky top-0 bg-zinc-900">
          <tr className="text-left text-[11px] uppercase tracking-wider text-zinc-500">
            {['Session', 'Driver', 'Lap', 'Tyre', 'Model', 'Predicted', 'Actual', 'Error', 'In 90%'].map((h) => (
              <th key={h} scope="col" className="px-1 py-1 font-medium">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {errors.worst.map((l) => (
            <tr key={`${l.session_key}-${l.driver}-${l.lap_number}-${l.model_version}`} className="border-t border-zinc-800/80" data-testid="worst-lap">
              <td className="max-w-48 truncate px-1 py-0.5 text-zinc-400" title={l.session_key}>
                {l.session_key}
              </td>
              <td className="px-1 py-0.5 font-semibold">{l.driver}</td>
              <td className="px-1 py-0.5">{l.lap_number}</td>
              <td className="whitespace-nowrap px-1 py-0.5">
                {l.compound ?? '?'} {l.tyre_life ?? ''}
              </td>
              <td className="px-1 py-0.5">v{l.model_version}</td>
              <td className="px-1 py-0.5">{formatLapTime(l.prediction)}</td>
              <td className="px-1 py-0.5">{formatLapTime(l.observed)}</td>
              <td className="whitespace-nowrap px-1 py-0.5 text-red-300">{formatSeconds(l.abs_error)}</td>
              <td className="px-1 py-0.5">{l.covered === null ? '–' : l.covered ? 'yes' : <span className="text-amber-300">no</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Two versions of one session compared; keyed on the session, the context and the versions, so a
 * change of any starts again from the default pair. */
function Comparison({ sessionKey, context, versions }: { sessionKey: string; context: AnswerContext; versions: string[] }) {
  // the newest two by default: usually the champion and the one before it (its shadow)
  const [a, setA] = useState<string | null>(() => versions.at(-1) ?? null);
  const [b, setB] = useState<string | null>(() => versions.at(-2) ?? null);
  const ready = a !== null && b !== null && a !== b;
  const q = useQuery<VersionComparison>({
    queryKey: ['history', 'compare', sessionKey, context, a, b],
    queryFn: () => getComparison(sessionKey, context, a, b),
    enabled: ready,
  });
  const summary = useMemo(() => summarize(q.data?.laps ?? []), [q.data]);
  const points = useMemo(
    () =>
      (q.data?.laps ?? [])
        .filter((l) => l.clean)
        .map((l, i) => ({ i, label: `${l.driver} L${l.lap_number}`, a: l.abs_error_a, b: l.abs_error_b })),
    [q.data],
  );
  if (versions.length < 2) {
    return (
      <Empty>
        Only {versions.length ? `v${versions[0]}` : 'no version'} predicted this session ({context}). A second version
        appears when a promoted champion predicts beside the one before it (its shadow), or when the session is
        replayed under another champion.
      </Empty>
    );
  }
  const pick = (value: string | null, set: (v: string) => void, label: string) => (
    <label className="flex items-center gap-1 text-xs text-zinc-400">
      {label}
      <select className={SELECT} value={value ?? ''} onChange={(e) => set(e.target.value)} data-testid={`compare-${label.toLowerCase()}`}>
        {versions.map((v) => (
          <option key={v} value={v}>
            v{v}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div className="flex flex-col gap-2" data-testid="comparison">
      <div className="flex flex-wrap items-center gap-3">
        {pick(a, setA, 'A')}
        {pick(b, setB, 'B')}
        {ready && q.data && (
          <span className="text-xs text-zinc-300" data-testid="comparison-summary">
            {summary.laps} clean laps · MAE v{a} {formatSeconds(summary.maeA)} ({summary.closerA} closer) · v{b}{' '}
            {formatSeconds(summary.maeB)} ({summary.closerB} closer)
          </span>
        )}
        {!ready && <span className="text-xs text-amber-300">pick two different versions</span>}
        {q.error && <span role="alert" className="text-xs text-red-300">{q.error.message}</span>}
      </div>
      {ready && points.length > 0 && (
        <div className="h-48 w-full" role="img" aria-label={`Absolute error per lap, v${a} against v${b}`}>
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={points} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
              <XAxis dataKey="i" stroke="#a1a1aa" tick={false} label={{ value: 'clean laps both predicted', fill: '#71717a', fontSize: 11 }} height={20} />
              <YAxis stroke="#a1a1aa" tick={{ fontSize: 11 }} width={40} />
              <Tooltip contentStyle={TIP} labelFormatter={(_, p) => (p?.[0]?.payload as { label?: string })?.label ?? ''} formatter={(v) => formatSeconds(Number(v))} />
              <Line dataKey="a" name={`v${a} error`} stroke="#e10600" dot={false} isAnimationActive={false} />
              <Line dataKey="b" name={`v${b} error`} stroke="#38bdf8" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </div>
  );
}

export function HistoryView() {
  const [context, setContext] = useState<AnswerContext>('session');
  const [sessionKey, setSessionKey] = useState<string | null>(null);
  const overview = useQuery({ queryKey: ['history'], queryFn: getHistory, refetchInterval: 30_000 });
  const errors = useQuery({
    queryKey: ['history', 'errors', context, sessionKey],
    queryFn: () => getHistoryErrors(context, sessionKey, null),
    refetchInterval: 30_000,
  });
  const sessions = (overview.data?.sessions ?? []).filter((s) => s.context === context);
  const chosen = sessions.find((s) => s.session_key === sessionKey) ?? null;
  const comparedSession = chosen ?? sessions[0] ?? null;
  const compareVersions = useQuery({
    queryKey: ['history', 'versions', comparedSession?.session_key, context],
    queryFn: () => getComparison(comparedSession!.session_key, context, null, null),
    enabled: comparedSession !== null,
  });
  const updatedAt = isoMs(errors.data?.published_at ?? overview.data?.published_at);

  if (overview.data && overview.data.published_at === null) {
    return (
      <main className="p-3" data-testid="history-view">
        <Panel title="History" updatedAt={null}>
          <Empty>{overview.data.note ?? 'Nothing published yet.'}</Empty>
        </Panel>
      </main>
    );
  }
  return (
    <main className="flex flex-col gap-3 p-3" data-testid="history-view">
      <div className="flex flex-wrap items-center gap-3 text-xs">
        <label className="flex items-center gap-1 text-zinc-400">
          Session
          <select className={SELECT} value={sessionKey ?? ''} onChange={(e) => setSessionKey(e.target.value || null)} data-testid="history-session">
            <option value="">all sessions</option>
            {sessions.map((s) => (
              <option key={s.session_key} value={s.session_key}>
                {s.session_key} ({s.clean_laps} clean laps)
              </option>
            ))}
          </select>
        </label>
        <fieldset className="flex items-center gap-1 text-zinc-400">
          <legend className="sr-only">Answers</legend>
          {(['session', 'request'] as const).map((c) => (
            <label key={c} className={`cursor-pointer rounded px-2 py-1 ${context === c ? 'bg-zinc-800 text-zinc-100' : ''}`}>
              <input type="radio" name="context" value={c} checked={context === c} onChange={() => setContext(c)} className="mr-1 accent-red-600" />
              {c === 'session' ? 'from session state' : 'from request alone'}
            </label>
          ))}
        </fieldset>
        {errors.data && (
          <span className="text-zinc-500" data-testid="history-laps">
            {errors.data.clean_laps ?? 0} clean of {errors.data.laps} predicted laps
          </span>
        )}
        {(overview.error || errors.error) && (
          <span role="alert" className="text-red-300">
            {(overview.error ?? errors.error)!.message}
          </span>
        )}
      </div>
      <div className="grid grid-cols-1 gap-3 lg:grid-cols-2 2xl:grid-cols-4">
        {BREAKDOWNS.map(({ by, title }) => (
          <Panel key={by} title={title} updatedAt={updatedAt} testId={`history-${by}`}>
            {errors.data ? <BreakdownChart by={by} rows={errors.data.breakdowns[by] ?? []} /> : <Empty>loading…</Empty>}
          </Panel>
        ))}
      </div>
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
        <Panel title="Worst-predicted laps" updatedAt={updatedAt} testId="history-worst">
          {errors.data ? <WorstLaps errors={errors.data} /> : <Empty>loading…</Empty>}
        </Panel>
        <Panel title={`Two versions${comparedSession ? ` · ${comparedSession.session_key}` : ''}`} updatedAt={updatedAt} testId="history-compare">
          {comparedSession === null ? (
            <Empty>No session predicted in this context.</Empty>
          ) : compareVersions.data ? (
            <Comparison
              key={`${comparedSession.session_key}|${context}|${compareVersions.data.versions.join()}`}
              sessionKey={comparedSession.session_key}
              context={context}
              versions={compareVersions.data.versions}
            />
          ) : compareVersions.error ? (
            <p role="alert" className="text-xs text-red-300">{compareVersions.error.message}</p>
          ) : (
            <Empty>loading…</Empty>
          )}
        </Panel>
      </div>
    </main>
  );
}
