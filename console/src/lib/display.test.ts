import { describe, expect, it } from 'vitest';
import {
  compoundShort,
  formatGap,
  formatLapTime,
  freshness,
  isoMs,
  lapFlags,
  predictionLabel,
  promotionsText,
  showBand,
} from './display.ts';
import { pred } from './testData.ts';

describe('formatLapTime', () => {
  it.each([
    [91.234, '1:31.234'],
    [60, '1:00.000'],
    [59.9999, '1:00.000'], // rounding carries into the minute
    [119.9996, '2:00.000'],
    [45.1, '0:45.100'],
    [125.007, '2:05.007'],
    [0, '0:00.000'],
    [91.2345, '1:31.235'],
  ])('%s -> %s', (s, out) => {
    expect(formatLapTime(s)).toBe(out);
  });

  it('shows a dash for missing or non-finite values', () => {
    expect(formatLapTime(null)).toBe('—');
    expect(formatLapTime(undefined)).toBe('—');
    expect(formatLapTime(Number.NaN)).toBe('—');
    expect(formatLapTime(Number.POSITIVE_INFINITY)).toBe('—');
  });
});

describe('formatGap', () => {
  it('formats gaps with sign and milliseconds', () => {
    expect(formatGap(1.2)).toBe('+1.200');
    expect(formatGap(0.0004)).toBe('+0.000');
    expect(formatGap(-0.25)).toBe('-0.250');
    expect(formatGap(null)).toBe('—');
    expect(formatGap(0, true)).toBe('leader');
  });
});

describe('showBand', () => {
  it('is true for a model prediction with both bounds', () => {
    expect(showBand(pred('VER', 1))).toBe(true);
  });

  it('is false when degraded, even with bounds', () => {
    expect(showBand(pred('VER', 1, { degraded: true }))).toBe(false);
  });

  it('is false when a bound is null', () => {
    expect(showBand(pred('VER', 1, { lower: null }))).toBe(false);
    expect(showBand(pred('VER', 1, { upper: null }))).toBe(false);
    expect(showBand(null)).toBe(false);
  });
});

describe('predictionLabel', () => {
  it('labels degraded predictions as baseline', () => {
    expect(predictionLabel(pred('VER', 1, { degraded: true, model_version: null, lower: null, upper: null }))).toBe(
      'baseline, no interval',
    );
    // degraded wins even if bounds were sent
    expect(predictionLabel(pred('VER', 1, { degraded: true }))).toBe('baseline, no interval');
  });

  it('shows version and interval for model predictions', () => {
    expect(predictionLabel(pred('VER', 1, { model_version: '7', lower: 90.5, upper: 91.75 }))).toBe(
      'v7 · 90% 1:30.500–1:31.750',
    );
    expect(predictionLabel(pred('VER', 1, { model_version: '7', lower: null }))).toBe('v7, no interval');
    expect(predictionLabel(null)).toBe('no prediction');
  });
});

describe('freshness', () => {
  it('says how long ago', () => {
    expect(freshness(null, 5000)).toBe('no data yet');
    expect(freshness(1000, 1000)).toBe('updated 0s ago');
    expect(freshness(1000, 13_999)).toBe('updated 12s ago');
    expect(freshness(0, 125_000)).toBe('updated 2m ago');
    expect(freshness(0, 2 * 3_600_000 + 5)).toBe('updated 2h ago');
    expect(freshness(5000, 1000)).toBe('updated 0s ago'); // clock jitter never goes negative
  });
});

describe('lapFlags', () => {
  const l = (track_status: string | null, pit_in = false, pit_out = false) => ({ track_status, pit_in, pit_out });
  it('reads FastF1 track status codes', () => {
    expect(lapFlags(l('1'))).toEqual([]);
    expect(lapFlags(l('2'))).toEqual([]); // yellow flag: not shaded
    expect(lapFlags(l('4'))).toEqual(['sc']);
    expect(lapFlags(l('6'))).toEqual(['vsc']);
    expect(lapFlags(l('7'))).toEqual(['vsc']);
    expect(lapFlags(l('5'))).toEqual(['red']);
    expect(lapFlags(l('2671'))).toEqual(['vsc']);
    expect(lapFlags(l('145'))).toEqual(['sc', 'red']);
    expect(lapFlags(l(null))).toEqual([]);
  });
  it('flags pit in and pit out laps', () => {
    expect(lapFlags(l('1', true))).toEqual(['pit']);
    expect(lapFlags(l('4', false, true))).toEqual(['sc', 'pit']);
  });
});

describe('compoundShort', () => {
  it('abbreviates compounds', () => {
    expect(compoundShort('SOFT')).toBe('S');
    expect(compoundShort('intermediate')).toBe('I');
    expect(compoundShort('WET')).toBe('W');
    expect(compoundShort(null)).toBe('?');
  });
});

describe('promotionsText', () => {
  it('lists the champions in promotion order and the versions rolled back', () => {
    expect(promotionsText({ champions: ['1', '3'], rolled_back: ['2'] })).toBe('v1 → v3 · rolled back v2');
    expect(promotionsText({ champions: ['4'], rolled_back: [] })).toBe('v4');
  });
  it('says nothing for a card without them or with the wrong shape', () => {
    expect(promotionsText(null)).toBe('');
    expect(promotionsText({ champions: 'v1', rolled_back: [{}] })).toBe('');
  });
});

describe('isoMs', () => {
  it('reads a naive warehouse time as UTC and keeps an explicit offset', () => {
    expect(isoMs('2024-05-01T12:00:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(isoMs('2024-05-01T12:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(isoMs('2024-05-01T12:00:00.123456+00:00')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
    expect(isoMs(null)).toBeNull();
    expect(isoMs('lap 30')).toBeNull();
  });
});
