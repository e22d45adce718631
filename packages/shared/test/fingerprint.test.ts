import { describe, expect, it } from 'vitest';
import { venteFingerprint } from '../src/fingerprint.js';
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
  it('ignores the numero, the date and the order of the lines', () => {
    const same = { ...base, numero_facture: 'B', date_vente: '2025-10-29T00:00:00.000Z', lignes: [...base.lignes].reverse() };
    expect(venteFingerprint(same)).toBe(venteFingerprint(base));
  });

  it.each([
    ['the mode', { mode_paiement: 'CARTE' as const }],
    ['paye', { paye: false }],
    ['a quantity', { lignes: [{ article_id: 6, quantite: 2, prix_unitaire: 4_000_000 }, base.lignes[1]!] }],
    ['a price', { lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 3_900_000 }, base.lignes[1]!] }],
    ['a price given where there was none', { lignes: [base.lignes[0]!, { article_id: 7, quantite: 2, prix_unitaire: 2_500_000 }] }],
  ])('changes with %s', (_label, change) => {
    expect(venteFingerprint({ ...base, ...change })).not.toBe(venteFingerprint(base));
  });
});
