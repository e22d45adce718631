import { describe, expect, it } from 'vitest';
import { CatalogueError, createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';

const now = new Date('2025-10-29T02:45:00Z');

function store() {
  const catalogue = createCatalogueStore(openDatabase(':memory:'));
  catalogue.addBoutique('Ma Boutique', 'CDF', 2);
  catalogue.addArticle({ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: 4_000_000, stock: 10 }, now);
  return catalogue;
}

describe('catalogue store', () => {
  it('an article created with stock records that stock as an ENTREE', () => {
    expect(store().listMouvements(6, 10)).toMatchObject([{ type: 'ENTREE', quantite: 10, stock_avant: 0, stock_apres: 10 }]);
  });

  it('a delivery adds, a count sets, each leaving its movement with before and after', () => {
    const catalogue = store();
    expect(catalogue.addStock(6, 5, now)).toMatchObject({ type: 'ENTREE', quantite: 5, stock_avant: 10, stock_apres: 15 });
    expect(catalogue.setStock(6, 12, now)).toMatchObject({ type: 'AJUSTEMENT', quantite: -3, stock_avant: 15, stock_apres: 12 });
    expect(catalogue.getArticle(6)?.quantite_stock).toBe(12);
  });

  it.each([
    ['a delivery of 0', (c: ReturnType<typeof store>) => c.addStock(6, 0, now), 'INVALID'],
    ['a negative count', (c: ReturnType<typeof store>) => c.setStock(6, -1, now), 'INVALID'],
    ['an unknown article', (c: ReturnType<typeof store>) => c.addStock(99, 1, now), 'NOT_FOUND'],
    ['a terminal in an unknown boutique', (c: ReturnType<typeof store>) => c.addTerminal('s', 'n', 42), 'NOT_FOUND'],
    ['a boutique id already taken', (c: ReturnType<typeof store>) => c.addBoutique('Autre', 'CDF', 2), 'CONFLICT'],
    ['disabling an unknown terminal', (c: ReturnType<typeof store>) => c.setTerminalActif('nope', false), 'NOT_FOUND'],
  ])('%s is refused with a stable code and changes nothing', (_label, act, code) => {
    const catalogue = store();
    expect(() => act(catalogue)).toThrow(CatalogueError);
    try {
      act(catalogue);
    } catch (error) {
      expect((error as CatalogueError).code).toBe(code);
    }
    expect(catalogue.getArticle(6)?.quantite_stock).toBe(10);
  });

  it('only an active terminal is found for the API', () => {
    const catalogue = store();
    catalogue.addTerminal('caisse-1', 'Caisse 1', 2);
    expect(catalogue.findActiveTerminal('caisse-1')).toMatchObject({ boutique_id: 2, boutique_nom: 'Ma Boutique', devise: 'CDF' });
    catalogue.setTerminalActif('caisse-1', false);
    expect(catalogue.findActiveTerminal('caisse-1')).toBeUndefined();
  });
});
