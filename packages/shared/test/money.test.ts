import { describe, expect, it } from 'vitest';
import { formatMoney, multiplyMoney, parseMoney } from '../src/money.js';

describe('money', () => {
  it.each([
    [40000, 4_000_000],
    ['40000.00', 4_000_000],
    [19.99, 1999],
    ['19.9', 1990],
    [0, 0],
    ['0.01', 1],
    [0.1, 10],
  ])('reads %j as %d centimes', (input, centimes) => {
    expect(parseMoney(input)).toBe(centimes);
  });

  it.each([[-1], ['-1'], [12.345], ['12.345'], ['abc'], [''], [' 12'], ['1e3'], [1e21], [Number.NaN], [Number.POSITIVE_INFINITY], [null], [true], [0.1 + 0.2]])(
    'refuses %j rather than rounding it',
    (input) => {
      expect(parseMoney(input)).toBeNull();
    },
  );

  it('formats centimes with two decimals', () => {
    expect(formatMoney(4_000_000)).toBe('40000.00');
    expect(formatMoney(5997)).toBe('59.97');
    expect(formatMoney(5)).toBe('0.05');
    expect(formatMoney(-150)).toBe('-1.50');
  });

  it('19.99 × 3 = 59.97 exactly, and an unsafe product is refused', () => {
    expect(formatMoney(multiplyMoney(parseMoney(19.99)!, 3)!)).toBe('59.97');
    expect(multiplyMoney(Number.MAX_SAFE_INTEGER, 2)).toBeNull();
  });
});
