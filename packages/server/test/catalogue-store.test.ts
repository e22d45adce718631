import { describe, expect, it } from 'vitest';
import { CatalogueError, createCatalogueStore } from '../src/catalogue-store.js';
import { type Db, openDatabase } from '../src/db/open-database.js';

const now = new Date('2025-10-29T02:45:00Z');

function store() {
  const db = openDatabase(':memory:');
  const catalogue = createCatalogueStore(db);
  catalogue.addBoutique('Ma Boutique', 'CDF', 2);
  catalogue.addArticle({ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: 4_000_000, stock: 10 }, now);
  return Object.assign(catalogue, { db });
}

/** Every row of every table: a refused change must leave all of them as they were. */
function snapshot(db: Db) {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  return Object.fromEntries(tables.map((table) => [table, db.prepare(`SELECT * FROM "${table}"`).all()]));
}

/** Runs `act`, which must throw a CatalogueError, and returns its code. */
function refusalCode(act: () => unknown): string {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CatalogueError);
  return (thrown as CatalogueError).code;
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
    ['a count of 2^53', (c: ReturnType<typeof store>) => c.setStock(6, 2 ** 53, now), 'INVALID'],
    ['an article with a negative stock', (c: ReturnType<typeof store>) => c.addArticle({ boutique_id: 2, nom: 'X', prix_vente: 1, stock: -1 }, now), 'INVALID'],
    ['an article in an unknown boutique', (c: ReturnType<typeof store>) => c.addArticle({ boutique_id: 9, nom: 'X', prix_vente: 1, stock: 3 }, now), 'NOT_FOUND'],
  ])('%s is refused with a stable code and changes nothing', (_label, act, code) => {
    const catalogue = store();
    const before = snapshot(catalogue.db);
    expect(refusalCode(() => act(catalogue))).toBe(code);
    expect(snapshot(catalogue.db)).toEqual(before);
  });

  it('a delivery that would overflow the stock is undone whole: no movement without its stock', () => {
    const catalogue = store();
    catalogue.setStock(6, Number.MAX_SAFE_INTEGER - 1, now);
    const before = snapshot(catalogue.db);
    expect(refusalCode(() => catalogue.addStock(6, 5, now))).toBe('INVALID');
    expect(snapshot(catalogue.db)).toEqual(before);
  });

  it('a count is measured against the stock as it is when written, not as it was read', () => {
    const catalogue = store();
    // Another writer (a sale) changed the stock since this process last read the article.
    catalogue.db.prepare('UPDATE articles SET quantite_stock = quantite_stock - 4 WHERE id = 6').run();
    expect(catalogue.setStock(6, 12, now)).toMatchObject({ quantite: 6, stock_avant: 6, stock_apres: 12 });
    expect(catalogue.addStock(6, 3, now)).toMatchObject({ quantite: 3, stock_avant: 12, stock_apres: 15 });
  });

  it('only an active terminal is found for the API', () => {
    const catalogue = store();
    catalogue.addTerminal('caisse-1', 'Caisse 1', 2);
    expect(catalogue.findActiveTerminal('caisse-1')).toMatchObject({ boutique_id: 2, boutique_nom: 'Ma Boutique', devise: 'CDF' });
    catalogue.setTerminalActif('caisse-1', false);
    expect(catalogue.findActiveTerminal('caisse-1')).toBeUndefined();
  });
});
