/**
 * Money is integer centimes inside and "40000.00" strings outside. Binary floats never enter
 * arithmetic: a number from JSON is read through its shortest decimal text, so 19.99 is 1999
 * centimes, and anything with more than two decimals is refused rather than rounded.
 */
export type Centimes = number;

const MONEY_TEXT = /^(\d{1,13})(?:\.(\d{1,2}))?$/;

export function parseMoney(value: unknown): Centimes | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return null;
    text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    return null;
  }
  const match = MONEY_TEXT.exec(text);
  if (!match) return null;
  const units = Number(match[1]);
  const cents = Number((match[2] ?? '').padEnd(2, '0'));
  return units * 100 + cents;
}

/** A bigint for sums: a day's or a history's total can pass 2^53 centimes (README, money rule). */
export function formatMoney(centimes: Centimes | bigint): string {
  if (typeof centimes === 'bigint') {
    const abs = centimes < 0n ? -centimes : centimes;
    return `${centimes < 0n ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
  }
  const sign = centimes < 0 ? '-' : '';
  const abs = Math.abs(centimes);
  const units = Math.trunc(abs / 100);
  const cents = abs % 100;
  return `${sign}${units}.${String(cents).padStart(2, '0')}`;
}

/** null when the product would leave exact integer arithmetic: refused, never rounded. */
export function multiplyMoney(unitPrice: Centimes, quantite: number): Centimes | null {
  const product = unitPrice * quantite;
  return Number.isSafeInteger(product) ? product : null;
}
