import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCatalogueStore, type TerminalContext } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { createPgWrites } from '../src/postgres/pg-writes.js';
import { createRetourWriter } from '../src/retour-writer.js';
import { createSaleWriter } from '../src/sale-writer.js';
import { OTHER_SERIAL, openTestDb, SERIAL } from './helpers.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';
import { openPgTestDb, pgRows, pgTerminal, pgValue } from './pg-fixture.js';

const at = new Date('2025-10-29T10:00:00Z');
const enabled = pgSuiteEnabled();

const retour = (numero: string, facture: string, lignes: Array<[number, number]>, extra: Record<string, unknown> = {}) => ({
  numero_retour: numero,
  numero_facture: facture,
  lignes: lignes.map(([article_id, quantite]) => ({ article_id, quantite })),
  ...extra,
});

describe.skipIf(!enabled)('PostgreSQL returns writes', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  let pool: pg.Pool;
  let url: string;
  let where: string;
  let db: Db;
  let terminals: Map<string, { sqlite: TerminalContext; pg: TerminalContext }>;
  let writes: ReturnType<typeof createPgWrites>;
  let sqliteSales: ReturnType<typeof createSaleWriter>;
  let sqliteRetours: ReturnType<typeof createRetourWriter>;
  beforeEach(async () => {
    ({ pool, where, url } = await openPgTestDb(cluster));
    db = openTestDb();
    terminals = new Map();
    for (const serial of [SERIAL, OTHER_SERIAL]) {
      terminals.set(serial, { sqlite: createCatalogueStore(db).findActiveTerminal(serial)!, pg: await pgTerminal(pool, serial) });
    }
    writes = createPgWrites(pool, where);
    sqliteSales = createSaleWriter(db);
    sqliteRetours = createRetourWriter(db);
  });
  afterEach(async () => {
    db.close();
    await pool.end();
  });

  /** Sales written on both backends first (checked equal by the sales' own test file). */
  async function sell(items: unknown[]) {
    const t = terminals.get(SERIAL)!;
    db.transaction(() => sqliteSales.writeSalesInSavepoint(t.sqlite, items, at)).immediate();
    await writes.sales(t.pg, items, at, {}, 0);
  }

  /** The same returns on both backends: PostgreSQL's answer equal to SQLite's (the contract). */
  async function both(items: unknown[], serial = SERIAL, receivedAt = at) {
    const t = terminals.get(serial)!;
    const expected = db.transaction(() => sqliteRetours.writeRetoursInSavepoint(t.sqlite, items, receivedAt)).immediate();
    const actual = await writes.retours(t.pg, items, receivedAt, 0)!;
    expect(actual).toEqual(expected);
    return actual;
  }

  const stock = (id: number) => pgValue<string>(pool, 'SELECT quantite_stock::text FROM articles WHERE id = $1', [id]).then(Number);

  it('a return puts the stock back with a RETOUR movement, priced from the sale, as SQLite', async () => {
    await sell([{ numero_facture: 'V-1', lignes: [{ article_id: 7, quantite: 3, prix_unitaire: 25000 }] }]);
    const result = await both([retour('R-1', 'V-1', [[7, 2]], { motif: 'ne marche pas' })]);
    expect(result.crees[0]).toMatchObject({ numero_retour: 'R-1', montant_total: '50000.00' });
    expect(await stock(7)).toBe(99);
    expect(await pgRows(pool, "SELECT quantite::int AS q, stock_avant::int AS avant, stock_apres::int AS apres, reference FROM mouvements_stock WHERE type = 'RETOUR'")).toEqual([
      { q: 2, avant: 97, apres: 99, reference: 'R-1' },
    ]);
    expect(await pgRows(pool, 'SELECT numero_retour, motif, montant_total::int AS m, date_retour, mode_paiement FROM retours')).toEqual([
      { numero_retour: 'R-1', motif: 'ne marche pas', m: 5_000_000, date_retour: at.toISOString(), mode_paiement: 'CASH' },
    ]);
  });

  it('the units are given back in the order of the sale’s lines; never more than sold, all returns together', async () => {
    await sell([
      {
        numero_facture: 'V-2',
        lignes: [
          { article_id: 6, quantite: 2, prix_unitaire: 100 },
          { article_id: 6, quantite: 3, prix_unitaire: 80 },
        ],
      },
    ]);
    const first = await both([retour('R-1', 'V-2', [[6, 3]]), retour('R-2', 'V-2', [[6, 1], [6, 1]]), retour('R-3', 'V-2', [[6, 1]])]);
    expect(first.crees.map((r) => r.montant_total)).toEqual(['280.00', '160.00']);
    expect(first.erreurs).toMatchObject([{ index: 3, code: 'RETURN_EXCEEDS_SALE' }]);
    const second = await both([retour('R-3', 'V-2', [[6, 1]])]);
    expect(second.erreurs[0]!.erreur).toBe('Retour de 1 Samsung S24 refusé : la vente V-2 en a vendu 5, déjà rendu(s) 5, reste 0');
    expect(await stock(6)).toBe(100);
  });

  it('duplicates, unknown sale, article not in the sale, invalid return, another boutique: refused as SQLite', async () => {
    await sell([{ numero_facture: 'V-3', lignes: [{ article_id: 7, quantite: 2 }] }]);
    await both([retour('R-1', 'V-3', [[7, 1]])]);
    const result = await both([
      retour('R-1', 'V-3', [[7, 1]]),
      retour('R-1', 'V-3', [[7, 1]]),
      retour('R-4', 'V-404', [[7, 1]]),
      retour('R-5', 'V-3', [[6, 1]]),
      { numero_retour: 'R-6' },
      retour('R-7', 'V-3', [[7, 1]], { date_retour: '2025-10-30T10:00:00Z' }),
    ]);
    expect(result.erreurs.map((e) => [e.index, e.code, e.identique ?? null])).toEqual([
      [1, 'DUPLICATE', true],
      [2, 'DUPLICATE', true],
      [3, 'SALE_NOT_FOUND', null],
      [4, 'RETURN_EXCEEDS_SALE', null],
      [5, 'INVALID_RETURN', null],
    ]);
    expect(result.datesRemplacees).toEqual([{ numero_retour: 'R-7', date_retour_caisse: '2025-10-30T10:00:00.000Z', date_retour: at.toISOString() }]);
    const other = await both([retour('R-8', 'V-3', [[7, 1]])], OTHER_SERIAL);
    expect(other.erreurs).toMatchObject([{ code: 'SALE_NOT_FOUND' }]);
    expect(await pgValue(pool, 'SELECT count(*)::int FROM retours')).toBe(2);
  });

  it('two instances returning the same sale at once, round after round: never more than it sold', async () => {
    const second = new pg.Pool({ connectionString: url, max: 4 });
    second.on('error', () => {});
    const otherWrites = createPgWrites(second, where);
    const t = terminals.get(SERIAL)!.pg;
    try {
      for (let round = 0; round < 8; round++) {
        await writes.sales(t, [{ numero_facture: `RV-${round}`, lignes: [{ article_id: 6, quantite: 3 }] }], at, {}, 0);
        const [a, b] = await Promise.all([
          writes.retours(t, [retour(`RA-${round}`, `RV-${round}`, [[6, 2]])], at, 0)!,
          otherWrites.retours(t, [retour(`RB-${round}`, `RV-${round}`, [[6, 2]])], at, 0)!,
        ]);
        expect(a.crees.length + b.crees.length).toBe(1);
        expect([...a.erreurs, ...b.erreurs].map((e) => e.code)).toEqual(['RETURN_EXCEEDS_SALE']);
      }
      expect(await stock(6)).toBe(100 - 8 * 3 + 8 * 2);
    } finally {
      await second.end();
    }
  });
});
