import { describe, expect, it } from 'vitest';
import { parseHash, roleAllows, routeHash } from './route.ts';

describe('parseHash / routeHash', () => {
  it('reads a live session, keeping slashes and escapes', () => {
    expect(parseHash('#/session/2023-09-austrian%20grand-prix-race')).toEqual({
      page: 'live',
      session: '2023-09-austrian grand-prix-race',
    });
  });
  it('reads each page and falls back to the live picker', () => {
    expect(parseHash('#/history')).toEqual({ page: 'history', session: null });
    expect(parseHash('#/admin')).toEqual({ page: 'admin', session: null });
    expect(parseHash('')).toEqual({ page: 'live', session: null });
    expect(parseHash('#/nonsense')).toEqual({ page: 'live', session: null });
    expect(parseHash('#/session/%E0%A4%A')).toEqual({ page: 'live', session: null });
  });
  it('round-trips', () => {
    for (const hash of ['#/session/a%2Fb', '#/replay', '#/drift', '']) expect(routeHash(parseHash(hash))).toBe(hash);
  });
});

describe('roleAllows', () => {
  it('orders viewer < engineer < admin', () => {
    expect(roleAllows('viewer', 'engineer')).toBe(false);
    expect(roleAllows('engineer', 'engineer')).toBe(true);
    expect(roleAllows('admin', 'engineer')).toBe(true);
    expect(roleAllows('engineer', 'admin')).toBe(false);
  });
});
