import { describe, expect, it } from 'vitest';
import { groupLabel, summarize } from './history.ts';
import type { ComparedLap } from './types.ts';

const lap = (a: number, b: number, clean = true): ComparedLap => ({
  driver: 'VER',
  lap_number: 1,
  observed: 80,
  clean,
  prediction_a: 80 + a,
  prediction_b: 80 + b,
  abs_error_a: Math.abs(a),
  abs_error_b: Math.abs(b),
});

describe('groupLabel', () => {
  it('names bands of five laps', () => {
    expect(groupLabel('tyre_age', '6')).toBe('6–10 laps');
    expect(groupLabel('lap', '1')).toBe('L1–5');
    expect(groupLabel('compound', 'SOFT')).toBe('SOFT');
    expect(groupLabel('circuit', 'monza')).toBe('monza');
  });
});

describe('summarize', () => {
  it('averages clean laps only and counts who was closer', () => {
    const s = summarize([lap(0.5, 1.0), lap(-2.0, 0.5), lap(1, 1), lap(9, 0, false)]);
    expect(s.laps).toBe(3);
    expect(s.closerA).toBe(1);
    expect(s.closerB).toBe(1);
    expect(s.maeA).toBeCloseTo((0.5 + 2 + 1) / 3);
    expect(s.maeB).toBeCloseTo((1 + 0.5 + 1) / 3);
  });
  it('has no MAE without clean laps', () => {
    expect(summarize([lap(1, 2, false)])).toEqual({ laps: 0, closerA: 0, closerB: 0, maeA: null, maeB: null });
  });
});
