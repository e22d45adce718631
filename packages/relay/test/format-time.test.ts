import { describe, expect, it } from 'vitest';
import { formatDateTime, formatWhen } from '../src/format-time.js';

const now = new Date('2025-11-25T09:30:00Z');
const at = (iso: string, utc = true) => formatWhen(iso, { now, utc });

describe('times as staff read them', () => {
  it('near now: "il y a 3 min", "il y a 12 s", "dans 4 min"', () => {
    expect(at('2025-11-25T09:27:00Z')).toBe('il y a 3 min');
    expect(at('2025-11-25T09:29:48Z')).toBe('il y a 12 s');
    expect(at('2025-11-25T09:34:00Z')).toBe('dans 4 min');
  });

  it("further away: today, yesterday, tomorrow, else the date, with UTC said when asked for", () => {
    expect(at('2025-11-25T06:05:00Z')).toBe("aujourd'hui 06:05 UTC");
    expect(at('2025-11-24T18:05:00Z')).toBe('hier 18:05 UTC');
    expect(at('2025-11-26T08:00:00Z')).toBe('demain 08:00 UTC');
    expect(at('2025-10-01T08:00:00Z')).toBe('01/10/2025 08:00 UTC');
  });

  it("in the machine's zone by default (the process's TZ)", () => {
    // Vitest runs in the machine's zone: the local rendering differs from UTC only by that zone.
    const local = formatDateTime('2025-10-01T08:00:00Z', false);
    const expected = new Date('2025-10-01T08:00:00Z').toLocaleString('fr-FR', { hourCycle: 'h23' }).replace(',', '');
    expect(local).toBe(expected);
    expect(formatDateTime('2025-10-01T08:00:00Z', true)).toBe('01/10/2025 08:00:00 UTC');
  });

  it('nothing, or unreadable text, is shown as it is', () => {
    expect(at('')).toBe('');
    expect(formatWhen(null, { now, utc: false })).toBe('');
    expect(at('pas une date')).toBe('pas une date');
  });
});
