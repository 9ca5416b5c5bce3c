/** The Replay page's logic: the archive's sessions filtered, the replay's clock and progress, the
 * controls a replay's state allows. Pure: no React, no I/O, no clock. */
import type { ArchivedSession, ReplayState, ReplayStatus, SessionType } from './types.ts';

/** Speeds offered (session seconds per second); the back end takes 0.1 to 10000. */
export const SPEEDS: readonly number[] = [1, 5, 10, 30, 60, 120, 300, 600, 1000];

const TYPE_ORDER: readonly SessionType[] = ['race', 'sprint', 'qualifying', 'sprint_qualifying', 'practice'];

export interface SessionFilter {
  /** null: every season */
  season: number | null;
  /** null: every type */
  type: SessionType | null;
}

/** Seasons in the archive, newest first. */
export function seasonsOf(sessions: readonly ArchivedSession[]): number[] {
  return [...new Set(sessions.map((s) => s.season))].sort((a, b) => b - a);
}

/** Session types in the archive, races first. */
export function typesOf(sessions: readonly ArchivedSession[]): SessionType[] {
  const seen = new Set(sessions.map((s) => s.session_type));
  return TYPE_ORDER.filter((t) => seen.has(t));
}

/** The sessions the filter lets through, newest first (season, then round). */
export function filterSessions(sessions: readonly ArchivedSession[], filter: SessionFilter): ArchivedSession[] {
  return sessions
    .filter((s) => (filter.season === null || s.season === filter.season) && (filter.type === null || s.session_type === filter.type))
    .sort((a, b) => b.season - a.season || b.round - a.round || a.session_key.localeCompare(b.session_key));
}

/** A filter value from a <select>: '' is "all". */
export function parseSeason(value: string): number | null {
  const n = Number(value);
  return value === '' || !Number.isInteger(n) ? null : n;
}

export function parseType(value: string): SessionType | null {
  return (TYPE_ORDER as readonly string[]).includes(value) ? (value as SessionType) : null;
}

/** 3725.4 -> "1:02:05"; 65 -> "0:01:05"; negative or non-finite -> "—". */
export function formatClock(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** The replay's clock from the session's first lap start: elapsed and whole duration. */
export function replayClock(status: Pick<ReplayStatus, 'session_time_s' | 'start_s' | 'end_s'>): {
  elapsed: string;
  duration: string;
} {
  return {
    elapsed: formatClock(Math.max(0, status.session_time_s - status.start_s)),
    duration: formatClock(Math.max(0, status.end_s - status.start_s)),
  };
}

/** Share of the session's laps landed, 0..1. */
export function landedShare(status: Pick<ReplayStatus, 'laps_landed' | 'laps_total'>): number {
  if (!(status.laps_total > 0)) return 0;
  return Math.min(1, Math.max(0, status.laps_landed / status.laps_total));
}

/** "300×", "0.5×" */
export function speedLabel(speed: number): string {
  return `${Number.isInteger(speed) ? speed : Number(speed.toFixed(2))}×`;
}

/** The speeds to offer: the presets, and the replay's own when it is none of them. */
export function speedChoices(current: number | null): number[] {
  const all = new Set(SPEEDS);
  if (current !== null && Number.isFinite(current)) all.add(current);
  return [...all].sort((a, b) => a - b);
}

/** The replay of `sessionKey` among the current ones, or null. */
export function replayFor(replays: readonly ReplayStatus[], sessionKey: string | null): ReplayStatus | null {
  if (sessionKey === null) return null;
  return replays.find((r) => r.session_key === sessionKey) ?? null;
}

/** Which controls a replay's state allows (null: none of the session yet). */
export interface Controls {
  /** start (or start again, replacing a finished one) */
  start: boolean;
  /** the play/pause button: what it does, or null when it does nothing */
  toggle: 'pause' | 'resume' | null;
  seek: boolean;
  speed: boolean;
  stop: boolean;
}

export function controlsFor(state: ReplayState | null): Controls {
  switch (state) {
    case 'playing':
      return { start: false, toggle: 'pause', seek: true, speed: true, stop: true };
    case 'paused':
      return { start: false, toggle: 'resume', seek: true, speed: true, stop: true };
    case 'finished':
      return { start: true, toggle: null, seek: true, speed: true, stop: true };
    default:
      return { start: true, toggle: null, seek: false, speed: false, stop: false };
  }
}

/** The lap the seek slider stands at: the one being dragged to, else the replay's. */
export function sliderLap(status: Pick<ReplayStatus, 'lap' | 'laps'>, draft: number | null): number {
  const lap = draft ?? status.lap;
  return Math.min(Math.max(0, Math.round(lap)), Math.max(0, status.laps));
}

/** What a screen reader says of the slider. */
export function lapText(lap: number, laps: number): string {
  return lap === 0 ? `start, before lap 1 of ${laps}` : `lap ${lap} of ${laps}`;
}

/** The session a replay should show when none is picked: the first playing, else the first. */
export function defaultSelection(replays: readonly ReplayStatus[]): string | null {
  return (replays.find((r) => r.state === 'playing') ?? replays[0])?.session_key ?? null;
}

/** One line saying how the service answered the replay's laps. */
export function answersLine(status: Pick<ReplayStatus, 'predicted' | 'contexts' | 'failed_requests'>): string {
  const fromState = status.contexts.session ?? 0;
  const fromRequest = status.contexts.request ?? 0;
  const parts = [`${status.predicted} laps asked`, `${fromState} from the session's state`];
  if (fromRequest) parts.push(`${fromRequest} from the request alone`);
  if (status.failed_requests) parts.push(`${status.failed_requests} failed request${status.failed_requests === 1 ? '' : 's'}`);
  return parts.join(' · ');
}
