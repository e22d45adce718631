import { describe, expect, it } from 'vitest';
import { fitTable, wrap } from '../src/fit-table.js';

const columns = [
  { key: 'numero', title: 'NUMERO' },
  { key: 'montant', title: 'MONTANT', right: true },
  { key: 'raison', title: 'RAISON', flex: true },
] as const;
const long = "Ligne 2 : l'article 7 n'existe pas dans la boutique Ma Boutique du Grand Marché, vérifiez le catalogue";

describe('tables that fit a terminal window', () => {
  it('wraps the flex column instead of widening the table', () => {
    const text = fitTable([{ numero: 'FAC-0001', montant: '105000.00', raison: long }], [...columns], 60);
    const lines = text.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(60);
    expect(lines[0]).toMatch(/^NUMERO\s+MONTANT\s+RAISON$/);
    expect(lines.slice(2).join(' ').replace(/\s+/g, ' ')).toContain(long);
  });

  it('puts the text under its row when the other columns leave too little room', () => {
    const text = fitTable([{ numero: 'VENTE-2-20251029024500-0-Rabcdef-très-long', montant: '5.00', raison: long }], [...columns], 60);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^NUMERO\s+MONTANT$/);
    expect(lines[3]).toMatch(/^ {4}Ligne 2/);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(60);
  });

  it('a numero too long for the row goes on a line of its own, and the table fits 80 columns', () => {
    const numero = 'N'.repeat(64);
    const pending = [
      { key: 'numero', title: 'NUMERO', ownLine: true },
      { key: 'montant', title: 'MONTANT', right: true },
      { key: 'recue', title: 'RECUE' },
      { key: 'raison', title: 'SITUATION', flex: true },
    ] as const;
    const text = fitTable([{ numero, montant: '99999999.99', recue: '25/11 10:00', raison: long }], [...pending], 80);
    const lines = text.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines).toContain(numero);
    expect(text).toContain('99999999.99');
    expect(text.replace(/\s+/g, ' ')).toContain(long);
  });

  it('keeps every cell on one line when the width is unlimited (--wide)', () => {
    const text = fitTable([{ numero: 'FAC-0001', montant: '1.00', raison: long }], [...columns], Number.POSITIVE_INFINITY);
    expect(text.split('\n')).toHaveLength(3);
  });

  it('cuts words only when a word is longer than the line', () => {
    expect(wrap('un deux trois', 7)).toEqual(['un deux', 'trois']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('fitTable and data from the tills', () => {
  it('a control character in a cell is shown escaped, never sent to the terminal', () => {
    const table = fitTable([{ numero: '\u001b]0;pwned\u0007' }], [{ key: 'numero', title: 'NUMERO' }]);
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(table).toContain('\\u001b]0;pwned\\u0007');
  });
});
