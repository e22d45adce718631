import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_TIMER_MS, NETWORK_RETRY, parseRetryAfter, timerDelay } from '../src/backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially from about 1 s and never exceeds the 5 min cap', () => {
    const ceiling = (attempt: number) => backoffDelay(attempt, NETWORK_RETRY, () => 0.999999);
    expect(ceiling(0)).toBe(999);
    expect(ceiling(1)).toBe(1999);
    expect(ceiling(5)).toBe(31_999);
    expect(ceiling(30)).toBe(299_999);
    expect(ceiling(1000)).toBe(299_999);
  });

  it('is fully jittered: anywhere between 0 and the ceiling', () => {
    expect(backoffDelay(4, NETWORK_RETRY, () => 0)).toBe(0);
    expect(backoffDelay(4, NETWORK_RETRY, () => 0.5)).toBe(8_000);
    const samples = Array.from({ length: 200 }, () => backoffDelay(3, NETWORK_RETRY));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(8_000);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-10-29T02:45:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 29 Oct 2025 02:46:00 GMT', now)).toBe(60_000);
  });
  it('never gives a delay a timer cannot take, however large the header', () => {
    expect(parseRetryAfter('99999999999', now)).toBe(MAX_TIMER_MS);
    expect(parseRetryAfter('9'.repeat(400), now)).toBe(MAX_TIMER_MS);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', now)).toBe(MAX_TIMER_MS);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('bientôt', now)).toBeNull();
  });
});

describe('timerDelay', () => {
  it('caps a wait at the given maximum and at what a timer takes, and never goes negative', () => {
    expect(timerDelay(99_999_999_999_000, 300_000)).toBe(300_000);
    expect(timerDelay(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_MS);
    expect(timerDelay(-5)).toBe(0);
    expect(timerDelay(Number.NaN)).toBe(0);
    expect(timerDelay(12.2)).toBe(13);
  });
});
