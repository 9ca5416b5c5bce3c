/** Builders for tests (not imported by the app). */
import type { Lap, LiveEvent, LiveSession, Prediction, SessionType } from './types.ts';

export function lap(driver: string, lap_number: number, over: Partial<Lap> = {}): Lap {
  return {
    driver,
    team: null,
    lap_number,
    lap_time_s: 90,
    sector1_s: null,
    sector2_s: null,
    sector3_s: null,
    compound: 'MEDIUM',
    tyre_life: lap_number,
    stint: 1,
    position: null,
    track_status: '1',
    pit_in: false,
    pit_out: false,
    lap_start_time_s: null,
    session_time_s: null,
    ...over,
  };
}

export function pred(driver: string, lap_number: number, over: Partial<Prediction> = {}): Prediction {
  return {
    driver,
    lap_number,
    lap_time: 90,
    lower: 89,
    upper: 91,
    model_version: '3',
    degraded: false,
    context: 'session',
    ...over,
  };
}

export function session(session_type: SessionType = 'race'): LiveSession {
  return { session_key: 's1', season: 2024, event_name: 'Bahrain Grand Prix', session_name: 'Race', session_type };
}

export function snapshot(
  laps: Lap[],
  predictions: Prediction[] = [],
  type: SessionType = 'race',
  id?: number,
): LiveEvent {
  return { type: 'snapshot', id, data: { session: session(type), laps, predictions, now: 1_700_000_000 } };
}

export const lapEvent = (l: Lap, id?: number): LiveEvent => ({ type: 'lap', id, data: { lap: l } });
export const predEvent = (p: Prediction, id?: number): LiveEvent => ({
  type: 'prediction',
  id,
  data: { prediction: p },
});
