import { describe, expect, it } from 'vitest';
import { backoffDelay, NETWORK_RETRY, parseRetryAfter } from '../src/backoff.js';

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
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('bientôt', now)).toBeNull();
  });
});
