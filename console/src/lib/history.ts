/** The history page's small sums and labels. Pure. */
import type { Breakdown, ComparedLap } from './types.ts';

export const BREAKDOWNS: readonly { by: Breakdown; title: string }[] = [
  { by: 'circuit', title: 'By circuit' },
  { by: 'compound', title: 'By compound' },
  { by: 'tyre_age', title: 'By tyre age' },
  { by: 'lap', title: 'By lap' },
];

/** The groups' labels: bands of five for tyre age and lap (the back end's keys are the band's first value). */
export function groupLabel(by: Breakdown, group: string): string {
  const first = Number(group);
  if ((by === 'tyre_age' || by === 'lap') && Number.isFinite(first)) {
    const band = `${first}–${first + 4}`;
    return by === 'lap' ? `L${band}` : `${band} laps`;
  }
  return group;
}

export interface ComparisonSummary {
  laps: number;
  /** clean laps on which each version was closer (ties count for neither) */
  closerA: number;
  closerB: number;
  maeA: number | null;
  maeB: number | null;
}

/** Two versions on the same clean laps: MAE of each and who was closer how often. */
export function summarize(laps: readonly ComparedLap[]): ComparisonSummary {
  const clean = laps.filter((l) => l.clean);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return {
    laps: clean.length,
    closerA: clean.filter((l) => l.abs_error_a < l.abs_error_b).length,
    closerB: clean.filter((l) => l.abs_error_b < l.abs_error_a).length,
    maeA: mean(clean.map((l) => l.abs_error_a)),
    maeB: mean(clean.map((l) => l.abs_error_b)),
  };
}
