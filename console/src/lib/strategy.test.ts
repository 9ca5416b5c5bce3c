import { describe, expect, it } from 'vitest';
import { compoundKey, lastLapOf, stintLabel, stintsOf, strategy } from './strategy.ts';
import { lap } from './testData.ts';
import type { Lap } from './types.ts';

/** A race for one driver: laps `from`..`to` on `compound` in stint `stint`, pitting in on `to` if `pit`. */
function run(driver: string, from: number, to: number, compound: string | null, stint: number | null, pit = false): Lap[] {
  const out: Lap[] = [];
  for (let n = from; n <= to; n++) {
    out.push(
      lap(driver, n, {
        compound,
        stint,
        tyre_life: n - from + 1,
        pit_in: pit && n === to,
        pit_out: n === from && from > 1,
      }),
    );
  }
  return out;
}

describe('compoundKey', () => {
  it.each([
    ['SOFT', 'SOFT'],
    ['medium', 'MEDIUM'],
    ['HARD', 'HARD'],
    ['INTERMEDIATE', 'INTERMEDIATE'],
    ['INTER', 'INTERMEDIATE'],
    ['WET', 'WET'],
    ['TEST_UNKNOWN', 'UNKNOWN'],
    ['', 'UNKNOWN'],
    [null, 'UNKNOWN'],
  ])('%s -> %s', (c, k) => expect(compoundKey(c)).toBe(k));
});

describe('stintsOf', () => {
  it('splits a two-stop race into three stints with ranges and tyre ages', () => {
    const laps = [...run('VER', 1, 14, 'SOFT', 1, true), ...run('VER', 15, 38, 'HARD', 2, true), ...run('VER', 39, 57, 'MEDIUM', 3)];
    const stints = stintsOf(laps);
    expect(stints.map((s) => [s.number, s.compound, s.startLap, s.endLap, s.laps, s.tyreAgeEnd, s.endsInPit])).toEqual([
      [1, 'SOFT', 1, 14, 14, 14, true],
      [2, 'HARD', 15, 38, 24, 24, true],
      [3, 'MEDIUM', 39, 57, 19, 19, false],
    ]);
    expect(stintLabel(stints[0]!)).toBe('SOFT, laps 1–14, 14 laps old at the end, pitted');
  });

  it('does not depend on the order the laps arrive in', () => {
    const laps = [...run('VER', 1, 10, 'SOFT', 1, true), ...run('VER', 11, 20, 'HARD', 2)];
    const shuffled = [...laps].reverse();
    [shuffled[3], shuffled[15]] = [shuffled[15]!, shuffled[3]!];
    expect(stintsOf(shuffled)).toEqual(stintsOf(laps));
    expect(stintsOf(shuffled).map((s) => [s.startLap, s.endLap])).toEqual([
      [1, 10],
      [11, 20],
    ]);
  });

  it('lets a lap with a null stint continue the previous stint', () => {
    const laps = run('NOR', 1, 6, 'MEDIUM', 1);
    laps[2]!.stint = null;
    laps[5]!.stint = null;
    expect(stintsOf(laps).map((s) => [s.number, s.startLap, s.endLap])).toEqual([[1, 1, 6]]);
  });

  it('gives a stint with an unknown number the first number it meets', () => {
    const laps = run('NOR', 1, 4, 'MEDIUM', 1);
    laps[0]!.stint = null;
    laps[1]!.stint = null;
    expect(stintsOf(laps).map((s) => [s.number, s.startLap, s.endLap])).toEqual([[1, 1, 4]]);
  });

  it('ends a stint on a pit-in lap even when no stint numbers are known', () => {
    const laps = [...run('NOR', 1, 3, 'MEDIUM', null, true), ...run('NOR', 4, 6, 'HARD', null)];
    laps[3]!.pit_out = false; // only the in-lap flag is there
    expect(stintsOf(laps).map((s) => [s.number, s.compound, s.startLap, s.endLap])).toEqual([
      [null, 'MEDIUM', 1, 3],
      [null, 'HARD', 4, 6],
    ]);
  });

  it('starts a stint when the stint number changes without a pit flag', () => {
    const laps = [...run('LEC', 1, 3, 'SOFT', 1), ...run('LEC', 4, 5, 'SOFT', 2)];
    for (const l of laps) l.pit_out = false;
    expect(stintsOf(laps).map((s) => [s.number, s.startLap, s.endLap])).toEqual([
      [1, 1, 3],
      [2, 4, 5],
    ]);
  });

  it('takes the first known compound and marks an all-null stint unknown', () => {
    const laps = [...run('LEC', 1, 3, null, 1, true), ...run('LEC', 4, 6, 'HARD', 2)];
    laps[3]!.compound = null;
    const stints = stintsOf(laps);
    expect(stints.map((s) => s.compound)).toEqual(['UNKNOWN', 'HARD']);
    expect(stintLabel(stints[0]!)).toMatch(/^unknown compound, laps 1–3/);
  });

  it('counts tyre age on from the last known tyre life, and skips missing laps', () => {
    const laps: Lap[] = run('ALO', 1, 8, 'HARD', 1).map((l) => ({ ...l, tyre_life: l.lap_number + 3 }));
    laps[7]!.tyre_life = null;
    laps[6]!.tyre_life = null;
    const withGap = laps.filter((l) => l.lap_number !== 4);
    const [s] = stintsOf(withGap);
    expect([s!.startLap, s!.endLap, s!.laps, s!.tyreAgeEnd]).toEqual([1, 8, 7, 11]);
    expect(stintsOf(withGap.map((l) => ({ ...l, tyre_life: null })))[0]!.tyreAgeEnd).toBeNull();
  });

  it('has no stints for a driver without laps', () => {
    expect(stintsOf([])).toEqual([]);
  });
});

describe('strategy', () => {
  it('keeps the given order, with an empty row for a driver without laps', () => {
    const laps = [...run('NOR', 1, 3, 'SOFT', 1, true), ...run('NOR', 4, 5, 'HARD', 2), ...run('VER', 1, 5, 'MEDIUM', 1)];
    const s = strategy(laps, ['VER', 'NOR', 'HAM']);
    expect(s.map((d) => [d.driver, d.stints.map((x) => x.compound).join('/')])).toEqual([
      ['VER', 'MEDIUM'],
      ['NOR', 'SOFT/HARD'],
      ['HAM', ''],
    ]);
    expect(lastLapOf(s)).toBe(5);
    expect(lastLapOf([])).toBe(1);
  });
});
