import { describe, expect, it } from 'vitest';
import { formatCreated, keyNameProblem, reloadSummary, revokeBlocked, sortKeys } from './admin.ts';
import type { ApiKey, ModelInfo } from './types.ts';

const key = (over: Partial<ApiKey>): ApiKey => ({
  key_id: 'a1b2c3d4',
  role: 'viewer',
  name: 'pit wall',
  created: '2026-12-01T23:39:20+00:00',
  yours: false,
  console: false,
  ...over,
});

const model = (over: Partial<ModelInfo>): ModelInfo => ({
  serving: '3',
  degraded: false,
  last_error: null,
  online_store: { backend: 'memory', available: true, error: null },
  card: null,
  ...over,
});

describe('keyNameProblem', () => {
  it('wants a name, trimmed, of at most 80 code points', () => {
    expect(keyNameProblem('pit wall laptop 2')).toBeNull();
    expect(keyNameProblem('   ')).toMatch(/required/);
    expect(keyNameProblem('x'.repeat(80))).toBeNull();
    expect(keyNameProblem(`  ${'x'.repeat(80)}  `)).toBeNull();
    expect(keyNameProblem('x'.repeat(81))).toMatch('81 characters long; at most 80');
    expect(keyNameProblem('🏎'.repeat(80))).toBeNull(); // 2 UTF-16 units each, one code point
  });
  it('refuses control characters', () => {
    expect(keyNameProblem('a\tb')).toMatch(/control characters/);
    expect(keyNameProblem('a\nb')).toMatch(/control characters/);
    expect(keyNameProblem('Pérez – strategy')).toBeNull();
  });
});

describe('formatCreated', () => {
  it('shows minutes in UTC, and an unparsable value as it came', () => {
    expect(formatCreated('2026-12-01T23:39:20+00:00')).toBe('2026-12-01 23:39 UTC');
    expect(formatCreated('2026-12-02T01:39:20+02:00')).toBe('2026-12-01 23:39 UTC');
    expect(formatCreated('yesterday')).toBe('yesterday');
  });
});

describe('revokeBlocked', () => {
  it("says why your own key and the console's cannot be revoked here", () => {
    expect(revokeBlocked(key({}))).toBeNull();
    expect(revokeBlocked(key({ yours: true }))).toMatchObject({ label: 'your key', reason: /signed in with this key/ });
    expect(revokeBlocked(key({ console: true }))?.reason).toMatch(/f1 api-key revoke/);
  });
});

describe('sortKeys', () => {
  it('puts the newest first, ties by id, without touching its input', () => {
    const keys = [
      key({ key_id: 'old', created: '2026-01-01T00:00:00+00:00' }),
      key({ key_id: 'bbb', created: '2026-12-01T00:00:00+00:00' }),
      key({ key_id: 'aaa', created: '2026-12-01T00:00:00+00:00' }),
    ];
    expect(sortKeys(keys).map((k) => k.key_id)).toEqual(['aaa', 'bbb', 'old']);
    expect(keys[0]?.key_id).toBe('old');
  });
});

describe('reloadSummary', () => {
  it('names the version served, warns of a loading error, and says when degraded', () => {
    expect(reloadSummary(model({}))).toEqual({ tone: 'ok', headline: 'champion reloaded: serving v3', detail: null });
    expect(reloadSummary(model({ last_error: 'v4 failed to load' }))).toMatchObject({
      tone: 'warn',
      detail: 'last loading error: v4 failed to load',
    });
    expect(reloadSummary(model({ serving: null, degraded: true })).tone).toBe('bad');
    expect(reloadSummary(model({ serving: null, degraded: true })).headline).toMatch(/baseline/);
  });
});
