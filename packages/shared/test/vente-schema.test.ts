import { describe, expect, it, vi } from 'vitest';
import { MAX_ISSUE_LENGTH, MAX_NUMERO_LENGTH } from '../src/limits.js';
import { isWellFormed, rawNumero, truncateText, validateVente, VenteInputSchema, venteToWire } from '../src/vente-schema.js';

const erreurOf = (raw: unknown) => {
  const result = validateVente(raw);
  if (result.ok) throw new Error('expected a refusal');
  return result.erreur;
};

describe('validateVente', () => {
  it('applies the guide defaults', () => {
    expect(validateVente({ lignes: [{ article_id: 6 }] })).toEqual({
      ok: true,
      vente: {
        numero_facture: null,
        mode_paiement: 'CASH',
        paye: true,
        date_vente: null,
        lignes: [{ article_id: 6, quantite: 1, prix_unitaire: null }],
      },
    });
  });

  it('normalises date_vente to UTC', () => {
    const result = validateVente({ lignes: [{ article_id: 6 }], date_vente: '2025-10-29T03:45:00+01:00' });
    expect(result.ok && result.vente.date_vente).toBe('2025-10-29T02:45:00.000Z');
  });

  it('names every bad field and line in French', () => {
    const result = validateVente({ mode_paiement: 'cash', lignes: [{ article_id: 6 }, { article_id: 6, quantite: 0 }] });
    expect(result).toEqual({
      ok: false,
      erreur:
        'Le champ mode_paiement doit être CASH, MOBILE_MONEY ou CARTE (reçu : "cash") ; Ligne 2 : le champ quantite doit être un entier positif (reçu : 0)',
    });
  });

  it('round-trips through the wire form the relay forwards, prices as exact strings', () => {
    const first = validateVente({ numero_facture: 'A', lignes: [{ article_id: 6, quantite: 3, prix_unitaire: 19.99 }, { article_id: 7 }] });
    if (!first.ok) throw new Error(first.erreur);
    const wire = venteToWire(first.vente);
    expect(wire.lignes).toEqual([{ article_id: 6, quantite: 3, prix_unitaire: '19.99' }, { article_id: 7, quantite: 1 }]);
    expect(validateVente(JSON.parse(JSON.stringify(wire)))).toEqual(first);
  });
});

describe('validateVente: strings that are not well-formed Unicode', () => {
  it.each([
    ['numero_facture', { numero_facture: 'S\ud800' }],
    ['numero_facture', { numero_facture: '\udc00FAC' }],
    ['mode_paiement', { mode_paiement: 'CASH\ud800' }],
    ['date_vente', { date_vente: '2025-10-29T02:45:00Z\ud800' }],
  ])('a lone surrogate in %s is refused, naming the field', (field, change) => {
    const erreur = erreurOf({ lignes: [{ article_id: 6 }], ...change });
    expect(erreur).toContain(`Le champ ${field} contient des caractères invalides (texte Unicode mal formé)`);
    expect(erreur).toMatch(/\\u(d800|dc00)/);
    expect(isWellFormed(erreur)).toBe(true);
  });

  it('a lone surrogate in a line price is refused, naming the line', () => {
    expect(erreurOf({ lignes: [{ article_id: 6, prix_unitaire: '10\ud800' }] })).toContain(
      'Ligne 1 : le champ prix_unitaire contient des caractères invalides',
    );
  });

  it('a numero with a real emoji (a surrogate pair) is accepted', () => {
    expect(validateVente({ numero_facture: 'FAC-😀', lignes: [{ article_id: 6 }] }).ok).toBe(true);
  });

  it('the refused numero is not echoed when it is ill-formed or longer than a numero can be', () => {
    expect(rawNumero({ numero_facture: 'S\ud800' })).toBeNull();
    expect(rawNumero({ numero_facture: 'X'.repeat(MAX_NUMERO_LENGTH + 1) })).toBeNull();
    expect(rawNumero({ numero_facture: 'X'.repeat(MAX_NUMERO_LENGTH) })).toBe('X'.repeat(MAX_NUMERO_LENGTH));
  });
});

describe('validateVente: date_vente', () => {
  it.each(['9999-12-31T23:59:00-23:59', '0000-01-01T00:00:00+01:00'])('%s falls outside years 0000–9999 in UTC: refused', (date) => {
    expect(erreurOf({ lignes: [{ article_id: 6 }], date_vente: date })).toBe(
      `Le champ date_vente doit être une date entre les années 0000 et 9999 (en heure UTC) (reçu : "${date}")`,
    );
  });

  it.each([
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
    ['0000-01-01T00:59:00-01:00', '0000-01-01T01:59:00.000Z'],
  ])('%s is within range', (date, utc) => {
    const result = validateVente({ lignes: [{ article_id: 6 }], date_vente: date });
    expect(result.ok && result.vente.date_vente).toBe(utc);
  });

  it('a date without offset or not in the calendar is refused', () => {
    expect(erreurOf({ lignes: [{ article_id: 6 }], date_vente: '2025-10-29T02:45:00' })).toContain('Le champ date_vente');
    expect(erreurOf({ lignes: [{ article_id: 6 }], date_vente: '2025-02-30T02:45:00Z' })).toContain('Le champ date_vente');
  });
});

describe('validateVente: what a refused sale reports is bounded', () => {
  it('reports at most 5 problems, then counts the rest', () => {
    const lignes = Array.from({ length: 1000 }, () => ({ article_id: 'x', quantite: -1 }));
    const erreur = erreurOf({ numero_facture: 'BAD', lignes });
    expect(erreur.split(' ; ')).toHaveLength(6);
    expect(erreur.endsWith('… et 1995 autre(s) problème(s)')).toBe(true);
  });

  it('quotes at most 40 characters of a bad value, without splitting an emoji', () => {
    const erreur = erreurOf({ mode_paiement: `${'A'.repeat(36)}😀${'B'.repeat(100_000)}`, lignes: [{ article_id: 6 }] });
    expect(erreur).toBe(`Le champ mode_paiement doit être CASH, MOBILE_MONEY ou CARTE (reçu : "${'A'.repeat(36)}...")`);
    expect(erreur.length).toBeLessThanOrEqual(MAX_ISSUE_LENGTH);
  });

  it('describes a bad structure by its kind, never by serialising it', () => {
    expect(erreurOf({ lignes: [{ article_id: 6, prix_unitaire: { a: 1 } }] })).toContain('(reçu : un objet)');
  });

  it('truncateText cuts on a code point boundary', () => {
    expect(truncateText('ab😀cd', 4)).toBe('ab…');
    expect(truncateText('abc', 4)).toBe('abc');
  });
});

describe('validateVente: numero_facture holds only visible characters', () => {
  it.each([
    ['an escape sequence that would retitle a terminal', '\u001b]0;pwned\u0007'],
    ['a NUL', 'FAC\u00001'],
    ['a DEL', 'FAC\u007f1'],
    ['a C1 control (CSI)', 'FAC\u009b1'],
    ['a zero-width space', 'FAC\u200b1'],
    ['a right-to-left override', 'FAC\u202e1'],
    ['a byte-order mark', '\ufeffFAC1'],
  ])('%s is refused as INVALID_SALE, and not echoed', (_label, numero) => {
    expect(erreurOf({ numero_facture: numero, lignes: [{ article_id: 6 }] })).toMatch(
      /^Le champ numero_facture ne doit contenir ni caractère de contrôle ni caractère invisible/,
    );
    expect(rawNumero({ numero_facture: numero })).toBeNull();
  });

  it('accents, spaces and emoji stay accepted', () => {
    for (const numero of ['FAC-é1', 'FAC 001', 'FAC-😀', 'Ç-ñ-ß']) {
      expect(validateVente({ numero_facture: numero, lignes: [{ article_id: 6 }] }).ok).toBe(true);
    }
  });
});

describe('validateVente: the cost of a refused sale', () => {
  it('a refused sale is parsed once, its bad values quoted from the sale as sent', () => {
    const parse = vi.spyOn(VenteInputSchema, 'safeParse');
    try {
      const erreur = erreurOf({ numero_facture: 'X', lignes: [{ article_id: 6 }, { article_id: 'six', quantite: 0, prix_unitaire: '1.234' }] });
      expect(parse).toHaveBeenCalledTimes(1);
      expect(erreur).toContain('Ligne 2 : le champ article_id');
      expect(erreur).toContain('(reçu : "six")');
      expect(erreur).toContain('Ligne 2 : le champ quantite');
      expect(erreur).toContain('(reçu : 0)');
      expect(erreur).toContain('(reçu : "1.234")');
    } finally {
      parse.mockRestore();
    }
  });
});
