import { compoundShort, formatGap, formatLapTime, predictionLabel } from '../lib/display.ts';
import type { TowerRow } from '../lib/live.ts';

const COMPOUND_CLASS: Record<string, string> = {
  S: 'border-red-500 text-red-400',
  M: 'border-yellow-400 text-yellow-300',
  H: 'border-zinc-200 text-zinc-100',
  I: 'border-green-500 text-green-400',
  W: 'border-sky-500 text-sky-400',
};

function Tyre({ compound, age }: { compound: string | null; age: number | null }) {
  const c = compoundShort(compound);
  return (
    <span className="inline-flex items-center gap-1" title={compound ?? 'unknown compound'}>
      <span
        className={`inline-flex h-4 w-4 items-center justify-center rounded-full border-2 text-[9px] font-bold ${COMPOUND_CLASS[c] ?? 'border-zinc-600 text-zinc-400'}`}
      >
        {c}
      </span>
      <span className="tabular-nums text-zinc-400">{age ?? '–'}</span>
    </span>
  );
}

function InsideMark({ value }: { value: boolean | null }) {
  if (value === null) return <span className="text-zinc-600" aria-label="no interval for last lap">·</span>;
  return value ? (
    <span className="font-bold text-emerald-400" aria-label="last lap inside the interval" title="inside the 90% interval">
      ✓
    </span>
  ) : (
    <span className="font-bold text-red-400" aria-label="last lap outside the interval" title="outside the 90% interval">
      ✗
    </span>
  );
}

interface Props {
  rows: TowerRow[];
  raceLike: boolean;
  selected: ReadonlySet<string>;
  onToggle: (driver: string) => void;
}

/** Live timing tower: one row per driver; the checkbox adds the driver's pace chart. */
export function TimingTower({ rows, raceLike, selected, onToggle }: Props) {
  return (
    <table data-testid="tower" className="w-full border-collapse text-sm">
      <caption className="sr-only">Live timing tower</caption>
      <thead>
        <tr className="text-left text-[11px] uppercase tracking-wider text-zinc-500">
          <th scope="col" className="px-1 py-0.5 font-medium">
            <span className="sr-only">Chart</span>
          </th>
          <th scope="col" className="px-1 py-0.5 text-right font-medium">P</th>
          <th scope="col" className="px-1 py-0.5 font-medium">Driver</th>
          <th scope="col" className="px-1 py-0.5 text-right font-medium">Laps</th>
          <th scope="col" className="px-1 py-0.5 text-right font-medium">{raceLike ? 'Gap' : 'Best Δ'}</th>
          <th scope="col" className="px-1 py-0.5 text-right font-medium">Last</th>
          <th scope="col" className="px-1 py-0.5 text-center font-medium" title="last lap inside its predicted 90% interval">
            In
          </th>
          <th scope="col" className="px-1 py-0.5 font-medium">Tyre</th>
          <th scope="col" className="px-1 py-0.5 text-right font-medium">Next (pred.)</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => {
          const checked = selected.has(r.driver);
          const inPit = r.lastLap.pit_in;
          return (
            <tr
              key={r.driver}
              data-testid="tower-row"
              data-driver={r.driver}
              data-selected={checked}
              onClick={() => onToggle(r.driver)}
              className={`cursor-pointer border-t border-zinc-800/80 ${checked ? 'bg-red-950/30' : 'hover:bg-zinc-800/40'}`}
            >
              <td className="px-1 py-0.5">
                <input
                  type="checkbox"
                  checked={checked}
                  onChange={() => onToggle(r.driver)}
                  onClick={(e) => e.stopPropagation()}
                  aria-label={`Show pace chart for ${r.driver}`}
                  className="h-3.5 w-3.5 accent-red-600"
                />
              </td>
              <td className="px-1 py-0.5 text-right tabular-nums text-zinc-400">{r.position ?? '–'}</td>
              <td className="px-1 py-0.5">
                <span className="font-bold tracking-wide text-zinc-50">{r.driver}</span>
                {r.team && <span className="ml-2 hidden text-xs text-zinc-500 xl:inline">{r.team}</span>}
                {inPit && <span className="ml-2 rounded bg-sky-900/60 px-1 text-[10px] text-sky-200">PIT</span>}
              </td>
              <td className="px-1 py-0.5 text-right tabular-nums">{r.laps}</td>
              <td className="px-1 py-0.5 text-right tabular-nums text-zinc-300" data-testid="gap">
                {raceLike ? formatGap(r.gap, i === 0) : r.gap === 0 ? 'fastest' : formatGap(r.gap)}
              </td>
              <td className="px-1 py-0.5 text-right tabular-nums">{formatLapTime(r.lastLapTime)}</td>
              <td className="px-1 py-0.5 text-center" data-testid="last-inside" data-inside={String(r.lastInside)}>
                <InsideMark value={r.lastInside} />
              </td>
              <td className="px-1 py-0.5">
                <Tyre compound={r.compound} age={r.tyreAge} />
              </td>
              <td className="px-1 py-0.5 text-right" title={predictionLabel(r.next)}>
                {r.next ? (
                  <span className="tabular-nums">
                    {formatLapTime(r.next.lap_time)}
                    {r.next.degraded && (
                      <span className="ml-1 rounded bg-amber-500/15 px-1 text-[10px] text-amber-300">
                        {predictionLabel(r.next)}
                      </span>
                    )}
                  </span>
                ) : (
                  <span className="text-zinc-600">—</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
