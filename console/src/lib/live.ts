/**
 * Live session state: an idempotent reducer over the server-sent events and the
 * timing tower derived from it. Pure: no React, no I/O, no clock (callers pass times in).
 */
import { lapFlags, showBand, type LapFlag } from './display.ts';
import type { Lap, LiveEvent, LiveSession, Prediction } from './types.ts';

/** A prediction plus the order it arrived in (later arrivals win ties, see `predictionFor`). */
export interface PredictionEntry {
  prediction: Prediction;
  seq: number;
}

export interface LiveState {
  session: LiveSession | null;
  /** keyed by `lapKey` */
  laps: Record<string, Lap>;
  /** keyed by `predictionKey` */
  predictions: Record<string, PredictionEntry>;
  /** arrival counter used for `PredictionEntry.seq` */
  seq: number;
  /** highest SSE id applied (informational; the browser resends it as Last-Event-ID) */
  lastEventId: number | null;
  /** server clock (unix s) from the last snapshot */
  serverNow: number | null;
  /** client clock (ms) when the last event was applied; null before the first one */
  updatedAt: number | null;
  /** events dropped because their payload did not have the contract's shape */
  rejected: number;
}

export const initialLiveState: LiveState = {
  session: null,
  laps: {},
  predictions: {},
  seq: 0,
  lastEventId: null,
  serverNow: null,
  updatedAt: null,
  rejected: 0,
};

export const lapKey = (driver: string, lapNumber: number): string => `${driver}#${lapNumber}`;

/** A prediction's identity: (driver, lap_number, model_version); a null version (degraded) is its own key. */
export const predictionKey = (p: Pick<Prediction, 'driver' | 'lap_number' | 'model_version'>): string =>
  `${p.driver}#${p.lap_number}#${p.model_version === null ? '\u0000baseline' : p.model_version}`;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function isLap(v: unknown): v is Lap {
  return isObj(v) && typeof v.driver === 'string' && v.driver !== '' && Number.isFinite(v.lap_number);
}

function isPrediction(v: unknown): v is Prediction {
  return (
    isObj(v) &&
    typeof v.driver === 'string' &&
    v.driver !== '' &&
    Number.isFinite(v.lap_number) &&
    (v.model_version === null || typeof v.model_version === 'string')
  );
}

/**
 * Apply one server-sent event. A snapshot replaces the whole state (it is the server's full
 * view; after a reconnect with Last-Event-ID the server sends none, and a fresh connection
 * gets a new one). A lap or prediction replaces any earlier one with the same key, so a
 * replayed event is a no-op and a corrected one wins. Malformed events leave the data as it
 * was (counted in `rejected`). Returns a new object; `state` is never mutated.
 */
export function applyEvent(state: LiveState, event: LiveEvent, receivedAt: number | null = null): LiveState {
  const lastEventId =
    typeof event.id === 'number' && Number.isFinite(event.id)
      ? Math.max(event.id, state.lastEventId ?? -Infinity)
      : state.lastEventId;
  const updatedAt = receivedAt ?? state.updatedAt;
  const reject = (): LiveState => ({ ...state, rejected: state.rejected + 1 });

  switch (event.type) {
    case 'snapshot': {
      const d: unknown = event.data;
      if (!isObj(d) || !isObj(d.session) || !Array.isArray(d.laps) || !Array.isArray(d.predictions)) {
        return reject();
      }
      const laps: Record<string, Lap> = {};
      for (const lap of d.laps) if (isLap(lap)) laps[lapKey(lap.driver, lap.lap_number)] = lap;
      const predictions: Record<string, PredictionEntry> = {};
      let seq = state.seq;
      for (const p of d.predictions) {
        if (isPrediction(p)) predictions[predictionKey(p)] = { prediction: p, seq: ++seq };
      }
      return {
        ...state,
        session: d.session as unknown as LiveSession,
        laps,
        predictions,
        seq,
        // a snapshot starts a new numbering if the server restarted
        lastEventId: typeof event.id === 'number' && Number.isFinite(event.id) ? event.id : lastEventId,
        serverNow: typeof d.now === 'number' ? d.now : state.serverNow,
        updatedAt,
      };
    }
    case 'lap': {
      const lap: unknown = isObj(event.data) ? event.data.lap : undefined;
      if (!isLap(lap)) return reject();
      return {
        ...state,
        laps: { ...state.laps, [lapKey(lap.driver, lap.lap_number)]: lap },
        lastEventId,
        updatedAt,
      };
    }
    case 'prediction': {
      const p: unknown = isObj(event.data) ? event.data.prediction : undefined;
      if (!isPrediction(p)) return reject();
      const seq = state.seq + 1;
      return {
        ...state,
        predictions: { ...state.predictions, [predictionKey(p)]: { prediction: p, seq } },
        seq,
        lastEventId,
        updatedAt,
      };
    }
    default:
      return reject();
  }
}

export const allLaps = (state: LiveState): Lap[] => Object.values(state.laps);
export const allPredictions = (state: LiveState): Prediction[] =>
  Object.values(state.predictions)
    .sort((a, b) => a.seq - b.seq)
    .map((e) => e.prediction);

/** A driver's laps, by lap number ascending. */
export function lapsOf(state: LiveState, driver: string): Lap[] {
  return allLaps(state)
    .filter((l) => l.driver === driver)
    .sort((a, b) => a.lap_number - b.lap_number);
}

/**
 * The prediction shown for (driver, lap) when several model versions predicted it:
 * context `session` (it knew the whole field) before `request`, then the latest to arrive.
 */
export function predictionFor(state: LiveState, driver: string, lapNumber: number): Prediction | null {
  let best: PredictionEntry | null = null;
  for (const e of Object.values(state.predictions)) {
    const p = e.prediction;
    if (p.driver !== driver || p.lap_number !== lapNumber) continue;
    if (best === null) {
      best = e;
      continue;
    }
    const rank = (x: PredictionEntry) => (x.prediction.context === 'session' ? 1 : 0);
    if (rank(e) > rank(best) || (rank(e) === rank(best) && e.seq > best.seq)) best = e;
  }
  return best?.prediction ?? null;
}

/** Whether `actual` fell inside the prediction's interval (inclusive); null when it can't be told. */
export function inside(actual: number | null, p: Prediction | null): boolean | null {
  if (p === null || p.degraded || actual === null || p.lower === null || p.upper === null) return null;
  return actual >= p.lower && actual <= p.upper;
}

export interface TowerRow {
  driver: string;
  team: string | null;
  /** position of the driver's last lap (null when the feed has none) */
  position: number | null;
  /** laps completed: the last lap's number */
  laps: number;
  /** seconds behind the leader (race/sprint) or the session's best lap (qualifying/practice) */
  gap: number | null;
  lastLap: Lap;
  lastLapTime: number | null;
  bestLapTime: number | null;
  compound: string | null;
  tyreAge: number | null;
  /** prediction for lap `laps + 1` */
  next: Prediction | null;
  /** prediction that was made for the last lap */
  lastPrediction: Prediction | null;
  lastInside: boolean | null;
}

export const isRaceLike = (state: LiveState): boolean =>
  state.session?.session_type === 'race' || state.session?.session_type === 'sprint';

function minTime(laps: Lap[]): number | null {
  let best: number | null = null;
  for (const l of laps) {
    if (l.lap_time_s !== null && Number.isFinite(l.lap_time_s) && (best === null || l.lap_time_s < best)) {
      best = l.lap_time_s;
    }
  }
  return best;
}

/** Nulls last; numbers ascending. */
const ascNullLast = (a: number | null, b: number | null): number =>
  a === null ? (b === null ? 0 : 1) : b === null ? -1 : a - b;

/**
 * One row per driver, in running order: drivers whose last lap has a position by that
 * position; then the others by laps completed (desc), then by the last lap's session time
 * (asc, unknown last); the driver code breaks remaining ties.
 */
export function tower(state: LiveState): TowerRow[] {
  const byDriver = new Map<string, Lap[]>();
  for (const lap of allLaps(state)) {
    const list = byDriver.get(lap.driver);
    if (list) list.push(lap);
    else byDriver.set(lap.driver, [lap]);
  }

  const rows: TowerRow[] = [];
  for (const [driver, laps] of byDriver) {
    laps.sort((a, b) => a.lap_number - b.lap_number);
    const lastLap = laps[laps.length - 1]!;
    const lastPrediction = predictionFor(state, driver, lastLap.lap_number);
    rows.push({
      driver,
      team: lastLap.team ?? laps.find((l) => l.team !== null)?.team ?? null,
      position: Number.isFinite(lastLap.position) ? lastLap.position : null,
      laps: lastLap.lap_number,
      gap: null,
      lastLap,
      lastLapTime: lastLap.lap_time_s,
      bestLapTime: minTime(laps),
      compound: lastLap.compound,
      tyreAge: lastLap.tyre_life,
      next: predictionFor(state, driver, lastLap.lap_number + 1),
      lastPrediction,
      lastInside: inside(lastLap.lap_time_s, lastPrediction),
    });
  }

  rows.sort((a, b) => {
    if (a.position !== null || b.position !== null) {
      const byPos = ascNullLast(a.position, b.position);
      if (byPos !== 0) return byPos;
    }
    if (a.laps !== b.laps) return b.laps - a.laps;
    const byTime = ascNullLast(a.lastLap.session_time_s, b.lastLap.session_time_s);
    if (byTime !== 0) return byTime;
    return a.driver < b.driver ? -1 : a.driver > b.driver ? 1 : 0;
  });

  const leader = rows[0];
  if (!leader) return rows;
  if (isRaceLike(state)) {
    for (const row of rows) {
      if (row === leader) {
        row.gap = 0;
        continue;
      }
      const mine = row.lastLap.session_time_s;
      const theirs = state.laps[lapKey(leader.driver, row.laps)]?.session_time_s ?? null;
      row.gap = mine !== null && theirs !== null ? mine - theirs : null;
    }
  } else {
    const sessionBest = minTime(rows.map((r) => ({ lap_time_s: r.bestLapTime }) as Lap));
    for (const row of rows) {
      row.gap = row.bestLapTime !== null && sessionBest !== null ? row.bestLapTime - sessionBest : null;
    }
  }
  return rows;
}

/** Distinct model versions seen in predictions (null stands for the degraded baseline). */
export function modelVersionsSeen(state: LiveState): (string | null)[] {
  const seen = new Set<string | null>();
  for (const e of Object.values(state.predictions)) seen.add(e.prediction.model_version);
  return [...seen].sort((a, b) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b, undefined, { numeric: true })));
}

export interface PacePoint {
  lap: number;
  actual: number | null;
  predicted: number | null;
  /** [lower, upper] of the shown prediction; null when degraded or a bound is missing */
  band: [number, number] | null;
  degraded: boolean;
  /** the model version of the shown prediction (null: none, or a degraded answer) */
  version: string | null;
  flags: LapFlag[];
}

/**
 * A driver's pace chart: one point per lap number from the first to the last known (lap or
 * prediction, so the next lap's prediction is on it), gaps filled with nulls so lines break.
 */
export function paceSeries(state: LiveState, driver: string): PacePoint[] {
  const laps = new Map<number, Lap>();
  for (const l of lapsOf(state, driver)) laps.set(l.lap_number, l);
  const predicted = new Set<number>();
  for (const e of Object.values(state.predictions)) {
    if (e.prediction.driver === driver) predicted.add(e.prediction.lap_number);
  }
  const numbers = [...laps.keys(), ...predicted];
  if (numbers.length === 0) return [];
  const first = Math.min(...numbers);
  const last = Math.max(...numbers);
  // fill gaps, unless a bogus lap number would make that a huge loop
  const span =
    last - first <= 1000
      ? Array.from({ length: last - first + 1 }, (_, i) => first + i)
      : [...new Set(numbers)].sort((a, b) => a - b);
  const out: PacePoint[] = [];
  for (const n of span) {
    const lap = laps.get(n);
    const p = predicted.has(n) ? predictionFor(state, driver, n) : null;
    out.push({
      lap: n,
      actual: lap?.lap_time_s ?? null,
      predicted: p?.lap_time ?? null,
      band: p && showBand(p) ? [p.lower as number, p.upper as number] : null,
      degraded: p?.degraded ?? false,
      version: p && !p.degraded ? p.model_version : null,
      flags: lap ? lapFlags(lap) : [],
    });
  }
  return out;
}

/** Laps whose prediction came from another model version than the last one before it: where a
 * promotion or rollback reached this driver's predictions (the first version is no change). */
export function versionChanges(points: readonly PacePoint[]): { lap: number; version: string }[] {
  const out: { lap: number; version: string }[] = [];
  let last: string | null = null;
  for (const p of points) {
    if (p.version === null) continue;
    if (last !== null && p.version !== last) out.push({ lap: p.lap, version: p.version });
    last = p.version;
  }
  return out;
}

/**
 * Y range for a pace chart from the laps with no flag (green-flag, no pit), padded by `pad`
 * seconds and widened to half seconds, so a safety car or pit lap does not flatten the racing laps; null when there are
 * fewer than two such values (let the chart scale itself). `clipped` tells whether some
 * value lies outside.
 */
export function paceDomain(points: PacePoint[], pad = 0.5): { domain: [number, number]; clipped: boolean } | null {
  const values = (p: PacePoint) => [p.actual, p.predicted, ...(p.band ?? [])].filter((v): v is number => v !== null && Number.isFinite(v));
  const green = points.filter((p) => p.flags.length === 0).flatMap(values);
  if (green.length < 2) return null;
  // widened to whole half seconds so the ticks read well
  const lo = Math.floor((Math.min(...green) - pad) * 2) / 2;
  const hi = Math.ceil((Math.max(...green) + pad) * 2) / 2;
  const clipped = points.flatMap(values).some((v) => v < lo || v > hi);
  return { domain: [lo, hi], clipped };
}
