/** Drift and alerts (engineer): each session's drift reports, the PSI of one report's inputs with
 * its Evidently report, and the alerts on the session's clock, from what the pipeline published. */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState, type ReactNode } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { Empty, Panel, Problem } from '../components/Panel.tsx';
import { formatPct, formatSeconds, isoMs } from '../lib/display.ts';
import { getAlertTimeline, getDriftFeatures, getDriftHistory } from '../lib/api.ts';
import {
  classStyle,
  clockLabel,
  formatSessionTime,
  formatUtc,
  lapDomain,
  logSummary,
  pickReport,
  pickSession,
  psiBars,
  publishedLabel,
  ratioTone,
  reportsOf,
  reportUrl,
  sessionLabel,
  timelinePoints,
  type PsiBar,
  type TimelinePoint,
} from '../lib/drift.ts';
import type { AlertTimeline, DriftReport, DriftSession, TimelineAlert } from '../lib/types.ts';
import { useNow } from '../lib/useNow.ts';

const TIP = 'rounded border border-zinc-700 bg-zinc-950/95 px-2 py-1 text-xs text-zinc-200';
const FOCUS = 'focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-red-500';
const TOP_INPUTS = 12;
const KIND_STYLE: Record<string, { fill: string; badge: string }> = {
  drift: { fill: '#f59e0b', badge: 'bg-amber-800/60 text-amber-100' },
  rollback: { fill: '#ef4444', badge: 'bg-red-800/70 text-red-100' },
};
const kindStyle = (kind: string) => KIND_STYLE[kind] ?? { fill: '#a1a1aa', badge: 'bg-zinc-800 text-zinc-200' };

function ClassBadge({ classification }: { classification: string }) {
  const s = classStyle(classification);
  return (
    <span className={`rounded px-1.5 py-0.5 text-xs font-semibold ${s.badge}`} title={s.help} data-testid="class-badge">
      {s.label}
    </span>
  );
}

function Published({ label, at }: { label: string; at: string | null | undefined }) {
  const now = useNow(5000);
  return (
    <span className="text-xs tabular-nums text-zinc-400" data-testid="drift-freshness">
      {label} {publishedLabel(at, now)}
    </span>
  );
}

function SessionList({
  sessions,
  current,
  onPick,
}: {
  sessions: DriftSession[];
  current: string | null;
  onPick: (key: string) => void;
}) {
  return (
    <ul className="flex max-h-[19rem] flex-col gap-1 overflow-auto pr-1" aria-label="Sessions with drift reports">
      {sessions.map((s) => {
        const picked = s.session_key === current;
        return (
          <li key={s.session_key}>
            <button
              type="button"
              aria-pressed={picked}
              onClick={() => onPick(s.session_key)}
              data-testid="drift-session"
              data-session-key={s.session_key}
              className={`flex w-full items-center gap-2 rounded border px-2 py-1 text-left text-xs ${FOCUS} ${
                picked ? 'border-red-700 bg-zinc-800 text-zinc-50' : 'border-zinc-800 text-zinc-300 hover:bg-zinc-800/60'
              }`}
            >
              <span className="min-w-0 flex-1 truncate" title={s.session_key}>
                {sessionLabel(s)}
              </span>
              <span className="tabular-nums text-zinc-500" title="reports">
                {s.reports}×
              </span>
              <ClassBadge classification={s.latest_classification} />
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function ShareBar({ share, limit }: { share: number; limit: number | undefined }) {
  const over = limit !== undefined && share >= limit;
  return (
    <span className="flex items-center gap-1.5">
      <span className="relative inline-block h-1.5 w-14 rounded bg-zinc-800" aria-hidden>
        <span
          className={`absolute inset-y-0 left-0 rounded ${over ? 'bg-amber-500' : 'bg-zinc-400'}`}
          style={{ width: `${Math.min(100, Math.max(0, share * 100))}%` }}
        />
        {limit !== undefined && (
          <span className="absolute inset-y-[-2px] w-px bg-zinc-200" style={{ left: `${Math.min(100, limit * 100)}%` }} />
        )}
      </span>
      <span className={`tabular-nums ${over ? 'text-amber-300' : ''}`}>{formatPct(share)}</span>
    </span>
  );
}

function HistoryTable({
  reports,
  current,
  onPick,
}: {
  reports: DriftReport[];
  current: DriftReport | null;
  onPick: (r: DriftReport) => void;
}) {
  const head = ['Report (UTC)', 'Laps compared', 'Class', 'Inputs drifted', 'Live MAE', 'Train MAE', 'Error ratio'];
  return (
    <div className="max-h-[19rem] overflow-auto">
      <table className="w-full text-xs tabular-nums" data-testid="drift-history">
        <caption className="sr-only">Drift reports of the session, newest first; pick one to see its inputs</caption>
        <thead className="sticky top-0 bg-zinc-900">
          <tr className="text-left text-[11px] uppercase tracking-wider text-zinc-500">
            {head.map((h) => (
              <th key={h} scope="col" className="px-1 py-1 font-medium">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {reports.map((r) => {
            const picked = r.computed_at === current?.computed_at;
            return (
              <tr
                key={r.computed_at}
                data-testid="drift-report-row"
                className={`border-t border-zinc-800/80 ${picked ? 'bg-zinc-800/70' : ''}`}
              >
                <td className="px-1 py-0.5">
                  <button
                    type="button"
                    aria-pressed={picked}
                    onClick={() => onPick(r)}
                    className={`whitespace-nowrap rounded px-1 text-left ${FOCUS} ${picked ? 'text-zinc-50' : 'text-zinc-300 underline decoration-zinc-600 hover:text-zinc-50'}`}
                    title={`against champion v${r.champion_version}`}
                  >
                    {formatUtc(r.computed_at).replace(' UTC', '')}
                  </button>
                  <span className="ml-1 text-zinc-500">v{r.champion_version}</span>
                </td>
                <td className="whitespace-nowrap px-1 py-0.5">
                  {r.laps}
                  <span className="text-zinc-500">
                    {r.last_lap !== null ? ` · to lap ${r.last_lap}` : ''}
                    {r.session_time_s !== null ? ` · ${formatSessionTime(r.session_time_s)}` : ''}
                  </span>
                </td>
                <td className="px-1 py-0.5">
                  <ClassBadge classification={r.classification} />
                </td>
                <td className="px-1 py-0.5" title={r.drifted_features.join(', ')}>
                  <ShareBar share={r.share_drifted} limit={r.thresholds.share_drifted} />
                  <span className="text-zinc-500">
                    {r.features_drifted}/{r.features_compared}
                  </span>
                </td>
                <td className="px-1 py-0.5">{formatSeconds(r.live_mae_clean)}</td>
                <td className="px-1 py-0.5">{formatSeconds(r.train_mae_clean)}</td>
                <td className={`px-1 py-0.5 font-semibold ${ratioTone(r)}`}>
                  {r.error_ratio === null ? '—' : `${r.error_ratio.toFixed(2)}×`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function PsiTip({ active, payload }: { active?: boolean; payload?: ReadonlyArray<{ payload?: PsiBar }> }) {
  const b = payload?.[0]?.payload;
  if (!active || !b) return null;
  return (
    <div className={TIP}>
      <div className="font-semibold text-zinc-50">{b.feature}</div>
      <div>PSI {b.psi.toFixed(3)}{b.over ? ' · drifted' : ''}</div>
      <div>Jensen-Shannon {b.js_distance.toFixed(3)}</div>
      {b.ks_p_value !== null && <div>KS p-value {b.ks_p_value.toExponential(2)}</div>}
    </div>
  );
}

function ThresholdLabel({ viewBox, threshold }: { viewBox?: { x?: number; y?: number }; threshold: number }) {
  return (
    <text x={(viewBox?.x ?? 0) + 4} y={(viewBox?.y ?? 0) + 10} fill="#fca5a5" fontSize={11} data-testid="psi-threshold">
      PSI {threshold}
    </text>
  );
}

function PsiChart({ bars, threshold }: { bars: PsiBar[]; threshold: number | null }) {
  const data = bars.map((b) => ({ ...b, overValue: b.over ? b.value : null, underValue: b.over ? null : b.value }));
  return (
    <div
      className="w-full"
      style={{ height: Math.max(140, data.length * 18 + 36) }}
      role="img"
      aria-label={`PSI of each input, largest first${threshold === null ? '' : `; threshold ${threshold}`}`}
      data-testid="psi-chart"
    >
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} layout="vertical" margin={{ top: 14, right: 16, bottom: 0, left: 0 }} barCategoryGap={2}>
          <CartesianGrid stroke="#27272a" strokeDasharray="3 3" horizontal={false} />
          <XAxis
            type="number"
            scale="sqrt"
            domain={[0, 'auto']}
            stroke="#a1a1aa"
            tick={{ fontSize: 10 }}
            tickFormatter={(v: number) => (v >= 1 ? v.toFixed(0) : v.toFixed(2))}
          />
          <YAxis type="category" dataKey="feature" stroke="#a1a1aa" tick={{ fontSize: 10 }} width={150} interval={0} />
          <Tooltip content={<PsiTip />} cursor={{ fill: '#27272a' }} />
          <Bar dataKey="overValue" stackId="psi" name="drifted" fill="#e10600" isAnimationActive={false} />
          <Bar dataKey="underValue" stackId="psi" name="below threshold" fill="#71717a" isAnimationActive={false} />
          {threshold !== null && (
            <ReferenceLine x={threshold} stroke="#fca5a5" strokeDasharray="4 3" label={<ThresholdLabel threshold={threshold} />} />
          )}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

function PsiPanel({ report }: { report: DriftReport }) {
  const [all, setAll] = useState(false);
  const q = useQuery({
    queryKey: ['drift', 'features', report.session_key, report.computed_at],
    queryFn: () => getDriftFeatures(report.session_key, report.computed_at),
    staleTime: Infinity, // a report's numbers never change
  });
  const threshold = q.data?.psi_threshold ?? report.thresholds.psi ?? null;
  const bars = useMemo(() => psiBars(q.data?.features ?? [], threshold), [q.data, threshold]);
  const shown = all ? bars : bars.slice(0, TOP_INPUTS);
  const link = (
    <a
      href={reportUrl(report)}
      target="_blank"
      rel="noopener noreferrer"
      data-testid="report-link"
      className={`rounded border border-zinc-700 px-2 py-0.5 text-xs font-semibold text-zinc-100 hover:bg-zinc-800 ${FOCUS}`}
    >
      Open Evidently report ↗<span className="sr-only"> (opens in a new tab)</span>
    </a>
  );
  return (
    <Panel title="PSI per input" updatedAt={isoMs(q.data?.published_at)} actions={link} testId="psi-panel">
      <p className="mb-2 text-xs text-zinc-400">
        Report of {formatUtc(report.computed_at)} against v{report.champion_version}: {report.features_drifted} of{' '}
        {report.features_compared} inputs at or past PSI {threshold ?? '?'} (red; square-root scale).
        {!report.report_current && (
          <span className="text-amber-300" data-testid="report-not-current">
            {' '}
            The session's HTML file now holds its newest report: the link opens that one.
          </span>
        )}
      </p>
      {q.isPending ? (
        <p className="text-sm text-zinc-500">Loading inputs…</p>
      ) : q.isError ? (
        <Problem error={q.error} what="the inputs of this report" retry={() => q.refetch()} />
      ) : bars.length === 0 ? (
        <Empty>This report compared no input.</Empty>
      ) : (
        <>
          <PsiChart bars={shown} threshold={threshold} />
          {bars.length > TOP_INPUTS && (
            <button
              type="button"
              onClick={() => setAll((v) => !v)}
              aria-expanded={all}
              className={`mt-1 text-xs text-zinc-400 underline hover:text-zinc-100 ${FOCUS}`}
            >
              {all ? `Show the top ${TOP_INPUTS} only` : `Show all ${bars.length} inputs`}
            </button>
          )}
        </>
      )}
    </Panel>
  );
}

function TimelineTip({ active, payload }: { active?: boolean; payload?: ReadonlyArray<{ payload?: TimelinePoint & { report?: DriftReport } }> }) {
  const p = payload?.[0]?.payload;
  if (!active || !p) return null;
  if (p.report) {
    return (
      <div className={TIP}>
        <div className="font-semibold text-zinc-50">report to lap {p.lap}</div>
        <div>{formatUtc(p.report.computed_at)} · {p.report.classification}</div>
      </div>
    );
  }
  return (
    <div className={`${TIP} max-w-xs`}>
      <div className="font-semibold text-zinc-50">
        {p.kind} · {clockLabel(p.alert)}
      </div>
      <div>{formatUtc(p.alert.at)}</div>
      <div className="mt-0.5 text-zinc-300">{p.alert.text}</div>
    </div>
  );
}

const ROWS = ['rollback', 'drift alert', 'report'];

function TimelineChart({ points, reports }: { points: TimelinePoint[]; reports: DriftReport[] }) {
  const domain = lapDomain(points, reports);
  const reportDots = reports
    .filter((r) => r.last_lap !== null)
    .map((r) => ({ lap: r.last_lap as number, row: 2, report: r }));
  const series = (kind: string) => points.filter((p) => p.kind === kind);
  return (
    <div className="h-40 w-full" role="img" aria-label="Alerts and drift reports on the session clock, by lap" data-testid="timeline-chart">
      <ResponsiveContainer width="100%" height="100%">
        <ScatterChart margin={{ top: 6, right: 16, bottom: 10, left: 0 }}>
          <CartesianGrid stroke="#27272a" strokeDasharray="3 3" />
          <XAxis
            type="number"
            dataKey="lap"
            domain={domain}
            allowDecimals={false}
            stroke="#a1a1aa"
            tick={{ fontSize: 10 }}
            label={{ value: 'lap (session clock)', fill: '#71717a', fontSize: 10, position: 'insideBottomRight', offset: -2 }}
            height={28}
          />
          <YAxis
            type="number"
            dataKey="row"
            domain={[-0.5, 2.5]}
            ticks={[0, 1, 2]}
            tickFormatter={(v: number) => ROWS[v] ?? ''}
            stroke="#a1a1aa"
            tick={{ fontSize: 10 }}
            width={72}
          />
          <Tooltip content={<TimelineTip />} cursor={{ stroke: '#52525b' }} />
          <Scatter data={reportDots} name="reports" fill="#71717a" shape="circle" isAnimationActive={false} />
          <Scatter data={series('drift')} name="drift alerts" fill={kindStyle('drift').fill} shape="diamond" isAnimationActive={false} />
          <Scatter data={series('rollback')} name="rollbacks" fill={kindStyle('rollback').fill} shape="triangle" isAnimationActive={false} />
        </ScatterChart>
      </ResponsiveContainer>
    </div>
  );
}

function AlertItem({ alert, testId, children }: { alert: TimelineAlert; testId: string; children?: ReactNode }) {
  return (
    <li className="border-t border-zinc-800/80 py-1.5 first:border-t-0" data-testid={testId} data-kind={alert.kind}>
      <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5 text-xs">
        <span className={`rounded px-1.5 py-0.5 font-semibold ${kindStyle(alert.kind).badge}`}>{alert.kind}</span>
        {children}
        <time dateTime={alert.at} className="tabular-nums text-zinc-500">
          {formatUtc(alert.at)}
        </time>
      </div>
      <p className="mt-0.5 break-words text-xs text-zinc-200">{alert.text}</p>
      <p className="text-[11px] text-zinc-500">{alert.note}</p>
    </li>
  );
}

function TimelinePanel({ sessionKey, reports }: { sessionKey: string; reports: DriftReport[] }) {
  const q = useQuery<AlertTimeline>({
    queryKey: ['drift', 'timeline', sessionKey],
    queryFn: () => getAlertTimeline(sessionKey),
    refetchInterval: 15_000,
  });
  const points = useMemo(() => timelinePoints(q.data), [q.data]);
  const t = q.data;
  return (
    <Panel title="Alert timeline" updatedAt={isoMs(t?.log.modified_at ?? t?.published_at.drift_history)} testId="timeline-panel">
      {q.isPending ? (
        <p className="text-sm text-zinc-500">Loading alerts…</p>
      ) : q.isError && !t ? (
        <Problem error={q.error} what="the alerts" retry={() => q.refetch()} />
      ) : t ? (
        <div className="flex flex-col gap-2">
          <p className="text-xs text-zinc-400" data-testid="alert-log">
            {logSummary(t.log)}
            {t.log.modified_at ? ` · last written ${formatUtc(t.log.modified_at)}` : ' · no alert sent yet'}
            {' · '}
            <Published label="live predictions" at={t.published_at.live_predictions} />
          </p>
          <TimelineChart points={points} reports={reports} />
          {t.events.length === 0 ? (
            <Empty>No drift or rollback alert on this session's clock.</Empty>
          ) : (
            <ol className="max-h-80 overflow-auto" aria-label="Alerts on this session's clock, oldest first">
              {t.events.map((a, i) => (
                <AlertItem key={`${a.at}-${i}`} alert={a} testId="timeline-event">
                  <span className="font-semibold tabular-nums text-zinc-100">{clockLabel(a)}</span>
                </AlertItem>
              ))}
            </ol>
          )}
          {t.unplaced.length > 0 && (
            <section aria-label="Alerts not on the session clock">
              <h3 className="text-[11px] font-semibold uppercase tracking-wider text-zinc-500">
                Not on a session clock (wall-clock time)
              </h3>
              <ol className="max-h-40 overflow-auto">
                {t.unplaced.map((a, i) => (
                  <AlertItem key={`${a.at}-${i}`} alert={a} testId="unplaced-alert" />
                ))}
              </ol>
            </section>
          )}
        </div>
      ) : null}
    </Panel>
  );
}

export function DriftView() {
  const history = useQuery({ queryKey: ['drift', 'history'], queryFn: getDriftHistory, refetchInterval: 30_000 });
  const [chosenSession, setChosenSession] = useState<string | null>(null);
  const [chosenReport, setChosenReport] = useState<string | null>(null);
  const data = history.data;
  const sessionKey = pickSession(data?.sessions ?? [], chosenSession);
  const reports = useMemo(() => reportsOf(data, sessionKey), [data, sessionKey]);
  const report = pickReport(reports, chosenReport);
  const session = data?.sessions.find((s) => s.session_key === sessionKey);

  const header = (
    <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
      <h2 className="text-sm font-semibold text-zinc-100">Drift &amp; alerts</h2>
      <Published label="drift_history" at={data?.published_at} />
      {history.isError && data && <span className="text-xs text-amber-300">(stale: {history.error.message})</span>}
    </div>
  );

  if (history.isPending) {
    return (
      <main className="p-3" data-testid="drift-view">
        {header}
        <p className="mt-3 text-sm text-zinc-500">Loading drift reports…</p>
      </main>
    );
  }
  if (!data) {
    return (
      <main className="p-3" data-testid="drift-view">
        {header}
        <div className="mt-3">
          <Problem error={history.error!} what="the drift reports" retry={() => history.refetch()} />
        </div>
      </main>
    );
  }
  if (data.published_at === null || data.sessions.length === 0) {
    return (
      <main className="flex flex-col gap-3 p-3" data-testid="drift-view">
        {header}
        <Panel title="Drift history" updatedAt={null} testId="drift-empty">
          <Empty>{data.empty ?? 'No drift report is published yet: `make run` reports drift on every session.'}</Empty>
        </Panel>
      </main>
    );
  }
  return (
    <main className="flex flex-col gap-3 p-3" data-testid="drift-view">
      {header}
      <div className="grid grid-cols-1 gap-3 xl:grid-cols-[minmax(0,18rem)_minmax(0,1fr)] 2xl:grid-cols-[minmax(0,22rem)_minmax(0,1fr)]">
        <Panel title="Sessions" updatedAt={isoMs(data.published_at)} testId="drift-sessions">
          <SessionList
            sessions={data.sessions}
            current={sessionKey}
            onPick={(key) => {
              setChosenSession(key);
              setChosenReport(null);
            }}
          />
        </Panel>
        <Panel
          title={session ? `Drift history · ${sessionLabel(session)}` : 'Drift history'}
          updatedAt={isoMs(data.published_at)}
          testId="drift-history-panel"
        >
          {reports.length === 0 ? (
            <Empty>No drift report of this session.</Empty>
          ) : (
            <HistoryTable reports={reports} current={report} onPick={(r) => setChosenReport(r.computed_at)} />
          )}
        </Panel>
      </div>
      {report && sessionKey && (
        <div className="grid grid-cols-1 gap-3 xl:grid-cols-2">
          <PsiPanel key={`${report.session_key}-${report.computed_at}`} report={report} />
          <TimelinePanel sessionKey={sessionKey} reports={reports} />
        </div>
      )}
    </main>
  );
}
