import { describe, expect, it } from 'vitest';
import type { Explanation } from './types.ts';
import { formatDelta, formatFeatureValue, waterfall } from './waterfall.ts';

function explanation(over: Partial<Explanation> = {}, lapTime: number | null = 95.6): Explanation {
  return {
    lap_number: 7,
    prediction: { lap_time: lapTime, lower: 94.7, upper: 96.5, model_version: '12', degraded: false, context: 'session' },
    reference: 95.2,
    bias: 0.1,
    contributions: [
      { feature: 'fuel_load', value: 42.5, contribution: -0.2 },
      { feature: 'tyre_life', value: 9, contribution: 0.4 },
      { feature: 'compound', value: 'HARD', contribution: 0.1 },
    ],
    ...over,
  };
}

const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 9);

describe('waterfall', () => {
  it('runs reference → bias → contributions by size → prediction, each step from the last total', () => {
    const w = waterfall(explanation())!;
    expect(w.steps.map((s) => s.label)).toEqual(['reference', 'bias', 'tyre_life', 'fuel_load', 'compound', 'prediction']);
    expect(w.steps.map((s) => s.kind)).toEqual(['reference', 'bias', 'contribution', 'contribution', 'contribution', 'prediction']);
    const [ref, bias, tyre, fuel, compound, pred] = w.steps;
    expect([ref!.start, ref!.end]).toEqual([0, 95.2]);
    close(bias!.start, 95.2);
    close(bias!.end, 95.3);
    close(tyre!.start, 95.3);
    close(tyre!.end, 95.7);
    close(fuel!.end, 95.5);
    expect(fuel!.delta).toBe(-0.2);
    expect(fuel!.value).toBe(42.5);
    close(compound!.end, 95.6);
    expect(compound!.value).toBe('HARD');
    expect([pred!.start, pred!.end]).toEqual([0, 95.6]);
    expect(w.residual).toBe(0);
    expect(w.prediction).toBe(95.6);
    close(w.range[0], 95.2);
    close(w.range[1], 95.7);
  });

  it('adds a rest step and reports the residual when the top contributions do not add up', () => {
    const w = waterfall(explanation({}, 95.45))!;
    const rest = w.steps.find((s) => s.kind === 'rest')!;
    close(w.residual, 0.15); // shown sum 95.6 − lap_time 95.45
    close(rest.delta, -0.15);
    close(rest.start, 95.6);
    close(rest.end, 95.45);
    expect(w.steps.at(-2)).toBe(rest);
    expect(w.steps.at(-1)!.kind).toBe('prediction');
  });

  it('treats sub-millisecond differences as rounding', () => {
    const w = waterfall(explanation({}, 95.6003))!;
    expect(w.residual).toBe(0);
    expect(w.steps.some((s) => s.kind === 'rest')).toBe(false);
  });

  it('works with no contributions (all in the rest)', () => {
    const w = waterfall(explanation({ contributions: [] }))!;
    expect(w.steps.map((s) => s.kind)).toEqual(['reference', 'bias', 'rest', 'prediction']);
    close(w.residual, -0.3);
  });

  it('drops non-finite contributions and keeps a null value', () => {
    const w = waterfall(
      explanation({
        contributions: [
          { feature: 'gap_ahead', value: null, contribution: 0.3 },
          { feature: 'broken', value: 1, contribution: Number.NaN },
        ],
      }),
    )!;
    expect(w.steps.filter((s) => s.kind === 'contribution').map((s) => [s.label, s.value])).toEqual([['gap_ahead', null]]);
  });

  it('breaks ties in size by feature name', () => {
    const w = waterfall(
      explanation({
        contributions: [
          { feature: 'b', value: 1, contribution: 0.1 },
          { feature: 'a', value: 1, contribution: -0.1 },
        ],
      }),
    )!;
    expect(w.steps.filter((s) => s.kind === 'contribution').map((s) => s.label)).toEqual(['a', 'b']);
  });

  it('has no waterfall without reference, bias or a predicted time', () => {
    expect(waterfall(explanation({ reference: null }))).toBeNull();
    expect(waterfall(explanation({ bias: null }))).toBeNull();
    expect(waterfall(explanation({}, null))).toBeNull();
    expect(waterfall(null)).toBeNull();
  });
});

describe('formatting', () => {
  it('formats deltas with a sign', () => {
    expect(formatDelta(0.1234)).toBe('+0.123 s');
    expect(formatDelta(-0.045)).toBe('−0.045 s');
    expect(formatDelta(0.0001)).toBe('±0.000 s');
  });

  it('formats feature values', () => {
    expect(formatFeatureValue(42.56789)).toBe('42.568');
    expect(formatFeatureValue(9)).toBe('9');
    expect(formatFeatureValue('HARD')).toBe('HARD');
    expect(formatFeatureValue(null)).toBe('—');
  });
});
