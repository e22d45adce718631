import { describe, expect, it } from 'vitest';
import { createNumeroGenerator, generateNumero } from '../src/numero.js';

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

describe('createNumeroGenerator', () => {
  const at = new Date('2025-10-29T02:45:00.000Z');

  it('many numeros generated in one second are all unique, at one lookup each', () => {
    const stored = new Set<string>();
    let lookups = 0;
    const isTaken = (n: string) => {
      lookups++;
      return stored.has(n);
    };
    const generate = createNumeroGenerator();
    for (let i = 0; i < 1_000; i++) stored.add(generate(2, at, 0, isTaken));
    expect(stored.size).toBe(1_000);
    expect([...stored].slice(0, 3)).toEqual(['VENTE-2-20251029024500-0', 'VENTE-2-20251029024500-0-1', 'VENTE-2-20251029024500-0-2']);
    expect(lookups).toBe(1_000);
  });

  it('still asks storage: numeros written before a restart or by another process are skipped', () => {
    const stored = new Set(['VENTE-2-20251029024500-0', 'VENTE-2-20251029024500-0-1']);
    const isTaken = (n: string) => stored.has(n);
    const generate = createNumeroGenerator();
    expect(generate(2, at, 0, isTaken)).toBe('VENTE-2-20251029024500-0-2');
    // Another process takes the next one meanwhile.
    stored.add('VENTE-2-20251029024500-0-3');
    expect(generate(2, at, 0, isTaken)).toBe('VENTE-2-20251029024500-0-4');
  });

  it('starts afresh in the next second, and forgets the oldest base past its bound', () => {
    const generate = createNumeroGenerator(2);
    const taken = new Set<string>();
    const isTaken = (n: string) => taken.has(n);
    const give = (index: number, date = at) => {
      const n = generate(2, date, index, isTaken);
      taken.add(n);
      return n;
    };
    give(0);
    give(1);
    give(2); // forgets index 0's suffix: the next one is found by lookups, still free
    expect(give(0)).toBe('VENTE-2-20251029024500-0-1');
    expect(give(1)).toBe('VENTE-2-20251029024500-1-1');
    expect(give(0, new Date('2025-10-29T02:45:01.000Z'))).toBe('VENTE-2-20251029024501-0');
  });
});
