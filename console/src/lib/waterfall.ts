/**
 * "Why this lap": the explanation of a predicted lap time as waterfall steps. Pure.
 *
 * reference + bias + contributions (largest |seconds| first) = prediction. The back end sends
 * only the top contributions, so when they do not add up a `rest` step carries the difference
 * (`residual` = sum of the shown steps − lap_time) and the last step lands on the prediction.
 */
import type { Explanation } from './types.ts';

export type StepKind = 'reference' | 'bias' | 'contribution' | 'rest' | 'prediction';

export interface WaterfallStep {
  kind: StepKind;
  label: string;
  /** the feature's value (contributions only) */
  value: number | string | null;
  /** seconds this step adds; for reference and prediction, their whole value */
  delta: number;
  /** the running total before and after the step (reference and prediction: 0 → value) */
  start: number;
  end: number;
}

export interface Waterfall {
  steps: WaterfallStep[];
  prediction: number;
  /** sum of reference, bias and the shown contributions minus the prediction; 0 when they add up */
  residual: number;
  /** [low, high] of all running totals, to scale a chart */
  range: [number, number];
}

/** Differences below half a millisecond are rounding, not missing features. */
export const RESIDUAL_TOLERANCE = 0.0005;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Waterfall steps for an explanation; null when it cannot be explained (no reference, bias or predicted time). */
export function waterfall(e: Explanation | null | undefined): Waterfall | null {
  if (!e || !finite(e.reference) || !finite(e.bias) || !finite(e.prediction?.lap_time)) return null;
  const prediction = e.prediction.lap_time;
  const contributions = (Array.isArray(e.contributions) ? e.contributions : [])
    .filter((c) => c && finite(c.contribution))
    .slice()
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));

  const steps: WaterfallStep[] = [
    { kind: 'reference', label: 'reference', value: null, delta: e.reference, start: 0, end: e.reference },
  ];
  let total = e.reference;
  const add = (kind: StepKind, label: string, value: WaterfallStep['value'], delta: number) => {
    steps.push({ kind, label, value, delta, start: total, end: total + delta });
    total += delta;
  };
  add('bias', 'bias', null, e.bias);
  for (const c of contributions) add('contribution', c.feature, c.value ?? null, c.contribution);
  const residual = total - prediction;
  if (Math.abs(residual) >= RESIDUAL_TOLERANCE) add('rest', 'other features', null, -residual);
  steps.push({ kind: 'prediction', label: 'prediction', value: null, delta: prediction, start: 0, end: prediction });

  const points = steps.flatMap((s) => (s.kind === 'reference' || s.kind === 'prediction' ? [s.end] : [s.start, s.end]));
  return {
    steps,
    prediction,
    residual: Math.abs(residual) >= RESIDUAL_TOLERANCE ? residual : 0,
    range: [Math.min(...points), Math.max(...points)],
  };
}

/** "+0.123 s" / "−0.045 s" (true minus sign) / "±0.000 s". */
export function formatDelta(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  if (ms === 0) return '±0.000 s';
  return `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(3)} s`;
}

/** A feature value for a label: numbers to at most 3 decimals, null as "—". */
export function formatFeatureValue(v: number | string | null): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isFinite(v) ? String(Number(v.toFixed(3))) : '—';
  return v;
}
