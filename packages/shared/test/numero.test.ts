import { describe, expect, it } from 'vitest';
import { generateNumero } from '../src/numero.js';

describe('generateNumero', () => {
  const at = new Date('2025-10-29T02:45:00.000Z');

  it("follows the guide's format VENTE-{boutique}-{YYYYMMDDHHMMSS UTC}-{index}", () => {
    expect(generateNumero(2, at, 0)).toBe('VENTE-2-20251029024500-0');
  });

  it('adds a suffix until the numero is free', () => {
    const taken = new Set(['VENTE-2-20251029024500-3', 'VENTE-2-20251029024500-3-1']);
    expect(generateNumero(2, at, 3, (n) => taken.has(n))).toBe('VENTE-2-20251029024500-3-2');
  });
});
