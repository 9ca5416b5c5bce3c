/** Shapes of the console's JSON API and live event stream (see the contract in docs/console.md). */

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

/** `GET /api/admin/keys`: an API key as the Admin page shows it (never its hash). */
export interface ApiKey {
  key_id: string;
  role: Role;
  name: string;
  /** ISO 8601, UTC */
  created: string;
  /** the key this admin is signed in with (the back end refuses to revoke it) */
  yours: boolean;
  /** the key the console asks the service with for live predictions (refused too) */
  console: boolean;
}

/** `POST /api/admin/keys`: the new key's record and the key itself, shown this once only. */
export interface CreatedKey extends ApiKey {
  key: string;
}

/** History (engineer): what the pipeline published of the served predictions. */
export type AnswerContext = 'session' | 'request';

export interface HistorySession {
  session_key: string;
  circuit_ref: string | null;
  session_type: string | null;
  context: AnswerContext;
  laps: number;
  clean_laps: number;
  versions: string[];
}

export interface HistoryOverview {
  published_at: string | null;
  sessions: HistorySession[];
  note?: string;
}

export type Breakdown = 'circuit' | 'compound' | 'tyre_age' | 'lap';

export interface BreakdownRow {
  group: string;
  clean_laps: number;
  mae_clean: number | null;
  coverage_clean: number | null;
  bias: number | null;
}

export interface WorstLap {
  session_key: string;
  driver: string;
  lap_number: number;
  compound: string | null;
  tyre_life: number | null;
  model_version: string;
  prediction: number;
  lower: number | null;
  upper: number | null;
  observed: number;
  abs_error: number;
  covered: boolean | null;
}

export interface HistoryErrors {
  published_at: string | null;
  laps: number;
  clean_laps?: number;
  breakdowns: Partial<Record<Breakdown, BreakdownRow[]>>;
  worst: WorstLap[];
}

export interface ComparedLap {
  driver: string;
  lap_number: number;
  observed: number;
  clean: boolean;
  prediction_a: number;
  prediction_b: number;
  abs_error_a: number;
  abs_error_b: number;
}

export interface VersionComparison {
  published_at: string | null;
  versions: string[];
  a?: string;
  b?: string;
  laps: ComparedLap[];
  clean_laps?: number;
  mae_clean_a?: number | null;
  mae_clean_b?: number | null;
}

/** `GET /api/replay/sessions`: an archived session the Replay page can play. */
export interface ArchivedSession {
  session_key: string;
  season: number;
  round: number;
  event_name: string;
  session_name: string;
  session_type: SessionType;
  /** ISO date */
  event_date: string;
  /** the state of its replay, if one is under way */
  replay: ReplayState | null;
}

export type ReplayState = 'playing' | 'paused' | 'finished' | 'stopped';

/** `GET /api/replay`: a replay as it stands (the controls answer the same). */
export interface ReplayStatus {
  session_key: string;
  season: number;
  event_name: string;
  session_name: string;
  session_type: SessionType;
  state: ReplayState;
  /** session seconds per second */
  speed: number;
  /** the session clock: where the replay is, from the session's start */
  session_time_s: number;
  /** the first lap's start and the last lap's end (the seekable range) */
  start_s: number;
  end_s: number;
  /** the highest lap landed (a race's leader) and the session's laps (the slider's range) */
  lap: number;
  laps: number;
  laps_landed: number;
  laps_total: number;
  /** laps asked of the service, and its answers by context */
  predicted: number;
  contexts: Partial<Record<PredictionContext, number>>;
  session_mae_s: number | null;
  model_version: string | null;
  failed_requests: number;
  last_error: string | null;
  started_by: string | null;
  started_at: string;
  /** the console's live stream has the session (its views can open) */
  live: boolean;
}

/** `GET /api/drift/history`: a drift report of a session against the champion's training reference. */
export interface DriftReport {
  session_key: string;
  champion_version: string;
  /** ISO 8601, UTC: identifies the report with the session */
  computed_at: string;
  laps: number;
  features_compared: number;
  features_drifted: number;
  share_drifted: number;
  drifted_features: string[];
  live_mae_clean: number | null;
  train_mae_clean: number | null;
  error_ratio: number | null;
  /** none, data, concept or both */
  classification: string;
  thresholds: Partial<Record<'psi' | 'share_drifted' | 'error_ratio' | 'min_laps', number>>;
  /** where the laps compared end on the session clock (null in reports made before it was kept) */
  last_lap: number | null;
  session_time_s: number | null;
  session_start_utc: string | null;
  /** the session's newest report: the only one its HTML file still holds */
  report_current: boolean;
}

export interface DriftSession {
  session_key: string;
  reports: number;
  newest: string;
  latest_classification: string;
  event_name?: string | null;
  session_name?: string | null;
  session_type?: string | null;
}

export interface DriftHistory {
  /** when the pipeline last published drift_history (null: never) */
  published_at: string | null;
  /** what to say when nothing is published (null otherwise) */
  empty: string | null;
  sessions: DriftSession[];
  reports: DriftReport[];
}

export interface DriftFeature {
  feature: string;
  psi: number;
  js_distance: number;
  ks_p_value: number | null;
  drifted: boolean;
}

/** `GET /api/drift/features`: the per-input numbers of one report. */
export interface DriftFeatures {
  session_key: string;
  computed_at: string;
  champion_version: string;
  psi_threshold: number | null;
  published_at: string | null;
  features: DriftFeature[];
}

/** An alert of the log placed on a session's clock (or not, with why). */
export interface TimelineAlert {
  /** wall clock, ISO 8601 UTC */
  at: string;
  kind: string;
  text: string;
  details: Record<string, unknown>;
  session_key: string | null;
  /** the session's last completed lap at the time */
  lap: number | null;
  session_time_s: number | null;
  /** report, live predictions, session wall clock, or unplaced */
  placed_by: string;
  note: string;
}

/** `GET /api/drift/timeline` */
export interface AlertTimeline {
  session_key: string | null;
  events: TimelineAlert[];
  unplaced: TimelineAlert[];
  log: { path: string; alerts: number; skipped: number; modified_at: string | null };
  published_at: { drift_history: string | null; live_predictions: string | null };
}
