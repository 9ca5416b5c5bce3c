/**
 * Tyre strategy: each driver's stints from the landed laps. Pure.
 *
 * A stint is a run of a driver's consecutive laps (by lap number) on one set of tyres:
 * a new stint starts on the driver's first lap, after a pit-in lap (the in-lap is the last lap
 * of the stint it ends), on a pit-out lap, and when the lap's `stint` number differs from the
 * current stint's. A lap with a null `stint` continues the current stint (a stint whose number
 * is still unknown takes the first number it meets).
 */
import type { Lap } from './types.ts';

export type CompoundKey = 'SOFT' | 'MEDIUM' | 'HARD' | 'INTERMEDIATE' | 'WET' | 'UNKNOWN';

/** The compound as one of the five known names; anything else (null, "TEST_UNKNOWN", …) is UNKNOWN. */
export function compoundKey(compound: string | null | undefined): CompoundKey {
  const c = (compound ?? '').trim().toUpperCase();
  if (c === 'SOFT' || c === 'MEDIUM' || c === 'HARD' || c === 'WET') return c;
  if (c.startsWith('INTER')) return 'INTERMEDIATE';
  return 'UNKNOWN';
}

export interface Stint {
  /** the feed's stint number (null when no lap of the stint had one) */
  number: number | null;
  /** the first known compound of the stint's laps */
  compound: CompoundKey;
  startLap: number;
  endLap: number;
  /** laps of the stint that landed (fewer than endLap - startLap + 1 when some are missing) */
  laps: number;
  /** tyre age at the end of the stint: the last known tyre_life, plus the laps after it */
  tyreAgeEnd: number | null;
  /** the stint ended with a pit-in lap */
  endsInPit: boolean;
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** One driver's stints, in lap order; `laps` may come in any order (one lap per lap number). */
export function stintsOf(laps: readonly Lap[]): Stint[] {
  const sorted = laps.filter((l) => finite(l.lap_number)).sort((a, b) => a.lap_number - b.lap_number);
  const out: Stint[] = [];
  let cur: (Stint & { ageLap: number | null; age: number | null }) | null = null;
  const close = () => {
    if (!cur) return;
    const { ageLap, age, ...stint } = cur;
    stint.tyreAgeEnd = age !== null && ageLap !== null ? age + (stint.endLap - ageLap) : null;
    out.push(stint);
  };
  let prevPitIn = false;
  for (const lap of sorted) {
    const number = finite(lap.stint) ? lap.stint : null;
    const split =
      cur === null || prevPitIn || lap.pit_out || (number !== null && cur.number !== null && number !== cur.number);
    if (split) {
      close();
      cur = {
        number,
        compound: compoundKey(lap.compound),
        startLap: lap.lap_number,
        endLap: lap.lap_number,
        laps: 0,
        tyreAgeEnd: null,
        endsInPit: false,
        ageLap: null,
        age: null,
      };
    }
    const s = cur!;
    if (s.number === null && number !== null) s.number = number;
    if (s.compound === 'UNKNOWN') s.compound = compoundKey(lap.compound);
    s.endLap = lap.lap_number;
    s.laps += 1;
    s.endsInPit = lap.pit_in;
    if (finite(lap.tyre_life)) {
      s.ageLap = lap.lap_number;
      s.age = lap.tyre_life;
    }
    prevPitIn = lap.pit_in;
  }
  close();
  return out;
}

export interface DriverStrategy {
  driver: string;
  stints: Stint[];
}

/** Stints for each driver of `order` (e.g. the tower's), in that order; a driver with no laps has none. */
export function strategy(laps: readonly Lap[], order: readonly string[]): DriverStrategy[] {
  const byDriver = new Map<string, Lap[]>();
  for (const l of laps) {
    const list = byDriver.get(l.driver);
    if (list) list.push(l);
    else byDriver.set(l.driver, [l]);
  }
  return order.map((driver) => ({ driver, stints: stintsOf(byDriver.get(driver) ?? []) }));
}

/** The last lap number on the strip (at least 1, so an empty strip still has an axis). */
export function lastLapOf(strategies: readonly DriverStrategy[]): number {
  let last = 1;
  for (const s of strategies) for (const st of s.stints) last = Math.max(last, st.endLap);
  return last;
}

/** "SOFT, laps 1–14, 14 laps old at the end" */
export function stintLabel(s: Stint): string {
  const range = s.startLap === s.endLap ? `lap ${s.startLap}` : `laps ${s.startLap}–${s.endLap}`;
  const age = s.tyreAgeEnd === null ? 'tyre age unknown' : `${s.tyreAgeEnd} lap${s.tyreAgeEnd === 1 ? '' : 's'} old at the end`;
  return `${s.compound === 'UNKNOWN' ? 'unknown compound' : s.compound}, ${range}, ${age}${s.endsInPit ? ', pitted' : ''}`;
}
