import { describe, expect, it } from 'vitest';
import { formatTable, printable } from '../src/cli/index.js';

describe('tables for people', () => {
  it('control and invisible characters from the data are shown escaped, never sent to the terminal', () => {
    const table = formatTable(
      [{ numero: '\u001b]0;pwned\u0007', nom: 'Caisse\u200b\u009b1' }],
      [['numero', 'NUMERO'], ['nom', 'NOM']],
    );
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b]/);
    expect(table).toContain('\\u001b]0;pwned\\u0007');
    expect(table).toContain('Caisse\\u200b\\u009b1');
  });

  it('accents and emoji are shown as they are', () => {
    expect(printable('Écouteurs 😀 ñ')).toBe('Écouteurs 😀 ñ');
  });
});
