import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { SESSION_TYPE_LABEL } from '../lib/display.ts';
import { allLaps, allPredictions, isRaceLike, modelVersionsSeen, paceSeries, tower } from '../lib/live.ts';
import { strategy } from '../lib/strategy.ts';
import { useLiveSession } from '../lib/useLive.ts';
import { CalibrationPanelBody } from './CalibrationPanel.tsx';
import { ExplainPanel } from './ExplainPanel.tsx';
import { ModelStrip } from './ModelStrip.tsx';
import { PaceChart } from './PaceChart.tsx';
import { Empty, Panel } from './Panel.tsx';
import { StrategyStrip } from './StrategyStrip.tsx';
import { TimingTower } from './TimingTower.tsx';

export function SessionView({ sessionKey, onBack }: { sessionKey: string; onBack: () => void }) {
  const qc = useQueryClient();
  // the stream was refused (e.g. the cookie expired): let /api/me decide whether to sign in again
  const onClosed = useCallback(() => void qc.invalidateQueries({ queryKey: ['me'] }), [qc]);
  const { state, status } = useLiveSession(sessionKey, onClosed);
  const rows = useMemo(() => tower(state), [state]);
  const laps = useMemo(() => allLaps(state), [state.laps]);
  const predictions = useMemo(() => allPredictions(state), [state.predictions]);
  const versions = useMemo(() => modelVersionsSeen(state), [state.predictions]);
  const raceLike = isRaceLike(state);
  const reconnecting = status === 'reconnecting';
  const hasSnapshot = state.session !== null;

  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  // the driver "Why this lap" explains: the last one ticked (else the first ticked in tower order)
  const [focused, setFocused] = useState<string | null>(null);
  const [autoPicked, setAutoPicked] = useState(false);
  useEffect(() => {
    // start with the leader's chart so the view is never blank
    if (!autoPicked && rows[0]) {
      setSelected(new Set([rows[0].driver]));
      setAutoPicked(true);
    }
  }, [rows, autoPicked]);
  const toggle = useCallback(
    (driver: string) => {
      const adding = !selected.has(driver);
      setSelected((prev) => {
        const next = new Set(prev);
        if (adding) next.add(driver);
        else next.delete(driver);
        return next;
      });
      setFocused((prev) => (adding ? driver : prev === driver ? null : prev));
    },
    [selected],
  );
  const order = rows.map((r) => r.driver).filter((d) => selected.has(d));
  const explained = focused !== null && selected.has(focused) ? focused : (order[0] ?? null);
  const explainedRow = rows.find((r) => r.driver === explained);
  // refetch the explanation when that driver's next-lap prediction changes
  const explainRevision = explainedRow
    ? `${explainedRow.laps}:${explainedRow.next?.model_version ?? '-'}:${explainedRow.next?.lap_time ?? '-'}`
    : '';
  const strategies = useMemo(() => strategy(laps, rows.map((r) => r.driver)), [laps, rows]);

  const s = state.session;
  return (
    <main className="flex flex-col gap-3 p-3" data-testid="session-view" data-connection={status}>
      <div className="flex flex-wrap items-center gap-3">
        <button
          type="button"
          onClick={onBack}
          className="rounded border border-zinc-700 px-2 py-0.5 text-xs text-zinc-300 hover:bg-zinc-800 focus-visible:outline-2 focus-visible:outline-red-500"
        >
          ← Sessions
        </button>
        <h2 className="text-base font-semibold text-zinc-50" data-testid="session-title">
          {s ? `${s.season} ${s.event_name} · ${s.session_name}` : sessionKey}
        </h2>
        {s && (
          <span className="rounded bg-zinc-800 px-1.5 py-0.5 text-xs text-zinc-300">
            {SESSION_TYPE_LABEL[s.session_type] ?? s.session_type}
          </span>
        )}
        <span className="ml-auto text-xs" data-testid="connection">
          {status === 'open' ? (
            <span className="text-emerald-400">● live</span>
          ) : status === 'connecting' ? (
            <span className="text-zinc-400">connecting…</span>
          ) : (
            <span className="text-amber-300">● reconnecting…</span>
          )}
        </span>
      </div>

      <ModelStrip versionsSeen={versions} />

      <div className="grid grid-cols-1 gap-3 lg:grid-cols-[minmax(0,13fr)_minmax(0,10fr)]">
        <div className="flex min-w-0 flex-col gap-3">
          <Panel title="Timing tower" updatedAt={state.updatedAt} reconnecting={reconnecting} testId="tower-panel">
            {!hasSnapshot && rows.length === 0 ? (
              <Empty>{reconnecting ? 'Waiting for the stream to come back…' : 'Connecting to the live feed…'}</Empty>
            ) : rows.length === 0 ? (
              <Empty>No laps yet.</Empty>
            ) : (
              <TimingTower rows={rows} raceLike={raceLike} selected={selected} onToggle={toggle} />
            )}
          </Panel>
          <Panel title="Tyre strategy" updatedAt={state.updatedAt} reconnecting={reconnecting} testId="strategy">
            {rows.length === 0 ? <Empty>No laps yet.</Empty> : <StrategyStrip strategies={strategies} />}
          </Panel>
          <ExplainPanel
            sessionKey={sessionKey}
            driver={explained}
            revision={explainRevision}
            choices={order}
            onPick={setFocused}
          />
        </div>

        <div className="flex min-w-0 flex-col gap-3">
          <Panel title="Pace" updatedAt={state.updatedAt} reconnecting={reconnecting} testId="pace-panel">
            {order.length === 0 ? (
              <Empty>{rows.length === 0 ? 'No laps yet.' : 'Tick a driver in the tower to chart their pace.'}</Empty>
            ) : (
              <div className="flex max-h-[30rem] flex-col gap-3 overflow-auto">
                {order.map((d) => (
                  <PaceChart key={d} driver={d} points={paceSeries(state, d)} />
                ))}
              </div>
            )}
          </Panel>
          <Panel title="Calibration" updatedAt={state.updatedAt} reconnecting={reconnecting} testId="calibration-panel">
            <CalibrationPanelBody laps={laps} predictions={predictions} />
          </Panel>
        </div>
      </div>
    </main>
  );
}
