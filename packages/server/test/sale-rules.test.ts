import type { VenteNormalisee } from '@ventesync/shared';
import { describe, expect, it } from 'vitest';
import type { ArticleRow } from '../src/catalogue-store.js';
import { dailyTotalRefusal, MAX_CHIFFRES_JOUR_CENTIMES, priceSale, saleDates, saleDay, takeStock } from '../src/sale-rules.js';

const savon: ArticleRow = { id: 9, boutique_id: 2, nom: 'Savon', prix_vente: 1999, quantite_stock: 3 };
const chargeur: ArticleRow = { id: 10, boutique_id: 2, nom: 'Chargeur', prix_vente: 500_000, quantite_stock: 1 };
const articles = new Map([savon, chargeur].map((a) => [a.id, a]));

function vente(lignes: Array<[number, number]>): VenteNormalisee {
  return {
    numero_facture: 'R-1',
    mode_paiement: 'CASH',
    paye: true,
    date_vente: null,
    lignes: lignes.map(([article_id, quantite]) => ({ article_id, quantite, prix_unitaire: null })),
  };
}

function priced(v: VenteNormalisee) {
  const p = priceSale(v, 'Boutique', (id) => articles.get(id));
  if ('code' in p) throw new Error(p.erreur);
  return p;
}

describe('sale rules', () => {
  it('prices from the article unless the till gave a price, and refuses an unknown article by its line', () => {
    expect(priced(vente([[9, 2]])).montant).toBe(3998);
    expect(priceSale(vente([[9, 1], [99, 1]]), 'Boutique', (id) => articles.get(id))).toEqual({
      code: 'ARTICLE_NOT_FOUND',
      erreur: "Ligne 2 : l'article 99 n'existe pas dans la boutique Boutique",
    });
    const huge = vente([[10, 1]]);
    huge.lignes[0]!.prix_unitaire = Number.MAX_SAFE_INTEGER;
    huge.lignes.push({ article_id: 10, quantite: 1, prix_unitaire: 1 });
    expect(priceSale(huge, 'Boutique', (id) => articles.get(id))).toMatchObject({ code: 'INVALID_SALE' });
  });

  it('a sale short on its second line is refused whole: the stock keeps its first line too', () => {
    const v = vente([[9, 2], [10, 2]]);
    const stock = new Map([[9, 3], [10, 1]]);
    expect(takeStock(v, priced(v), stock, false)).toEqual({
      code: 'INSUFFICIENT_STOCK',
      erreur: 'Stock insuffisant pour Chargeur : demandé 2, disponible 1',
    });
    expect([...stock]).toEqual([[9, 3], [10, 1]]);
  });

  it('allowed below zero, the shortfall counts the sale’s lines of the article together, at most what it took', () => {
    const v = vente([[9, 2], [9, 2], [10, 1]]);
    const stock = new Map([[9, 3], [10, -4]]);
    const taken = takeStock(v, priced(v), stock, true);
    expect(taken).toMatchObject({
      avertissements: [
        { code: 'STOCK_NEGATIF', article_id: 9, manque: 1 },
        { code: 'STOCK_NEGATIF', article_id: 10, manque: 1 },
      ],
    });
    expect([...stock]).toEqual([[9, -1], [10, -5]]);
  });

  it('a till date more than ten minutes ahead is replaced by the reception time, the till value kept', () => {
    const received = '2025-10-29T02:45:00.000Z';
    const latest = '2025-10-29T02:55:00.000Z';
    expect(saleDates('2025-10-29T02:55:00.000Z', received, latest)).toEqual({ dateVente: '2025-10-29T02:55:00.000Z', dateCaisse: null });
    expect(saleDates('2025-10-29T02:55:00.001Z', received, latest)).toEqual({ dateVente: received, dateCaisse: '2025-10-29T02:55:00.001Z' });
    expect(saleDates(null, received, latest)).toEqual({ dateVente: received, dateCaisse: null });
  });

  it('the local day follows the boutique zone; the daily total stops at 2^63 - 1 centimes', () => {
    expect(saleDay('2025-10-29T23:30:00.000Z', 'UTC')).toBe('2025-10-29');
    expect(saleDay('2025-10-29T23:30:00.000Z', 'Africa/Kinshasa')).toBe('2025-10-30');
    expect(dailyTotalRefusal(MAX_CHIFFRES_JOUR_CENTIMES - 10n, 10, '2025-10-29', 'CASH')).toBeNull();
    expect(dailyTotalRefusal(MAX_CHIFFRES_JOUR_CENTIMES - 10n, 11, '2025-10-29', 'CASH')).toEqual({
      code: 'INVALID_SALE',
      erreur: 'Total du jour 2025-10-29 (CASH) trop élevé',
    });
  });
});
