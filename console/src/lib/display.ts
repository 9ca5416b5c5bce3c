/** Formatting for the console's views. Pure. */
import type { Lap, Prediction, SessionType } from './types.ts';

const DASH = '—';

/** How a session type reads on the page. */
export const SESSION_TYPE_LABEL: Record<SessionType, string> = {
  race: 'Race',
  sprint: 'Sprint',
  qualifying: 'Qualifying',
  sprint_qualifying: 'Sprint qualifying',
  practice: 'Practice',
};

/** 91.234 -> "1:31.234"; rounds to the millisecond; "—" for null or non-finite. */
export function formatLapTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const sign = seconds < 0 ? '-' : '';
  const ms = Math.round(Math.abs(seconds) * 1000);
  const minutes = Math.floor(ms / 60_000);
  const rest = ms - minutes * 60_000;
  const secs = Math.floor(rest / 1000);
  const millis = rest - secs * 1000;
  return `${sign}${minutes}:${String(secs).padStart(2, '0')}.${String(millis).padStart(3, '0')}`;
}

/** Gap to the leader: 0 -> "leader", 1.2 -> "+1.200", null -> "—". */
export function formatGap(seconds: number | null, isLeader = false): string {
  if (isLeader) return 'leader';
  if (seconds === null || !Number.isFinite(seconds)) return DASH;
  const ms = Math.round(seconds * 1000);
  return `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(3)}`;
}

/** Whether to draw the interval band: not for degraded (baseline) predictions nor a missing bound. */
export function showBand(p: Prediction | null | undefined): boolean {
  return !!p && !p.degraded && p.lower !== null && p.upper !== null && Number.isFinite(p.lower) && Number.isFinite(p.upper);
}

/** What a prediction is: "baseline, no interval" when degraded, else its version and 90% interval. */
export function predictionLabel(p: Prediction | null | undefined): string {
  if (!p) return 'no prediction';
  if (p.degraded) return 'baseline, no interval';
  const version = p.model_version ? `v${p.model_version}` : 'model';
  if (!showBand(p)) return `${version}, no interval`;
  return `${version} · 90% ${formatLapTime(p.lower)}–${formatLapTime(p.upper)}`;
}

/** "updated 4s ago" from two client-clock millisecond times. */
export function freshness(updatedAtMs: number | null, nowMs: number): string {
  if (updatedAtMs === null) return 'no data yet';
  const s = Math.max(0, Math.floor((nowMs - updatedAtMs) / 1000));
  if (s < 60) return `updated ${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `updated ${m}m ago`;
  return `updated ${Math.floor(m / 60)}h ago`;
}

export type LapFlag = 'sc' | 'vsc' | 'red' | 'pit';

/**
 * Flags to shade a lap with. FastF1 track status codes, concatenated when several held
 * during the lap: 4 safety car, 6/7 virtual safety car (deployed/ending), 5 red flag.
 */
export function lapFlags(lap: Pick<Lap, 'track_status' | 'pit_in' | 'pit_out'>): LapFlag[] {
  const s = lap.track_status ?? '';
  const flags: LapFlag[] = [];
  if (s.includes('4')) flags.push('sc');
  if (s.includes('6') || s.includes('7')) flags.push('vsc');
  if (s.includes('5')) flags.push('red');
  if (lap.pit_in || lap.pit_out) flags.push('pit');
  return flags;
}

/** One-letter tyre compound as on the TV graphics. */
export function compoundShort(compound: string | null): string {
  if (!compound) return '?';
  const c = compound.toUpperCase();
  if (c.startsWith('INTER')) return 'I';
  return c.charAt(0);
}

export function formatPct(v: number | null): string {
  return v === null ? DASH : `${Math.round(v * 100)}%`;
}

export function formatSeconds(v: number | null, digits = 3): string {
  return v === null || !Number.isFinite(v) ? DASH : `${v.toFixed(digits)} s`;
}

/** An ISO time (a naive one is UTC, as the warehouse keeps them) as client-clock ms; null when unknown. */
export function isoMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isFinite(ms) ? ms : null;
}

/** The card's promotion lineage and rollbacks, e.g. "v1 → v3 · rolled back v2" (empty: none known). */
export function promotionsText(card: Record<string, unknown> | null): string {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string' || typeof x === 'number').map(String) : []);
  const champions = list(card?.champions);
  const rolledBack = list(card?.rolled_back);
  const parts = [];
  if (champions.length) parts.push(champions.map((v) => `v${v}`).join(' → '));
  if (rolledBack.length) parts.push(`rolled back ${rolledBack.map((v) => `v${v}`).join(', ')}`);
  return parts.join(' · ');
}
