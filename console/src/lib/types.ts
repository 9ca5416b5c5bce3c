/** Shapes of the console's JSON API and live event stream (see the contract in README). */

export type Role = 'viewer' | 'engineer' | 'admin';

export interface Me {
  role: Role;
  key_id: string;
}

export interface SessionSummary {
  session_key: string;
  season: number;
  event_name: string;
  session_name: string;
  laps: number;
  drivers: number;
  /** unix seconds */
  updated_at: number;
}

export interface OnlineStore {
  backend: string;
  available: boolean;
  error: string | null;
}

export interface ModelInfo {
  serving: string | null;
  degraded: boolean;
  last_error: string | null;
  online_store: OnlineStore;
  card: Record<string, unknown> | null;
}

export type SessionType = 'race' | 'sprint' | 'qualifying' | 'sprint_qualifying' | 'practice';

export interface LiveSession {
  session_key: string;
  season: number;
  event_name: string;
  session_name: string;
  session_type: SessionType;
}

export interface Lap {
  driver: string;
  team: string | null;
  lap_number: number;
  lap_time_s: number | null;
  sector1_s: number | null;
  sector2_s: number | null;
  sector3_s: number | null;
  compound: string | null;
  tyre_life: number | null;
  stint: number | null;
  position: number | null;
  track_status: string | null;
  pit_in: boolean;
  pit_out: boolean;
  lap_start_time_s: number | null;
  session_time_s: number | null;
}

export type PredictionContext = 'session' | 'request';

export interface Prediction {
  driver: string;
  lap_number: number;
  lap_time: number | null;
  lower: number | null;
  upper: number | null;
  model_version: string | null;
  degraded: boolean;
  context: PredictionContext;
}

export interface SnapshotData {
  session: LiveSession;
  laps: Lap[];
  predictions: Prediction[];
  /** server clock, unix seconds */
  now: number;
}

/** One parsed server-sent event. `id` is the SSE id (increasing integer) when the server sent one. */
export type LiveEvent =
  | { type: 'snapshot'; id?: number; data: SnapshotData }
  | { type: 'lap'; id?: number; data: { lap: Lap } }
  | { type: 'prediction'; id?: number; data: { prediction: Prediction } };

export interface Contribution {
  feature: string;
  value: number | string | null;
  /** seconds this feature adds to the lap time (negative: faster) */
  contribution: number;
}

/** `GET /api/live/{session_key}/explain/{driver}`: why the model predicts that driver's next lap. */
export interface Explanation {
  lap_number: number;
  prediction: Omit<Prediction, 'driver' | 'lap_number'>;
  /** the pace the model starts from (s); null for a lap without reference pace or degraded */
  reference: number | null;
  bias: number | null;
  /** the top contributions (may not add up to the prediction: see `waterfall`) */
  contributions: Contribution[];
}
