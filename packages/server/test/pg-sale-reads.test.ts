import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogueStore, type TerminalContext } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { registerMoneySums } from '../src/db/open-database.js';
import { createPgReader, createPgReconciliation } from '../src/postgres/pg-sale-reads.js';
import { createPgWrites } from '../src/postgres/pg-writes.js';
import { createRapportReader } from '../src/rapport.js';
import { createReconciliationReader } from '../src/reconciliation-reader.js';
import { createRetourWriter } from '../src/retour-writer.js';
import { createSaleReader } from '../src/sale-reader.js';
import { createSaleWriter } from '../src/sale-writer.js';
import { openTestDb, SECOND_SERIAL, SERIAL } from './helpers.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';
import { openPgTestDb, pgTerminal } from './pg-fixture.js';

const enabled = pgSuiteEnabled();
const day1 = new Date('2025-10-28T18:00:00Z');
const day2 = new Date('2025-10-29T10:00:00Z');

/**
 * The same sales and returns written on SQLite and on PostgreSQL, then every read asked of
 * both: PostgreSQL's answers must be SQLite's (the contract), byte for byte once serialised.
 */
describe.skipIf(!enabled)('PostgreSQL reads of sales', () => {
  let cluster: PgCluster;
  let pool: pg.Pool;
  let db: Db;
  let pgReader: ReturnType<typeof createPgReader>;
  let pgReconciliation: ReturnType<typeof createPgReconciliation>;

  beforeAll(async () => {
    cluster = await startPgCluster();
    let where: string;
    ({ pool, where } = await openPgTestDb(cluster));
    db = openTestDb();
    registerMoneySums(db);
    const writes = createPgWrites(pool, where);
    const sqliteSales = createSaleWriter(db);
    const sqliteRetours = createRetourWriter(db);
    const terminals = new Map<string, { sqlite: TerminalContext; pg: TerminalContext }>();
    for (const serial of [SERIAL, SECOND_SERIAL]) {
      terminals.set(serial, { sqlite: createCatalogueStore(db).findActiveTerminal(serial)!, pg: await pgTerminal(pool, serial) });
    }
    const sell = async (serial: string, at: Date, items: unknown[], viaRelay = false) => {
      const t = terminals.get(serial)!;
      db.transaction(() => sqliteSales.writeSalesInSavepoint(t.sqlite, items, at, { viaRelay })).immediate();
      await writes.sales(t.pg, items, at, { viaRelay }, 0);
    };
    const giveBack = async (serial: string, at: Date, items: unknown[]) => {
      const t = terminals.get(serial)!;
      db.transaction(() => sqliteRetours.writeRetoursInSavepoint(t.sqlite, items, at)).immediate();
      await writes.retours(t.pg, items, at, 0);
    };
    await sell(SERIAL, day1, [
      { numero_facture: 'A-1', date_vente: '2025-10-28T08:00:00Z', lignes: [{ article_id: 6 }, { article_id: 7, quantite: 2 }] },
      { numero_facture: 'A-2', date_vente: '2025-10-28T09:30:00Z', paye: false, mode_paiement: 'MOBILE_MONEY', lignes: [{ article_id: 9, quantite: 3 }] },
      { numero_facture: 'Ä-3 é', date_vente: '2025-10-28T23:30:00Z', lignes: [{ article_id: 9, quantite: 12 }] },
    ]);
    await sell(SECOND_SERIAL, day2, [
      { numero_facture: 'B-1', date_vente: '2025-10-29T07:00:00Z', mode_paiement: 'CARTE', lignes: [{ article_id: 6, quantite: 2 }] },
      { numero_facture: 'B-2', date_vente: '2025-10-30T07:00:00Z', paye: false, lignes: [{ article_id: 7 }] },
      { lignes: [{ article_id: 9 }] },
    ]);
    await sell(SERIAL, day2, [{ numero_facture: 'N-1', lignes: [{ article_id: 10, quantite: 5 }] }], true);
    await giveBack(SERIAL, day2, [
      { numero_retour: 'R-1', numero_facture: 'A-1', lignes: [{ article_id: 7, quantite: 1 }], motif: 'cassé' },
      ...Array.from({ length: 11 }, (_, i) => ({ numero_retour: `RR-${i}`, numero_facture: 'Ä-3 é', lignes: [{ article_id: 9, quantite: 1 }] })),
    ]);
    pgReader = createPgReader(pool, where);
    pgReconciliation = createPgReconciliation(pool, where);
  }, 120_000);
  afterAll(async () => {
    db?.close();
    await pool?.end();
    await cluster?.stop();
  });

  const same = (actual: unknown, expected: unknown) => expect(JSON.parse(JSON.stringify(actual, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)))).toEqual(
    JSON.parse(JSON.stringify(expected, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))),
  );

  it('the history: pages, date filters, each sale with its lines and returns (ten shown, the rest counted)', async () => {
    const sqlite = createSaleReader(db);
    for (const filter of [
      { boutiqueId: 2, limit: 50, offset: 0, from: null, to: null },
      { boutiqueId: 2, limit: 2, offset: 1, from: null, to: null },
      { boutiqueId: 2, limit: 50, offset: 0, from: '2025-10-28T09:00:00.000Z', to: '2025-10-29T08:00:00.000Z' },
      { boutiqueId: 3, limit: 50, offset: 0, from: null, to: null },
    ]) {
      same(await pgReader.historique(filter), sqlite.historique(filter));
    }
    const all = await pgReader.historique({ boutiqueId: 2, limit: 50, offset: 0, from: null, to: null });
    expect(all.total).toBe(7);
    expect(all.ventes.find((v) => v.numero_facture === 'Ä-3 é')).toMatchObject({ retours_omis: 1 });
  });

  it('statistiques: today by the boutique zone, net of returns, low and negative stock', async () => {
    const sqlite = createSaleReader(db);
    for (const [now, fuseau] of [
      [day2, 'UTC'],
      [day1, 'UTC'],
      [day1, 'Africa/Kinshasa'],
    ] as const) {
      same(await pgReader.statistiques(2, now, fuseau), sqlite.statistiques(2, now, fuseau));
    }
    const stats = await pgReader.statistiques(2, day2, 'UTC');
    expect(stats.articles_stock_negatif).toEqual([{ id: 10, nom: 'Chargeur', quantite_stock: -3 }]);
  });

  it('stock negatif lists the sales that took an article below zero; recent sales as SQLite', async () => {
    const sqlite = createSaleReader(db);
    same(await pgReader.stockNegatif(null), sqlite.stockNegatif(null));
    same(await pgReader.stockNegatif(3), sqlite.stockNegatif(3));
    expect((await pgReader.stockNegatif(2))[0]).toMatchObject({ id: 10, ventes: [{ numero_facture: 'N-1', stock_avant: 2, stock_apres: -3 }], ventes_omises: 0 });
    same(await pgReader.recentVentes(null, 5), sqlite.recentVentes(null, 5));
    same(await pgReader.recentVentes(2, 50), sqlite.recentVentes(2, 50));
  });

  it('the daily close (rapport): per till and boutique, unpaid sales, first and last tickets, a bad day refused', async () => {
    const sqlite = createRapportReader(db);
    for (const jour of ['2025-10-28', '2025-10-29', '2025-10-30', undefined, '2025-02-30']) {
      same(await pgReader.rapport(2, jour, day2), sqlite.rapport(2, jour, day2));
    }
    same(await pgReader.rapport(99, undefined, day2), sqlite.rapport(99, undefined, day2));
    const r = await pgReader.rapport(2, '2025-10-28', day2);
    expect(r.ok && r.rapport.total.net).toBe(r.ok ? sqlite.rapport(2, '2025-10-28', day2).ok && r.rapport.total.net : null);
  });

  it('reconciliation: a till day counted, summed net of returns and fingerprinted as SQLite; pages in byte order', async () => {
    const sqlite = createReconciliationReader(db);
    for (const [serial, jour] of [
      [SERIAL, '2025-10-28'],
      [SECOND_SERIAL, '2025-10-29'],
      [SECOND_SERIAL, '2025-11-01'],
    ] as const) {
      same(await pgReconciliation.day(2, serial, jour), sqlite.day(2, serial, jour));
      for (const [apres, limit] of [
        [null, 1],
        ['A-1', 1],
        ['A-2', 5],
        [null, 100],
      ] as const) {
        same(await pgReconciliation.page(2, serial, jour, apres, limit), sqlite.page(2, serial, jour, apres, limit));
      }
    }
    expect(await pgReconciliation.cached(2, SERIAL, '2025-10-28')).toBeUndefined();
  });
});
