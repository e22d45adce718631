import { describe, expect, it } from 'vitest';
import {
  checkFuseau,
  localDayBounds,
  localDayOf,
  localDayStartMs,
  nextDay,
  parseDay,
  zoneOffsetMs,
} from '../src/local-day.js';

describe('checkFuseau', () => {
  it('accepts IANA zone names and stores them as the database spells them', () => {
    expect(checkFuseau('Africa/Kinshasa')).toEqual({ ok: true, fuseau: 'Africa/Kinshasa' });
    expect(checkFuseau('africa/lubumbashi')).toEqual({ ok: true, fuseau: 'Africa/Lubumbashi' });
    expect(checkFuseau('UTC')).toEqual({ ok: true, fuseau: 'UTC' });
    expect(checkFuseau('Europe/Paris')).toEqual({ ok: true, fuseau: 'Europe/Paris' });
  });

  it('refuses a zone that does not exist, an offset, blanks and non-text, with a code and a French reason', () => {
    for (const bad of ['Africa/Atlantis', '+01:00', 'UTC+1', '', ' UTC', 'Africa/Kinshasa ', 42, null, 'x'.repeat(65)]) {
      const check = checkFuseau(bad);
      expect(check.ok, String(bad)).toBe(false);
      if (!check.ok) {
        expect(check.code).toBe('INVALID_FUSEAU');
        expect(check.erreur).toMatch(/^Fuseau horaire invalide/);
      }
    }
    const atlantis = checkFuseau('Africa/Atlantis');
    expect(!atlantis.ok && atlantis.erreur).toContain("n'existe pas");
  });
});

describe('localDayOf', () => {
  it('puts a sale at 00:30 in Kinshasa (+1) on the local day, not the UTC one', () => {
    // 00:30 local on the 29th is 23:30 UTC on the 28th.
    expect(localDayOf('2025-10-28T23:30:00.000Z', 'Africa/Kinshasa')).toBe('2025-10-29');
    expect(localDayOf('2025-10-28T23:30:00.000Z', 'UTC')).toBe('2025-10-28');
    // One millisecond before local midnight is still the 28th.
    expect(localDayOf('2025-10-28T22:59:59.999Z', 'Africa/Kinshasa')).toBe('2025-10-28');
    expect(localDayOf('2025-10-28T23:00:00.000Z', 'Africa/Kinshasa')).toBe('2025-10-29');
  });

  it('moves the boundary two hours in Lubumbashi (+2)', () => {
    expect(localDayOf('2025-10-28T21:59:59.999Z', 'Africa/Lubumbashi')).toBe('2025-10-28');
    expect(localDayOf('2025-10-28T22:00:00.000Z', 'Africa/Lubumbashi')).toBe('2025-10-29');
    expect(localDayOf('2025-10-28T22:30:00.000Z', 'Africa/Kinshasa')).toBe('2025-10-28');
  });

  it('follows summer time in Europe/Paris (+2 in summer, +1 in winter)', () => {
    expect(localDayOf('2025-07-14T22:00:00.000Z', 'Europe/Paris')).toBe('2025-07-15');
    expect(localDayOf('2025-07-14T21:59:59.999Z', 'Europe/Paris')).toBe('2025-07-14');
    expect(localDayOf('2025-12-24T23:00:00.000Z', 'Europe/Paris')).toBe('2025-12-25');
    expect(localDayOf('2025-12-24T22:59:59.999Z', 'Europe/Paris')).toBe('2025-12-24');
  });

  it('reads the same day through its cache, whatever order instants come in', () => {
    const instants = ['2025-03-30T00:59:59.999Z', '2025-03-30T01:00:00.000Z', '2025-03-29T23:00:00.000Z', '2025-03-29T22:59:00.000Z'];
    const first = instants.map((t) => localDayOf(t, 'Europe/Paris'));
    const again = [...instants].reverse().map((t) => localDayOf(t, 'Europe/Paris')).reverse();
    expect(again).toEqual(first);
    expect(first).toEqual(['2025-03-30', '2025-03-30', '2025-03-30', '2025-03-29']);
  });

  it('takes milliseconds as well as ISO text with an offset', () => {
    expect(localDayOf(Date.parse('2025-10-29T00:30:00+01:00'), 'Africa/Kinshasa')).toBe('2025-10-29');
    expect(localDayOf('2025-10-29T00:30:00+01:00', 'UTC')).toBe('2025-10-28');
  });
});

describe('zoneOffsetMs', () => {
  it('gives the offset of the zone at that instant', () => {
    expect(zoneOffsetMs('Africa/Kinshasa', Date.parse('2025-10-29T12:00:00Z'))).toBe(3_600_000);
    expect(zoneOffsetMs('Africa/Lubumbashi', Date.parse('2025-10-29T12:00:00Z'))).toBe(7_200_000);
    expect(zoneOffsetMs('Europe/Paris', Date.parse('2025-07-01T12:00:00Z'))).toBe(7_200_000);
    expect(zoneOffsetMs('UTC', Date.parse('0050-06-01T12:00:00Z'))).toBe(0);
  });
});

describe('localDayBounds', () => {
  it('gives the UTC instants of a local day in Kinshasa and Lubumbashi', () => {
    expect(localDayBounds('2025-10-29', 'Africa/Kinshasa')).toEqual({
      from: '2025-10-28T23:00:00.000Z',
      to: '2025-10-29T23:00:00.000Z',
    });
    expect(localDayBounds('2025-10-29', 'Africa/Lubumbashi')).toEqual({
      from: '2025-10-28T22:00:00.000Z',
      to: '2025-10-29T22:00:00.000Z',
    });
    expect(localDayBounds('2025-10-29', 'UTC')).toEqual({ from: '2025-10-29T00:00:00.000Z', to: '2025-10-30T00:00:00.000Z' });
  });

  it('makes the day of a clock change 23 or 25 hours long in Europe/Paris', () => {
    expect(localDayBounds('2025-03-30', 'Europe/Paris')).toEqual({ from: '2025-03-29T23:00:00.000Z', to: '2025-03-30T22:00:00.000Z' });
    expect(localDayBounds('2025-10-26', 'Europe/Paris')).toEqual({ from: '2025-10-25T22:00:00.000Z', to: '2025-10-26T23:00:00.000Z' });
  });

  it('starts a day whose midnight the clocks skip at its first real instant', () => {
    // Chile moves its clocks from 00:00 to 01:00 in September: that day starts at 01:00 local.
    const start = localDayStartMs('2025-09-07', 'America/Santiago');
    expect(new Date(start).toISOString()).toBe('2025-09-07T04:00:00.000Z');
    expect(localDayOf(start, 'America/Santiago')).toBe('2025-09-07');
    expect(localDayOf(start - 1, 'America/Santiago')).toBe('2025-09-06');
  });

  it('agrees with localDayOf at both ends, for every day of a year in a DST zone', () => {
    let day = '2025-01-01';
    while (day < '2026-01-01') {
      const { from, to } = localDayBounds(day, 'Europe/Paris');
      expect(localDayOf(from, 'Europe/Paris')).toBe(day);
      expect(localDayOf(Date.parse(from) - 1, 'Europe/Paris')).not.toBe(day);
      expect(localDayOf(Date.parse(to) - 1, 'Europe/Paris')).toBe(day);
      day = nextDay(day);
    }
  });
});

describe('parseDay', () => {
  it('accepts real calendar days only', () => {
    expect(parseDay('2024-02-29')).toBe('2024-02-29');
    expect(parseDay('2025-02-29')).toBeNull();
    expect(parseDay('2025-13-01')).toBeNull();
    expect(parseDay('25-10-29')).toBeNull();
    expect(parseDay('2025-10-29T00:00')).toBeNull();
  });
});
