import { compoundKey, lastLapOf, stintLabel, type CompoundKey, type DriverStrategy } from '../lib/strategy.ts';

export const COMPOUND_COLOR: Record<CompoundKey, string> = {
  SOFT: '#ef4444',
  MEDIUM: '#facc15',
  HARD: '#f4f4f5',
  INTERMEDIATE: '#22c55e',
  WET: '#3b82f6',
  UNKNOWN: '#71717a',
};

const LEGEND: CompoundKey[] = ['SOFT', 'MEDIUM', 'HARD', 'INTERMEDIATE', 'WET', 'UNKNOWN'];

/** Lap numbers to label on the axis: about six, on round numbers. */
function ticks(last: number): number[] {
  const step = last <= 10 ? 1 : last <= 30 ? 5 : 10;
  const out = [1];
  for (let n = step; n <= last; n += step) if (n > 1) out.push(n);
  return out;
}

/** Every driver's stints as bars along the lap axis, one row per driver in tower order. */
export function StrategyStrip({ strategies }: { strategies: DriverStrategy[] }) {
  const last = lastLapOf(strategies);
  // lap n spans [n - 1, n] on the axis
  const pct = (lapEdge: number) => `${(lapEdge / last) * 100}%`;
  const present = new Set(strategies.flatMap((s) => s.stints.map((st) => st.compound)));
  return (
    <div className="flex flex-col gap-1 text-xs" data-testid="strategy-strip">
      <div className="flex flex-wrap gap-x-3 gap-y-0.5 text-zinc-400">
        {LEGEND.filter((c) => present.has(c)).map((c) => (
          <span key={c} className="inline-flex items-center gap-1">
            <span aria-hidden className="inline-block h-2.5 w-3 rounded-sm" style={{ background: COMPOUND_COLOR[c] }} />
            {c.toLowerCase()}
          </span>
        ))}
      </div>
      <ul className="m-0 flex list-none flex-col gap-0.5 p-0">
        {strategies.map(({ driver, stints }) => (
          <li key={driver} className="grid grid-cols-[3rem_minmax(0,1fr)] items-center gap-2" data-testid="strategy-row" data-driver={driver}>
            <span className="font-bold tracking-wide text-zinc-50">{driver}</span>
            <div className="relative h-3.5 rounded-sm bg-zinc-800/60" aria-label={`${driver} tyre stints`} role="list">
              {stints.length === 0 && <span className="absolute inset-0 pl-1 text-[10px] leading-3.5 text-zinc-500">no laps</span>}
              {stints.map((s) => {
                const label = stintLabel(s);
                return (
                  <span
                    key={s.startLap}
                    role="listitem"
                    data-testid="stint"
                    data-compound={compoundKey(s.compound)}
                    data-start={s.startLap}
                    data-end={s.endLap}
                    title={label}
                    aria-label={label}
                    className="absolute inset-y-0 rounded-sm border-r-2 border-zinc-950"
                    style={{ left: pct(s.startLap - 1), width: pct(s.endLap - s.startLap + 1), background: COMPOUND_COLOR[s.compound] }}
                  />
                );
              })}
            </div>
          </li>
        ))}
      </ul>
      <div className="grid grid-cols-[3rem_minmax(0,1fr)] gap-2 text-[10px] text-zinc-500" aria-hidden>
        <span>lap</span>
        <div className="relative h-3">
          {ticks(last).map((n) => (
            <span key={n} className="absolute -translate-x-1/2 tabular-nums" style={{ left: pct(n - 0.5) }}>
              {n}
            </span>
          ))}
        </div>
      </div>
    </div>
  );
}
