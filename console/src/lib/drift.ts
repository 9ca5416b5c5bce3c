/** Drift and alerts: what the page shows of the published drift reports and the alert timeline. Pure. */
import { query } from './api.ts';
import { isoMs } from './display.ts';
import type { AlertTimeline, DriftFeature, DriftHistory, DriftReport, DriftSession, TimelineAlert } from './types.ts';

const DASH = '—';

type DriftClass = 'none' | 'data' | 'concept' | 'both';

/** Each classification's colour and what it means (f1_core/drift.py). */
const CLASS_STYLE: Record<DriftClass, { label: string; badge: string; help: string }> = {
  none: { label: 'none', badge: 'bg-emerald-900/50 text-emerald-200', help: 'inputs and error as in training' },
  data: { label: 'data', badge: 'bg-amber-800/60 text-amber-100', help: 'the inputs moved away from training' },
  concept: {
    label: 'concept',
    badge: 'bg-violet-800/60 text-violet-100',
    help: 'the error rose while the inputs did not move',
  },
  both: { label: 'both', badge: 'bg-red-800/70 text-red-100', help: 'the inputs moved and the error rose' },
};

export function classStyle(classification: string) {
  return CLASS_STYLE[classification as DriftClass] ?? {
    label: classification,
    badge: 'bg-zinc-800 text-zinc-300',
    help: 'an unknown classification',
  };
}

/** "2024-05-01 12:30:05 UTC" (the pit wall runs on UTC, as the pipeline does). */
export function formatUtc(iso: string | null | undefined): string {
  const ms = isoMs(iso);
  if (ms === null) return DASH;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** 3125.4 -> "52:05" and 5000 -> "1:23:20": session time as an engineer reads it. */
export function formatSessionTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return DASH;
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** "published 4m ago · 2024-05-01 12:30:05 UTC", or what it means that nothing is. */
export function publishedLabel(publishedAt: string | null | undefined, nowMs: number): string {
  const ms = isoMs(publishedAt);
  if (ms === null) return 'nothing published yet';
  const s = Math.max(0, Math.floor((nowMs - ms) / 1000));
  const age = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;
  return `published ${age} ago · ${formatUtc(publishedAt)}`;
}

/** "2023 Australian Grand Prix · Race", else the key itself. */
export function sessionLabel(s: Pick<DriftSession, 'session_key' | 'event_name' | 'session_name'>): string {
  if (!s.event_name) return s.session_key;
  const season = /^\d{4}/.exec(s.session_key)?.[0];
  return `${season ? `${season} ` : ''}${s.event_name}${s.session_name ? ` · ${s.session_name}` : ''}`;
}

/** The session's reports, newest first. */
export function reportsOf(history: DriftHistory | undefined, sessionKey: string | null): DriftReport[] {
  if (!history || sessionKey === null) return [];
  return history.reports
    .filter((r) => r.session_key === sessionKey)
    .sort((a, b) => (isoMs(b.computed_at) ?? 0) - (isoMs(a.computed_at) ?? 0));
}

/** The report to show: the chosen one while it is still published, else the session's newest. */
export function pickReport(reports: DriftReport[], computedAt: string | null): DriftReport | null {
  return reports.find((r) => r.computed_at === computedAt) ?? reports[0] ?? null;
}

/** The session to show: the chosen one while it has reports, else the one reported on last. */
export function pickSession(sessions: DriftSession[], chosen: string | null): string | null {
  if (chosen !== null && sessions.some((s) => s.session_key === chosen)) return chosen;
  return sessions[0]?.session_key ?? null;
}

/** The console's URL of one report's Evidently HTML. */
export function reportUrl(r: Pick<DriftReport, 'session_key' | 'computed_at'>): string {
  return `/api/drift/report${query({ session_key: r.session_key, computed_at: r.computed_at })}`;
}

/** Live over training error at or above the report's threshold is worth a colour. */
export function ratioTone(r: Pick<DriftReport, 'error_ratio' | 'thresholds'>): string {
  if (r.error_ratio === null) return 'text-zinc-500';
  const limit = r.thresholds.error_ratio ?? 1.5;
  if (r.error_ratio >= limit) return 'text-red-400';
  if (r.error_ratio >= 1 + (limit - 1) / 2) return 'text-amber-300';
  return 'text-zinc-200';
}

export interface PsiBar extends DriftFeature {
  /** the bar's length: PSI, floored so a zero still shows as a sliver */
  value: number;
  over: boolean;
}

/** The inputs largest PSI first, each marked when it reaches the threshold. */
export function psiBars(features: DriftFeature[], threshold: number | null): PsiBar[] {
  return [...features]
    .sort((a, b) => b.psi - a.psi)
    .map((f) => ({ ...f, value: Math.max(f.psi, 1e-4), over: threshold === null ? f.drifted : f.psi >= threshold }));
}

/** Where an alert sits on the session's clock, in words. */
export function clockLabel(a: Pick<TimelineAlert, 'lap' | 'session_time_s' | 'placed_by'>): string {
  if (a.placed_by === 'unplaced') return 'not on the session clock';
  const parts = [];
  if (a.lap !== null) parts.push(a.lap === 0 ? 'before lap 1' : `after lap ${a.lap}`);
  if (a.session_time_s !== null) parts.push(`session time ${formatSessionTime(a.session_time_s)}`);
  return parts.length ? parts.join(' · ') : 'on the session clock';
}

export interface TimelinePoint {
  lap: number;
  /** row of the kind on the chart (drift on top) */
  row: number;
  kind: string;
  index: number;
  alert: TimelineAlert;
}

/** The alerts that have a lap, as points of the timeline chart (x: lap, y: kind). */
export function timelinePoints(t: AlertTimeline | undefined): TimelinePoint[] {
  if (!t) return [];
  return t.events.flatMap((alert, index) =>
    alert.lap === null
      ? []
      : [{ lap: alert.lap, row: alert.kind === 'rollback' ? 0 : alert.kind === 'drift' ? 1 : 2, kind: alert.kind, index, alert }],
  );
}

/** The lap axis: from lap 0 to the last lap seen in the reports or the alerts, at least 10. */
export function lapDomain(points: TimelinePoint[], reports: DriftReport[]): [number, number] {
  const laps = [...points.map((p) => p.lap), ...reports.map((r) => r.last_lap ?? 0)];
  return [0, Math.max(10, ...laps) + 1];
}

/** "12 alerts in the log · 1 unreadable line skipped". */
export function logSummary(log: AlertTimeline['log']): string {
  const alerts = `${log.alerts} alert${log.alerts === 1 ? '' : 's'} in the log`;
  if (log.skipped === 0) return alerts;
  return `${alerts} · ${log.skipped} unreadable line${log.skipped === 1 ? '' : 's'} skipped`;
}

