import { describe, expect, it } from 'vitest';
import {
  classStyle,
  clockLabel,
  formatSessionTime,
  formatUtc,
  lapDomain,
  logSummary,
  pickReport,
  pickSession,
  psiBars,
  publishedLabel,
  ratioTone,
  reportsOf,
  reportUrl,
  sessionLabel,
  timelinePoints,
} from './drift.ts';
import type { AlertTimeline, DriftFeature, DriftHistory, DriftReport, TimelineAlert } from './types.ts';

const report = (over: Partial<DriftReport>): DriftReport => ({
  session_key: '2023-03-australian-grand-prix-race',
  champion_version: '1',
  computed_at: '2026-12-01T23:55:04.123456+00:00',
  laps: 600,
  features_compared: 34,
  features_drifted: 10,
  share_drifted: 10 / 34,
  drifted_features: ['air_temp_change_c'],
  live_mae_clean: 0.5,
  train_mae_clean: 1.1,
  error_ratio: 0.45,
  classification: 'data',
  thresholds: { psi: 0.2, share_drifted: 0.6, error_ratio: 1.5, min_laps: 30 },
  last_lap: 58,
  session_time_s: 8000,
  session_start_utc: '2023-04-02T04:00:00+00:00',
  report_current: true,
  ...over,
});

const alert = (over: Partial<TimelineAlert>): TimelineAlert => ({
  at: '2026-12-01T23:55:10+00:00',
  kind: 'drift',
  text: 'drifted',
  details: {},
  session_key: 's',
  lap: 30,
  session_time_s: 3000,
  placed_by: 'report',
  note: '',
  ...over,
});

const feature = (name: string, psi: number, drifted = psi >= 0.2): DriftFeature => ({
  feature: name,
  psi,
  js_distance: 0.1,
  ks_p_value: null,
  drifted,
});

describe('times', () => {
  it('formats a time as UTC', () => {
    expect(formatUtc('2024-05-01T12:00:05.9+00:00')).toBe('2024-05-01 12:00:05 UTC');
    expect(formatUtc(undefined)).toBe('—');
  });
  it('formats session time as m:ss or h:mm:ss', () => {
    expect(formatSessionTime(65.9)).toBe('1:05');
    expect(formatSessionTime(3125.4)).toBe('52:05');
    expect(formatSessionTime(5000)).toBe('1:23:20');
    expect(formatSessionTime(null)).toBe('—');
    expect(formatSessionTime(-1)).toBe('—');
  });
  it('says how old the published copy is, or that there is none', () => {
    const at = '2024-05-01T12:00:00+00:00';
    const base = Date.UTC(2024, 4, 1, 12);
    expect(publishedLabel(at, base + 4_000)).toBe('published 4s ago · 2024-05-01 12:00:00 UTC');
    expect(publishedLabel(at, base + 5 * 60_000)).toMatch(/^published 5m ago/);
    expect(publishedLabel(at, base + 3 * 3_600_000)).toMatch(/^published 3h ago/);
    expect(publishedLabel(at, base + 2 * 86_400_000)).toMatch(/^published 2d ago/);
    expect(publishedLabel(at, base - 10_000)).toMatch(/^published 0s ago/); // a client clock behind
    expect(publishedLabel(null, base)).toBe('nothing published yet');
  });
});

describe('sessions and reports', () => {
  const history: DriftHistory = {
    published_at: '2026-12-01T23:55:05+00:00',
    empty: null,
    sessions: [
      { session_key: 'b', reports: 1, newest: '2026-12-02T00:00:00+00:00', latest_classification: 'none' },
      { session_key: 'a', reports: 2, newest: '2026-12-01T00:00:00+00:00', latest_classification: 'data' },
    ],
    reports: [
      report({ session_key: 'a', computed_at: '2026-12-01T00:00:00+00:00' }),
      report({ session_key: 'b', computed_at: '2026-12-02T00:00:00+00:00' }),
      report({ session_key: 'a', computed_at: '2026-12-01T01:00:00+00:00' }),
    ],
  };
  it("lists one session's reports newest first", () => {
    expect(reportsOf(history, 'a').map((r) => r.computed_at)).toEqual([
      '2026-12-01T01:00:00+00:00',
      '2026-12-01T00:00:00+00:00',
    ]);
    expect(reportsOf(history, null)).toEqual([]);
    expect(reportsOf(undefined, 'a')).toEqual([]);
  });
  it('keeps a choice while it is published, else falls back to the newest', () => {
    const reports = reportsOf(history, 'a');
    expect(pickReport(reports, '2026-12-01T00:00:00+00:00')?.computed_at).toBe('2026-12-01T00:00:00+00:00');
    expect(pickReport(reports, 'gone')?.computed_at).toBe('2026-12-01T01:00:00+00:00');
    expect(pickReport([], null)).toBeNull();
    expect(pickSession(history.sessions, 'a')).toBe('a');
    expect(pickSession(history.sessions, 'nowhere')).toBe('b');
    expect(pickSession([], null)).toBeNull();
  });
  it('names a session by its event, else by its key', () => {
    expect(
      sessionLabel({ session_key: '2023-03-australian-grand-prix-race', event_name: 'Australian Grand Prix', session_name: 'Race' }),
    ).toBe('2023 Australian Grand Prix · Race');
    expect(sessionLabel({ session_key: 'evil', event_name: null, session_name: null })).toBe('evil');
  });
  it('links the report by session and time, encoded', () => {
    expect(reportUrl(report({ session_key: 'a b', computed_at: '2026-12-01T00:00:00+00:00' }))).toBe(
      '/api/drift/report?session_key=a+b&computed_at=2026-12-01T00%3A00%3A00%2B00%3A00',
    );
  });
  it('colours each classification and the error ratio against its threshold', () => {
    expect(classStyle('both').badge).toMatch(/red/);
    expect(classStyle('none').badge).toMatch(/emerald/);
    expect(classStyle('weird').label).toBe('weird');
    expect(ratioTone(report({ error_ratio: 1.6 }))).toMatch(/red/);
    expect(ratioTone(report({ error_ratio: 1.3 }))).toMatch(/amber/);
    expect(ratioTone(report({ error_ratio: 0.9 }))).toMatch(/zinc-200/);
    expect(ratioTone(report({ error_ratio: null }))).toMatch(/zinc-500/);
  });
});

describe('psiBars', () => {
  it('sorts by PSI and marks those at or past the threshold', () => {
    const bars = psiBars([feature('a', 0.1), feature('b', 3.2), feature('c', 0.2), feature('d', 0)], 0.2);
    expect(bars.map((b) => [b.feature, b.over])).toEqual([
      ['b', true],
      ['c', true],
      ['a', false],
      ['d', false],
    ]);
    expect(bars[3]!.value).toBeGreaterThan(0); // a zero still draws a sliver
  });
  it("falls back to the report's own flags without a threshold", () => {
    expect(psiBars([feature('a', 0.1, true)], null)[0]!.over).toBe(true);
  });
});

describe('timeline', () => {
  it('places each alert with a lap on the chart, by kind', () => {
    const t: AlertTimeline = {
      session_key: 's',
      events: [alert({}), alert({ kind: 'rollback', lap: 39, placed_by: 'live predictions' }), alert({ lap: null })],
      unplaced: [],
      log: { path: '/x', alerts: 3, skipped: 0, modified_at: null },
      published_at: { drift_history: null, live_predictions: null },
    };
    const points = timelinePoints(t);
    expect(points.map((p) => [p.lap, p.row, p.index])).toEqual([
      [30, 1, 0],
      [39, 0, 1],
    ]);
    expect(lapDomain(points, [report({ last_lap: 58 })])).toEqual([0, 59]);
    expect(lapDomain([], [])).toEqual([0, 11]);
    expect(timelinePoints(undefined)).toEqual([]);
  });
  it('says where on the clock an alert is', () => {
    expect(clockLabel(alert({}))).toBe('after lap 30 · session time 50:00');
    expect(clockLabel(alert({ lap: 0, session_time_s: null }))).toBe('before lap 1');
    expect(clockLabel(alert({ lap: null, session_time_s: 61 }))).toBe('session time 1:01');
    expect(clockLabel(alert({ placed_by: 'unplaced' }))).toBe('not on the session clock');
  });
  it('counts the log and its unreadable lines', () => {
    expect(logSummary({ path: '', alerts: 1, skipped: 0, modified_at: null })).toBe('1 alert in the log');
    expect(logSummary({ path: '', alerts: 4, skipped: 2, modified_at: null })).toBe(
      '4 alerts in the log · 2 unreadable lines skipped',
    );
  });
});
