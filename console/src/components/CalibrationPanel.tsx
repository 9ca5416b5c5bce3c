import * as Tabs from '@radix-ui/react-tabs';
import { useMemo } from 'react';
import { formatPct, formatSeconds } from '../lib/display.ts';
import { calibration, COVERAGE_TARGET, type CalibrationGroup, type CalibrationRow } from '../lib/metrics.ts';
import type { Lap, Prediction } from '../lib/types.ts';
import { Empty } from './Panel.tsx';

const TABS: [CalibrationGroup, string][] = [
  ['all', 'Overall'],
  ['driver', 'By driver'],
  ['compound', 'By compound'],
];

/** Coverage this far below target (with enough laps) is worth a colour. */
function coverageClass(r: CalibrationRow): string {
  if (r.coverage === null) return 'text-zinc-500';
  if (r.nInterval < 5) return 'text-zinc-300';
  if (r.coverage < COVERAGE_TARGET - 0.1) return 'text-red-400';
  if (r.coverage < COVERAGE_TARGET - 0.03) return 'text-amber-300';
  return 'text-emerald-400';
}

function CalibrationTable({ rows, group }: { rows: CalibrationRow[]; group: CalibrationGroup }) {
  if (rows.length === 0) return <Empty>No prediction has a landed lap yet.</Empty>;
  return (
    <table className="w-full text-sm" data-testid={`calibration-${group}`}>
      <thead>
        <tr className="text-left text-[11px] uppercase tracking-wider text-zinc-500">
          <th scope="col" className="px-1 py-1 font-medium">{group === 'all' ? 'Scope' : group}</th>
          <th scope="col" className="px-1 py-1 font-medium">Context</th>
          <th scope="col" className="px-1 py-1 text-right font-medium" title="predictions whose lap landed (baseline ones in brackets)">
            n
          </th>
          <th scope="col" className="px-1 py-1 text-right font-medium">MAE</th>
          <th scope="col" className="px-1 py-1 text-right font-medium" title={`share of laps inside the interval; target ${formatPct(COVERAGE_TARGET)}`}>
            Coverage / {formatPct(COVERAGE_TARGET)}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.group}-${r.context}`} className="border-t border-zinc-800/80" data-testid="calibration-row">
            <td className="px-1 py-0.5 font-semibold text-zinc-100">{r.group}</td>
            <td className="px-1 py-0.5">
              <span
                className={`rounded px-1 text-[11px] ${r.context === 'session' ? 'bg-zinc-800 text-zinc-300' : 'bg-violet-900/50 text-violet-200'}`}
              >
                {r.context}
              </span>
            </td>
            <td className="px-1 py-0.5 text-right tabular-nums">
              {r.n}
              {r.degraded > 0 && <span className="text-amber-300"> ({r.degraded})</span>}
            </td>
            <td className="px-1 py-0.5 text-right tabular-nums">{formatSeconds(r.mae)}</td>
            <td className={`px-1 py-0.5 text-right tabular-nums ${coverageClass(r)}`}>
              {formatPct(r.coverage)}
              <span className="text-zinc-600"> of {r.nInterval}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CalibrationPanelBody({ laps, predictions }: { laps: Lap[]; predictions: Prediction[] }) {
  const tables = useMemo(
    () => Object.fromEntries(TABS.map(([g]) => [g, calibration(laps, predictions, g)])) as Record<CalibrationGroup, CalibrationRow[]>,
    [laps, predictions],
  );
  return (
    <Tabs.Root defaultValue="all">
      <Tabs.List aria-label="Calibration grouping" className="mb-2 flex gap-1 border-b border-zinc-800">
        {TABS.map(([value, label]) => (
          <Tabs.Trigger
            key={value}
            value={value}
            className="border-b-2 border-transparent px-2 py-1 text-xs text-zinc-400 focus-visible:outline-2 focus-visible:outline-red-500 data-[state=active]:border-red-600 data-[state=active]:text-zinc-50"
          >
            {label}
          </Tabs.Trigger>
        ))}
      </Tabs.List>
      {TABS.map(([value]) => (
        <Tabs.Content key={value} value={value} className="max-h-64 overflow-auto">
          <CalibrationTable rows={tables[value]} group={value} />
        </Tabs.Content>
      ))}
      <p className="mt-2 text-[11px] text-zinc-500">
        MAE over every prediction whose lap landed (baseline counts in brackets); coverage over model intervals only.
        Context <em>session</em>: features from the live session; <em>request</em>: from the request alone.
      </p>
    </Tabs.Root>
  );
}
