import { describe, expect, it } from 'vitest';
import { isSameSale, legacyVenteFingerprint, venteFingerprint } from '../src/fingerprint.js';
import type { VenteNormalisee } from '../src/vente-schema.js';

const base: VenteNormalisee = {
  numero_facture: 'A',
  mode_paiement: 'CASH',
  paye: true,
  date_vente: null,
  lignes: [
    { article_id: 6, quantite: 1, prix_unitaire: 4_000_000 },
    { article_id: 7, quantite: 2, prix_unitaire: null },
  ],
};

describe('venteFingerprint', () => {
  it('ignores the numero and the order of the lines', () => {
    const same = { ...base, numero_facture: 'B', lignes: [...base.lignes].reverse() };
    expect(venteFingerprint(same)).toBe(venteFingerprint(base));
  });

  it.each([
    ['the mode', { mode_paiement: 'CARTE' as const }],
    ['paye', { paye: false }],
    ['a quantity', { lignes: [{ article_id: 6, quantite: 2, prix_unitaire: 4_000_000 }, base.lignes[1]!] }],
    ['a price', { lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 3_900_000 }, base.lignes[1]!] }],
    ['a price given where there was none', { lignes: [base.lignes[0]!, { article_id: 7, quantite: 2, prix_unitaire: 2_500_000 }] }],
    ['a date given where there was none', { date_vente: '2025-10-29T00:00:00.000Z' }],
  ])('changes with %s', (_label, change) => {
    expect(venteFingerprint({ ...base, ...change })).not.toBe(venteFingerprint(base));
  });
});

describe('isSameSale', () => {
  const stored = { serial: 'caisse-1', empreinte: venteFingerprint(base), date_vente: '2025-10-29T02:45:00.000Z' };

  it('needs the same terminal as well as the same content', () => {
    expect(isSameSale(stored, 'caisse-1', base, venteFingerprint(base))).toBe(true);
    expect(isSameSale(stored, 'caisse-2', base, venteFingerprint(base))).toBe(false);
  });

  it('reads a fingerprint of the first version (no date in it) with the stored date', () => {
    const dated = { ...base, date_vente: '2025-10-29T01:00:00.000Z' };
    const old = { serial: 'caisse-1', empreinte: legacyVenteFingerprint(dated), date_vente: dated.date_vente };
    expect(old.empreinte).not.toContain(':');
    expect(isSameSale(old, 'caisse-1', dated, venteFingerprint(dated))).toBe(true);
    expect(isSameSale(old, 'caisse-1', base, venteFingerprint(base))).toBe(true);
    expect(isSameSale(old, 'caisse-1', { ...dated, date_vente: '2025-10-29T01:00:01.000Z' }, 'x')).toBe(false);
    expect(isSameSale(old, 'caisse-1', { ...dated, paye: false }, 'x')).toBe(false);
  });
});
