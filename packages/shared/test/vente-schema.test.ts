import { describe, expect, it } from 'vitest';
import { validateVente, venteToWire } from '../src/vente-schema.js';

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
