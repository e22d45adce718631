import { describe, expect, it } from 'vitest';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';
import { importFixture } from '../src/fixture-import.js';
import { TEST_FIXTURE } from './helpers.js';

const NOW = new Date('2025-10-01T00:00:00Z');

function snapshot(db: ReturnType<typeof openDatabase>) {
  return ['boutiques', 'terminaux', 'articles', 'mouvements_stock'].map((table) => db.prepare(`SELECT * FROM ${table}`).all());
}

describe('importFixture', () => {
  it('loads boutiques, terminals and articles, and the stock as ENTREE movements', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    expect(importFixture(db, catalogue, TEST_FIXTURE, NOW)).toEqual({ ok: true, boutiques: 2, terminaux: 4, articles: 5 });
    expect(catalogue.getArticle(6)).toEqual({ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: 4000000, quantite_stock: 100 });
    expect(catalogue.listMouvements(6, 10)).toMatchObject([{ type: 'ENTREE', quantite: 100, stock_avant: 0, stock_apres: 100 }]);
  });

  it('updates by id and serial on a second import; a changed stock is an AJUSTEMENT', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    importFixture(db, catalogue, TEST_FIXTURE, NOW);
    const result = importFixture(
      db,
      catalogue,
      {
        terminaux: [{ serial: '0a1badae951f8473', nom: 'Caisse renommée', boutique_id: 2, actif: false }],
        articles: [{ id: 6, boutique_id: 2, nom: 'Samsung S24 Ultra', prix_vente: 45000, stock: 90 }],
      },
      NOW,
    );
    expect(result.ok).toBe(true);
    expect(catalogue.getTerminal('0a1badae951f8473')).toMatchObject({ nom: 'Caisse renommée', actif: false });
    expect(catalogue.getArticle(6)).toMatchObject({ nom: 'Samsung S24 Ultra', prix_vente: 4500000, quantite_stock: 90 });
    expect(catalogue.listMouvements(6, 1)).toMatchObject([{ type: 'AJUSTEMENT', quantite: -10, stock_apres: 90 }]);
  });

  it.each([
    ['a negative stock', { articles: [{ id: 6, boutique_id: 2, nom: 'X', prix_vente: '1.00', stock: -1 }] }, 'articles[0].stock'],
    ['a price with 3 decimals', { articles: [{ id: 6, boutique_id: 2, nom: 'X', prix_vente: '1.005' }] }, 'articles[0].prix_vente'],
    ['a terminal without serial', { terminaux: [{ nom: 'X', boutique_id: 2 }] }, 'terminaux[0].serial'],
    ['an unknown boutique', { terminaux: [{ serial: 's', nom: 'X', boutique_id: 99 }] }, 'terminaux[0]'],
    ['an article moving boutique', { articles: [{ id: 8, boutique_id: 2, nom: 'X', prix_vente: 1 }] }, 'articles[0]'],
    ['not an object', [1, 2, 3], 'objet'],
  ])('a file with %s is refused whole, naming the entry, and changes nothing', (_label, bad, where) => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    importFixture(db, catalogue, TEST_FIXTURE, NOW);
    const before = snapshot(db);
    // Good entries first, so a half-import would show.
    const content = Array.isArray(bad)
      ? bad
      : { boutiques: [{ id: 50, nom: 'Nouvelle', devise: 'CDF' }], ...bad };
    const result = importFixture(db, catalogue, content, NOW);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.erreur).toContain(where);
    expect(snapshot(db)).toEqual(before);
  });
});
