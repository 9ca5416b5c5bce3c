import { describe, expect, it } from 'vitest';
import {
  allLaps,
  allPredictions,
  applyEvent,
  initialLiveState,
  modelVersionsSeen,
  paceDomain,
  paceSeries,
  predictionFor,
  tower,
  versionChanges,
  type LiveState,
} from './live.ts';
import { lap, lapEvent, pred, predEvent, snapshot } from './testData.ts';
import type { LiveEvent, SessionType } from './types.ts';

const run = (events: LiveEvent[], from: LiveState = initialLiveState): LiveState =>
  events.reduce((s, e) => applyEvent(s, e), from);

describe('applyEvent', () => {
  it('loads a snapshot', () => {
    const s = applyEvent(initialLiveState, snapshot([lap('VER', 1), lap('VER', 2)], [pred('VER', 3)], 'race', 7), 1234);
    expect(s.session?.session_type).toBe('race');
    expect(allLaps(s)).toHaveLength(2);
    expect(allPredictions(s)).toHaveLength(1);
    expect(s.lastEventId).toBe(7);
    expect(s.updatedAt).toBe(1234);
    expect(s.serverNow).toBe(1_700_000_000);
  });

  it('does not mutate the previous state', () => {
    const s1 = applyEvent(initialLiveState, snapshot([lap('VER', 1)]));
    const frozen = JSON.stringify(s1);
    applyEvent(s1, lapEvent(lap('VER', 2)));
    applyEvent(s1, predEvent(pred('VER', 3)));
    expect(JSON.stringify(s1)).toBe(frozen);
    expect(allLaps(initialLiveState)).toHaveLength(0);
  });

  it('adds laps after the snapshot', () => {
    const s = run([snapshot([lap('VER', 1)]), lapEvent(lap('VER', 2), 2), lapEvent(lap('NOR', 1), 3)]);
    expect(allLaps(s).map((l) => `${l.driver}${l.lap_number}`).sort()).toEqual(['NOR1', 'VER1', 'VER2']);
    expect(s.lastEventId).toBe(3);
  });

  it('replaces a lap with the same (driver, lap_number) instead of duplicating it', () => {
    const s = run([
      snapshot([lap('VER', 1, { lap_time_s: 95 })]),
      lapEvent(lap('VER', 1, { lap_time_s: 92.5 }), 2),
      lapEvent(lap('VER', 1, { lap_time_s: 92.5 }), 2), // replayed after a reconnect
    ]);
    expect(allLaps(s)).toHaveLength(1);
    expect(allLaps(s)[0]!.lap_time_s).toBe(92.5);
  });

  it('keys predictions by (driver, lap_number, model_version)', () => {
    const s = run([
      snapshot([]),
      predEvent(pred('VER', 2, { model_version: '3', lap_time: 91 })),
      predEvent(pred('VER', 2, { model_version: '3', lap_time: 91.5 })), // same key: replaces
      predEvent(pred('VER', 2, { model_version: '4', lap_time: 90 })), // other version: kept
      predEvent(pred('VER', 2, { model_version: null, degraded: true, lower: null, upper: null })),
      predEvent(pred('VER', 2, { model_version: null, degraded: true, lower: null, upper: null })),
      predEvent(pred('NOR', 2, { model_version: '3' })),
    ]);
    const ver2 = allPredictions(s).filter((p) => p.driver === 'VER' && p.lap_number === 2);
    expect(ver2.map((p) => p.model_version).sort()).toEqual(['3', '4', null]);
    expect(ver2.find((p) => p.model_version === '3')!.lap_time).toBe(91.5);
    expect(allPredictions(s)).toHaveLength(4);
  });

  it('does not confuse a version named like the baseline key with a null version', () => {
    const s = run([
      predEvent(pred('VER', 2, { model_version: 'null' })),
      predEvent(pred('VER', 2, { model_version: null, degraded: true })),
    ]);
    expect(allPredictions(s)).toHaveLength(2);
  });

  it('is idempotent: replaying a tail of events gives the same data', () => {
    const events = [
      snapshot([lap('VER', 1)], [pred('VER', 2)], 'race', 1),
      lapEvent(lap('VER', 2, { lap_time_s: 91 }), 2),
      predEvent(pred('VER', 3), 3),
      lapEvent(lap('VER', 3), 4),
    ];
    const once = run(events);
    const replayed = run(events.slice(1), once);
    expect(allLaps(replayed)).toEqual(allLaps(once));
    expect(allPredictions(replayed)).toEqual(allPredictions(once));
  });

  it('lets a new snapshot replace everything (fresh connection)', () => {
    const s = run([
      snapshot([lap('VER', 1), lap('HAM', 1)], [pred('HAM', 2)], 'race', 10),
      snapshot([lap('VER', 1), lap('VER', 2)], [], 'race', 1),
    ]);
    expect(allLaps(s).map((l) => l.driver)).toEqual(['VER', 'VER']);
    expect(allPredictions(s)).toHaveLength(0);
    expect(s.lastEventId).toBe(1);
  });

  it('rejects malformed events without touching the data', () => {
    const s0 = run([snapshot([lap('VER', 1)])]);
    const bad = [
      { type: 'lap', data: {} },
      { type: 'lap', data: { lap: { driver: 'VER' } } },
      { type: 'prediction', data: { prediction: { driver: 'VER', lap_number: 'x' } } },
      { type: 'snapshot', data: { laps: [] } },
      { type: 'nonsense', data: {} },
    ] as unknown as LiveEvent[];
    const s = run(bad, s0);
    expect(s.rejected).toBe(5);
    expect(allLaps(s)).toEqual(allLaps(s0));
    expect(s.session).toEqual(s0.session);
  });

  it('keeps the highest event id', () => {
    const s = run([snapshot([], [], 'race', 5), lapEvent(lap('VER', 1), 9), lapEvent(lap('VER', 2), 8)]);
    expect(s.lastEventId).toBe(9);
  });
});

describe('predictionFor', () => {
  it('prefers session context, then the latest to arrive', () => {
    const s = run([
      predEvent(pred('VER', 2, { model_version: '3', context: 'session', lap_time: 1 })),
      predEvent(pred('VER', 2, { model_version: '4', context: 'request', lap_time: 2 })),
    ]);
    expect(predictionFor(s, 'VER', 2)!.lap_time).toBe(1);
    const s2 = applyEvent(s, predEvent(pred('VER', 2, { model_version: '5', context: 'session', lap_time: 3 })));
    expect(predictionFor(s2, 'VER', 2)!.lap_time).toBe(3);
    expect(predictionFor(s2, 'VER', 3)).toBeNull();
    expect(predictionFor(s2, 'NOR', 2)).toBeNull();
  });
});

function raceState(type: SessionType = 'race') {
  // VER leads; NOR 2nd; LEC lapped (one lap down); SAR no position data
  return run([
    snapshot(
      [
        lap('VER', 1, { position: 1, session_time_s: 100, lap_time_s: 100 }),
        lap('VER', 2, { position: 1, session_time_s: 191, lap_time_s: 91, compound: 'SOFT', tyre_life: 5 }),
        lap('VER', 3, { position: 1, session_time_s: 282, lap_time_s: 91 }),
        lap('NOR', 1, { position: 2, session_time_s: 101.5, lap_time_s: 101.5 }),
        lap('NOR', 2, { position: 2, session_time_s: 193, lap_time_s: 91.5 }),
        lap('NOR', 3, { position: 2, session_time_s: 284.25, lap_time_s: 91.25, compound: 'HARD', tyre_life: 12 }),
        lap('LEC', 1, { position: 3, session_time_s: 110, lap_time_s: 110 }),
        lap('LEC', 2, { position: 3, session_time_s: 205, lap_time_s: 89.5 }),
        lap('SAR', 1, { position: null, session_time_s: 130, lap_time_s: 130 }),
      ],
      [
        pred('VER', 3, { lower: 90.5, upper: 91.5 }), // 91 inside
        pred('NOR', 3, { lower: 90, upper: 91 }), // 91.25 outside
        pred('LEC', 2, { degraded: true, model_version: null, lower: null, upper: null }),
        pred('VER', 4, { lap_time: 90.8 }),
        pred('NOR', 4, { degraded: true, model_version: null, lower: null, upper: null, lap_time: 91.25 }),
      ],
      type,
    ),
  ]);
}

describe('tower', () => {
  it('is empty without laps', () => {
    expect(tower(initialLiveState)).toEqual([]);
  });

  it('has one row per driver in position order, position-less drivers last', () => {
    const rows = tower(raceState());
    expect(rows.map((r) => r.driver)).toEqual(['VER', 'NOR', 'LEC', 'SAR']);
    expect(rows.map((r) => r.position)).toEqual([1, 2, 3, null]);
    expect(rows.map((r) => r.laps)).toEqual([3, 3, 2, 1]);
  });

  it('uses the last lap position even when lap events arrive out of order', () => {
    const s = run([
      lapEvent(lap('VER', 2, { position: 2 })),
      lapEvent(lap('VER', 1, { position: 1 })),
      lapEvent(lap('NOR', 1, { position: 2 })),
      lapEvent(lap('NOR', 2, { position: 1 })),
    ]);
    expect(tower(s).map((r) => [r.driver, r.position])).toEqual([
      ['NOR', 1],
      ['VER', 2],
    ]);
  });

  it('orders drivers without position by laps desc, then last session time asc', () => {
    const s = run([
      snapshot([
        lap('AAA', 1, { session_time_s: 100 }),
        lap('BBB', 1, { session_time_s: 100 }),
        lap('BBB', 2, { session_time_s: 200 }),
        lap('CCC', 1, { session_time_s: 95 }),
        lap('DDD', 1, { session_time_s: null }),
        lap('EEE', 1, { position: 5, session_time_s: 300 }),
      ]),
    ]);
    expect(tower(s).map((r) => r.driver)).toEqual(['EEE', 'BBB', 'CCC', 'AAA', 'DDD']);
  });

  it('race gap: session time difference at the end of the same lap number', () => {
    const rows = tower(raceState());
    const gap = Object.fromEntries(rows.map((r) => [r.driver, r.gap]));
    expect(gap.VER).toBe(0);
    expect(gap.NOR).toBeCloseTo(2.25, 9); // 284.25 - 282 at lap 3
    expect(gap.LEC).toBeCloseTo(14, 9); // 205 - 191 at lap 2, not against VER's lap 3
    expect(gap.SAR).toBeCloseTo(30, 9); // 130 - 100 at lap 1
  });

  it('sprint uses the race gap', () => {
    const gap = tower(raceState('sprint')).find((r) => r.driver === 'NOR')!.gap;
    expect(gap).toBeCloseTo(2.25, 9);
  });

  it('race gap is null when a session time is missing', () => {
    const s = run([
      snapshot([
        lap('VER', 1, { position: 1, session_time_s: null }),
        lap('NOR', 1, { position: 2, session_time_s: 100 }),
        lap('LEC', 1, { position: 3, session_time_s: null }),
      ]),
    ]);
    expect(tower(s).map((r) => r.gap)).toEqual([0, null, null]);
  });

  it.each(['qualifying', 'sprint_qualifying', 'practice'] as const)(
    '%s gap: best lap against the session best',
    (type) => {
      const rows = tower(raceState(type));
      const gap = Object.fromEntries(rows.map((r) => [r.driver, r.gap]));
      // session best is LEC's 89.5
      expect(gap.LEC).toBe(0);
      expect(gap.VER).toBeCloseTo(1.5, 9);
      expect(gap.NOR).toBeCloseTo(1.75, 9);
      expect(gap.SAR).toBeCloseTo(40.5, 9);
      expect(rows.find((r) => r.driver === 'VER')!.bestLapTime).toBe(91);
    },
  );

  it('qualifying gap is null for a driver with no timed lap', () => {
    const s = run([snapshot([lap('VER', 1, { lap_time_s: 80 }), lap('NOR', 1, { lap_time_s: null })], [], 'qualifying')]);
    expect(tower(s).find((r) => r.driver === 'NOR')!.gap).toBeNull();
  });

  it('reports the last lap time, tyre and next-lap prediction', () => {
    const rows = tower(raceState());
    const ver = rows.find((r) => r.driver === 'VER')!;
    expect(ver.lastLapTime).toBe(91);
    expect(ver.compound).toBe('MEDIUM');
    expect(ver.tyreAge).toBe(3);
    expect(ver.next?.lap_number).toBe(4);
    expect(ver.next?.lap_time).toBe(90.8);
    const nor = rows.find((r) => r.driver === 'NOR')!;
    expect(nor.compound).toBe('HARD');
    expect(nor.tyreAge).toBe(12);
    expect(nor.next?.degraded).toBe(true);
    expect(rows.find((r) => r.driver === 'SAR')!.next).toBeNull();
  });

  it('lastInside: inside, outside, degraded and missing prediction', () => {
    const rows = tower(raceState());
    const li = Object.fromEntries(rows.map((r) => [r.driver, r.lastInside]));
    expect(li).toEqual({ VER: true, NOR: false, LEC: null, SAR: null });
  });

  it('lastInside treats the bounds as inclusive and a missing lap time as unknown', () => {
    const s = run([
      snapshot(
        [lap('VER', 1, { lap_time_s: 91 }), lap('NOR', 1, { lap_time_s: null })],
        [pred('VER', 1, { lower: 89, upper: 91 }), pred('NOR', 1)],
      ),
    ]);
    const li = Object.fromEntries(tower(s).map((r) => [r.driver, r.lastInside]));
    expect(li).toEqual({ VER: true, NOR: null });
  });

  it('lastInside is null for a degraded prediction even if it carries bounds', () => {
    const s = run([
      snapshot([lap('VER', 1, { lap_time_s: 90 })], [pred('VER', 1, { degraded: true, lower: 80, upper: 100 })]),
    ]);
    expect(tower(s)[0]!.lastInside).toBeNull();
  });

  it('updates when a new lap lands (next becomes last)', () => {
    let s = raceState();
    s = applyEvent(s, lapEvent(lap('VER', 4, { position: 1, session_time_s: 373, lap_time_s: 91 })));
    const ver = tower(s).find((r) => r.driver === 'VER')!;
    expect(ver.laps).toBe(4);
    expect(ver.lastPrediction?.lap_time).toBe(90.8);
    expect(ver.lastInside).toBe(true); // 91 in [89, 91]
    expect(ver.next).toBeNull();
  });
});

describe('paceSeries', () => {
  it('covers laps and the next prediction, bands only where shown', () => {
    const pts = paceSeries(raceState(), 'NOR');
    expect(pts.map((p) => p.lap)).toEqual([1, 2, 3, 4]);
    expect(pts.map((p) => p.actual)).toEqual([101.5, 91.5, 91.25, null]);
    expect(pts[2]!.band).toEqual([90, 91]);
    expect(pts[3]!.band).toBeNull(); // degraded
    expect(pts[3]!.degraded).toBe(true);
    expect(pts[3]!.predicted).toBe(91.25);
  });

  it('fills missing lap numbers with nulls and carries lap flags', () => {
    const s = run([
      lapEvent(lap('VER', 1, { track_status: '14' })),
      lapEvent(lap('VER', 3, { pit_in: true })),
    ]);
    const pts = paceSeries(s, 'VER');
    expect(pts.map((p) => p.lap)).toEqual([1, 2, 3]);
    expect(pts[1]!.actual).toBeNull();
    expect(pts[0]!.flags).toEqual(['sc']);
    expect(pts[2]!.flags).toEqual(['pit']);
  });

  it('is empty for an unknown driver', () => {
    expect(paceSeries(raceState(), 'XXX')).toEqual([]);
  });
});

describe('modelVersionsSeen', () => {
  it('lists distinct versions, numeric order, baseline (null) last', () => {
    const s = run([
      predEvent(pred('VER', 1, { model_version: '10' })),
      predEvent(pred('VER', 2, { model_version: null, degraded: true })),
      predEvent(pred('NOR', 1, { model_version: '9' })),
      predEvent(pred('NOR', 2, { model_version: '10' })),
    ]);
    expect(modelVersionsSeen(s)).toEqual(['9', '10', null]);
  });
});

describe('paceDomain', () => {
  const pt = (lap: number, actual: number | null, over: Partial<import('./live.ts').PacePoint> = {}) => ({
    lap,
    actual,
    predicted: null,
    band: null,
    degraded: false,
    version: null,
    flags: [],
    ...over,
  });

  it('scales to green-flag laps and says when a flagged lap is off scale', () => {
    const d = paceDomain([
      pt(1, 95, { band: [94.2, 96.4] }),
      pt(2, 120, { flags: ['sc'] }),
      pt(3, 95.5, { predicted: 95.2 }),
    ]);
    // 94.2 - 0.5 and 96.4 + 0.5, widened to whole half seconds
    expect(d).toEqual({ domain: [93.5, 97], clipped: true });
  });

  it('is not clipped when every value is inside', () => {
    expect(paceDomain([pt(1, 95), pt(2, 96), pt(3, 95.8, { flags: ['pit'] })])).toEqual({
      domain: [94.5, 96.5],
      clipped: false,
    });
  });

  it('is null with fewer than two green values', () => {
    expect(paceDomain([pt(1, 95), pt(2, 120, { flags: ['sc'] })])).toBeNull();
    expect(paceDomain([])).toBeNull();
  });
});

describe('versionChanges', () => {
  const at = (lap: number, version: string | null) => ({
    lap,
    actual: null,
    predicted: version === null ? null : 90,
    band: null,
    degraded: false,
    version,
    flags: [],
  });

  it('marks the laps where another version took over, not the first one nor gaps', () => {
    expect(versionChanges([at(2, '3'), at(3, null), at(4, '3'), at(5, '4'), at(6, '4'), at(7, '3')])).toEqual([
      { lap: 5, version: '4' },
      { lap: 7, version: '3' },
    ]);
    expect(versionChanges([at(2, null), at(3, '1')])).toEqual([]);
  });
});
