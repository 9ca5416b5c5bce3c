import { describe, expect, it } from 'vitest';
import {
  answersLine,
  controlsFor,
  defaultSelection,
  filterSessions,
  formatClock,
  landedShare,
  lapText,
  parseSeason,
  parseType,
  replayClock,
  replayFor,
  seasonsOf,
  sliderLap,
  speedChoices,
  speedLabel,
  SPEEDS,
  typesOf,
} from './replay.ts';
import type { ArchivedSession, ReplayStatus } from './types.ts';

const session = (over: Partial<ArchivedSession>): ArchivedSession => ({
  session_key: '2023-09-austrian-grand-prix-race',
  season: 2023,
  round: 9,
  event_name: 'Austrian Grand Prix',
  session_name: 'Race',
  session_type: 'race',
  event_date: '2023-07-02',
  replay: null,
  ...over,
});

const ARCHIVE: ArchivedSession[] = [
  session({}),
  session({ session_key: '2021-21-saudi-arabian-grand-prix-qualifying', season: 2021, round: 21, event_name: 'Saudi Arabian Grand Prix', session_name: 'Qualifying', session_type: 'qualifying' }),
  session({ session_key: '2021-21-saudi-arabian-grand-prix-race', season: 2021, round: 21, event_name: 'Saudi Arabian Grand Prix' }),
  session({ session_key: '2023-10-british-grand-prix-race', round: 10, event_name: 'British Grand Prix' }),
  session({ session_key: '2024-06-chinese-grand-prix-sprint', season: 2024, round: 6, session_name: 'Sprint', session_type: 'sprint' }),
];

const status = (over: Partial<ReplayStatus> = {}): ReplayStatus => ({
  session_key: '2023-09-austrian-grand-prix-race',
  season: 2023,
  event_name: 'Austrian Grand Prix',
  session_name: 'Race',
  session_type: 'race',
  state: 'playing',
  speed: 60,
  session_time_s: 3707.2 + 125,
  start_s: 3707.2,
  end_s: 3707.2 + 5203.6,
  lap: 2,
  laps: 71,
  laps_landed: 40,
  laps_total: 1354,
  predicted: 60,
  contexts: { session: 58, request: 2 },
  session_mae_s: 1.2,
  model_version: '1',
  failed_requests: 0,
  last_error: null,
  started_by: 'abcd1234',
  started_at: '2026-01-01T00:00:00+00:00',
  live: true,
  ...over,
});

describe('the session picker', () => {
  it('lists seasons newest first and types races first, each once', () => {
    expect(seasonsOf(ARCHIVE)).toEqual([2024, 2023, 2021]);
    expect(typesOf(ARCHIVE)).toEqual(['race', 'sprint', 'qualifying']);
    expect(seasonsOf([])).toEqual([]);
  });

  it('filters by season and type, newest round first', () => {
    expect(filterSessions(ARCHIVE, { season: null, type: null }).map((s) => s.session_key)).toEqual([
      '2024-06-chinese-grand-prix-sprint',
      '2023-10-british-grand-prix-race',
      '2023-09-austrian-grand-prix-race',
      '2021-21-saudi-arabian-grand-prix-qualifying',
      '2021-21-saudi-arabian-grand-prix-race',
    ]);
    expect(filterSessions(ARCHIVE, { season: 2021, type: null })).toHaveLength(2);
    expect(filterSessions(ARCHIVE, { season: 2021, type: 'qualifying' }).map((s) => s.session_name)).toEqual(['Qualifying']);
    expect(filterSessions(ARCHIVE, { season: 2024, type: 'race' })).toEqual([]);
  });

  it('reads the filter selects ("" is all)', () => {
    expect(parseSeason('')).toBeNull();
    expect(parseSeason('2023')).toBe(2023);
    expect(parseSeason('20x3')).toBeNull();
    expect(parseType('')).toBeNull();
    expect(parseType('sprint_qualifying')).toBe('sprint_qualifying');
    expect(parseType('testing')).toBeNull();
  });
});

describe('the clock and progress', () => {
  it('formats elapsed session time', () => {
    expect(formatClock(0)).toBe('0:00:00');
    expect(formatClock(65.9)).toBe('0:01:05');
    expect(formatClock(3725.4)).toBe('1:02:05');
    expect(formatClock(-1)).toBe('—');
    expect(formatClock(Number.NaN)).toBe('—');
    expect(formatClock(null)).toBe('—');
  });

  it('counts from the first lap start, never below zero', () => {
    expect(replayClock(status())).toEqual({ elapsed: '0:02:05', duration: '1:26:43' });
    expect(replayClock(status({ session_time_s: 3000 })).elapsed).toBe('0:00:00');
  });

  it('gives the share of laps landed', () => {
    expect(landedShare(status({ laps_landed: 677 }))).toBeCloseTo(0.5);
    expect(landedShare(status({ laps_total: 0 }))).toBe(0);
    expect(landedShare(status({ laps_landed: 2000 }))).toBe(1);
  });

  it('labels speeds and keeps a replay speed that is not a preset', () => {
    expect(speedLabel(300)).toBe('300×');
    expect(speedLabel(0.5)).toBe('0.5×');
    expect(speedChoices(null)).toEqual([...SPEEDS]);
    expect(speedChoices(45)).toContain(45);
    expect(speedChoices(60)).toHaveLength(SPEEDS.length);
  });

  it('says how the service answered', () => {
    expect(answersLine(status())).toBe("60 laps asked · 58 from the session's state · 2 from the request alone");
    expect(answersLine(status({ contexts: {}, predicted: 0, failed_requests: 1 }))).toBe(
      "0 laps asked · 0 from the session's state · 1 failed request",
    );
  });
});

describe('the controls', () => {
  it('offer what the state allows', () => {
    expect(controlsFor(null)).toEqual({ start: true, toggle: null, seek: false, speed: false, stop: false });
    expect(controlsFor('playing')).toMatchObject({ start: false, toggle: 'pause', seek: true, stop: true });
    expect(controlsFor('paused')).toMatchObject({ start: false, toggle: 'resume', seek: true });
    // finished: seek back to play again, or start anew; no pause
    expect(controlsFor('finished')).toMatchObject({ start: true, toggle: null, seek: true, stop: true });
    expect(controlsFor('stopped').seek).toBe(false);
  });

  it('puts the slider at the lap being moved to, else the replay, within the session', () => {
    expect(sliderLap(status(), null)).toBe(2);
    expect(sliderLap(status(), 30)).toBe(30);
    expect(sliderLap(status(), 99)).toBe(71);
    expect(sliderLap(status(), -3)).toBe(0);
    expect(lapText(0, 71)).toBe('start, before lap 1 of 71');
    expect(lapText(12, 71)).toBe('lap 12 of 71');
  });

  it('finds the replay of a session and opens the one playing by default', () => {
    const replays = [status({ session_key: 'a', state: 'paused' }), status({ session_key: 'b' })];
    expect(replayFor(replays, 'a')?.state).toBe('paused');
    expect(replayFor(replays, 'c')).toBeNull();
    expect(replayFor(replays, null)).toBeNull();
    expect(defaultSelection(replays)).toBe('b');
    expect(defaultSelection([status({ session_key: 'a', state: 'finished' })])).toBe('a');
    expect(defaultSelection([])).toBeNull();
  });
});
