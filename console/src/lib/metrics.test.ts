import { describe, expect, it } from 'vitest';
import { calibration, coverage, mae } from './metrics.ts';
import { lap, pred } from './testData.ts';

describe('mae', () => {
  it('returns null for no pairs', () => {
    expect(mae([])).toBeNull();
  });

  it('is zero for perfect predictions', () => {
    expect(mae([{ actual: 91.2, predicted: 91.2 }])).toBe(0);
  });

  it('averages absolute errors in both directions', () => {
    const pairs = [
      { actual: 90, predicted: 91 }, // 1
      { actual: 92, predicted: 89 }, // 3
      { actual: 95, predicted: 95.5 }, // 0.5
    ];
    expect(mae(pairs)).toBeCloseTo(1.5, 10);
  });
});

describe('coverage', () => {
  it('returns null for no rows', () => {
    expect(coverage([])).toBeNull();
  });

  it('returns null when every row has a null bound', () => {
    expect(
      coverage([
        { actual: 90, lower: null, upper: 91 },
        { actual: 90, lower: 89, upper: null },
        { actual: 90, lower: null, upper: null },
      ]),
    ).toBeNull();
  });

  it('counts bounds as inclusive', () => {
    expect(
      coverage([
        { actual: 89, lower: 89, upper: 91 },
        { actual: 91, lower: 89, upper: 91 },
      ]),
    ).toBe(1);
  });

  it('leaves out rows with a null bound from the denominator', () => {
    const rows = [
      { actual: 90, lower: 89, upper: 91 }, // inside
      { actual: 95, lower: 89, upper: 91 }, // above
      { actual: 80, lower: 89, upper: 91 }, // below
      { actual: 90, lower: 85, upper: 95 }, // inside
      { actual: 90, lower: null, upper: 91 }, // skipped
    ];
    expect(coverage(rows)).toBe(0.5);
  });

  it('is zero when nothing falls inside', () => {
    expect(coverage([{ actual: 100, lower: 89, upper: 91 }])).toBe(0);
  });
});

describe('calibration', () => {
  const laps = [
    lap('VER', 1, { lap_time_s: 90, compound: 'SOFT' }),
    lap('VER', 2, { lap_time_s: 92, compound: 'SOFT' }),
    lap('NOR', 1, { lap_time_s: 91, compound: 'HARD' }),
    lap('NOR', 2, { lap_time_s: null, compound: 'HARD' }), // no time: not landed
    lap('LEC', 1, { lap_time_s: 95, compound: null }),
  ];
  const predictions = [
    pred('VER', 1, { lap_time: 91, lower: 89, upper: 91 }), // err 1, inside
    pred('VER', 2, { lap_time: 91, lower: 90, upper: 91.5 }), // err 1, outside
    pred('VER', 2, { lap_time: 92.5, lower: 91, upper: 93, context: 'request', model_version: '4' }), // err .5 inside
    pred('VER', 3, { lap_time: 90 }), // lap not landed yet
    pred('NOR', 1, { lap_time: 93, degraded: true, model_version: null, lower: null, upper: null }), // err 2, baseline
    pred('NOR', 1, { lap_time: 91.5, lower: 90, upper: 92 }), // err .5 inside
    pred('NOR', 2, { lap_time: 91 }), // lap has no time
    pred('LEC', 1, { lap_time: null, degraded: true, model_version: null, lower: null, upper: null }), // no point
    pred('LEC', 1, { lap_time: 94, lower: 93, upper: 94.5, model_version: '4' }), // err 1, outside
  ];

  it('groups by driver and context, only landed laps', () => {
    const rows = calibration(laps, predictions, 'driver');
    expect(rows.map((r) => `${r.group}/${r.context}`)).toEqual([
      'LEC/session',
      'NOR/session',
      'VER/session',
      'VER/request',
    ]);
    const ver = rows.find((r) => r.group === 'VER' && r.context === 'session')!;
    expect(ver.n).toBe(2);
    expect(ver.mae).toBeCloseTo(1, 9);
    expect(ver.coverage).toBe(0.5);
    const verReq = rows.find((r) => r.group === 'VER' && r.context === 'request')!;
    expect(verReq).toMatchObject({ n: 1, nInterval: 1, coverage: 1 });
    expect(verReq.mae).toBeCloseTo(0.5, 9);
  });

  it('counts degraded predictions in the MAE but never in the coverage', () => {
    const nor = calibration(laps, predictions, 'driver').find((r) => r.group === 'NOR')!;
    expect(nor.n).toBe(2);
    expect(nor.degraded).toBe(1);
    expect(nor.mae).toBeCloseTo(1.25, 9); // (2 + 0.5) / 2
    expect(nor.nInterval).toBe(1);
    expect(nor.coverage).toBe(1);
    const degradedWithBounds = calibration(
      [lap('VER', 1, { lap_time_s: 90 })],
      [pred('VER', 1, { degraded: true, lower: 80, upper: 100 })],
      'all',
    );
    expect(degradedWithBounds[0]).toMatchObject({ n: 1, nInterval: 0, coverage: null });
  });

  it('groups by the landed lap compound, unknown when missing', () => {
    const rows = calibration(laps, predictions, 'compound');
    expect(rows.map((r) => `${r.group}/${r.context}`)).toEqual([
      'HARD/session',
      'SOFT/session',
      'SOFT/request',
      'unknown/session',
    ]);
    expect(rows.find((r) => r.group === 'unknown')).toMatchObject({ n: 1, coverage: 0 });
  });

  it('overall split by context', () => {
    const rows = calibration(laps, predictions, 'all');
    expect(rows.map((r) => r.context)).toEqual(['session', 'request']);
    const s = rows[0]!;
    expect(s.n).toBe(5); // VER1, VER2, NOR1 x2, LEC1
    expect(s.mae).toBeCloseTo((1 + 1 + 2 + 0.5 + 1) / 5, 9);
    expect(s.nInterval).toBe(4);
    expect(s.coverage).toBe(0.5);
  });

  it('is empty when nothing has landed', () => {
    expect(calibration([], predictions, 'driver')).toEqual([]);
    expect(calibration(laps, [], 'compound')).toEqual([]);
  });
});
