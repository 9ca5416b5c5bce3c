/** Pure metric helpers shared by console views. No React, no I/O. */
import type { Lap, Prediction, PredictionContext } from './types.ts';

export interface ActualPredicted {
  actual: number;
  predicted: number;
}

export interface IntervalRow {
  actual: number;
  lower: number | null;
  upper: number | null;
}

/** Mean absolute error; null when there are no pairs. */
export function mae(pairs: ActualPredicted[]): number | null {
  if (pairs.length === 0) return null;
  let sum = 0;
  for (const { actual, predicted } of pairs) sum += Math.abs(actual - predicted);
  return sum / pairs.length;
}

/**
 * Share of rows whose actual lies inside [lower, upper] (bounds inclusive).
 * Rows with a null bound are left out; null when no row is left.
 */
export function coverage(rows: IntervalRow[]): number | null {
  let n = 0;
  let inside = 0;
  for (const { actual, lower, upper } of rows) {
    if (lower === null || upper === null) continue;
    n += 1;
    if (actual >= lower && actual <= upper) inside += 1;
  }
  return n === 0 ? null : inside / n;
}

// ---------------------------------------------------------------------------
// Live calibration: predictions against the laps that have landed.

/** Nominal coverage of the served interval. */
export const COVERAGE_TARGET = 0.9;

export type CalibrationGroup = 'driver' | 'compound' | 'all';

export interface CalibrationRow {
  /** driver code, compound (`unknown` when the lap has none) or `all` */
  group: string;
  context: PredictionContext;
  /** predictions with a point value whose lap landed with a time (the MAE's denominator) */
  n: number;
  /** of those, degraded (baseline) predictions: in the MAE, never in the coverage */
  degraded: number;
  mae: number | null;
  /** predictions with both bounds and not degraded (the coverage's denominator) */
  nInterval: number;
  coverage: number | null;
}

const CONTEXT_ORDER: Record<PredictionContext, number> = { session: 0, request: 1 };

/**
 * MAE and interval coverage of every prediction whose lap has landed (same driver and lap
 * number, with a lap time), grouped by driver, by the landed lap's compound, or overall,
 * and split by the prediction's context. Each model version's prediction counts once.
 * Rows are sorted by group, then context (`session` first).
 */
export function calibration(
  laps: Lap[],
  predictions: Prediction[],
  by: CalibrationGroup,
): CalibrationRow[] {
  const landed = new Map<string, Lap>();
  for (const lap of laps) {
    if (lap.lap_time_s !== null && Number.isFinite(lap.lap_time_s)) landed.set(`${lap.driver}#${lap.lap_number}`, lap);
  }
  const buckets = new Map<string, { group: string; context: PredictionContext; points: ActualPredicted[]; intervals: IntervalRow[]; degraded: number }>();
  for (const p of predictions) {
    const lap = landed.get(`${p.driver}#${p.lap_number}`);
    if (!lap || p.lap_time === null || !Number.isFinite(p.lap_time)) continue;
    const group = by === 'driver' ? p.driver : by === 'compound' ? (lap.compound ?? 'unknown') : 'all';
    const id = `${group}\u0000${p.context}`;
    let b = buckets.get(id);
    if (!b) {
      b = { group, context: p.context, points: [], intervals: [], degraded: 0 };
      buckets.set(id, b);
    }
    const actual = lap.lap_time_s as number;
    b.points.push({ actual, predicted: p.lap_time });
    if (p.degraded) b.degraded += 1;
    else if (p.lower !== null && p.upper !== null) b.intervals.push({ actual, lower: p.lower, upper: p.upper });
  }
  return [...buckets.values()]
    .map((b) => ({
      group: b.group,
      context: b.context,
      n: b.points.length,
      degraded: b.degraded,
      mae: mae(b.points),
      nInterval: b.intervals.length,
      coverage: coverage(b.intervals),
    }))
    .sort((a, b) =>
      a.group === b.group ? CONTEXT_ORDER[a.context] - CONTEXT_ORDER[b.context] : a.group < b.group ? -1 : 1,
    );
}
