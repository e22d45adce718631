import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createCatalogueStore, type TerminalContext } from '../src/catalogue-store.js';
import { type Db, openDatabase } from '../src/db/open-database.js';
import { createSaleWriter } from '../src/sale-writer.js';
import { openTestDb, SERIAL, SYNC, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let db: Db;
let terminal: TerminalContext;
const at = new Date('2025-10-29T02:45:00Z');

beforeEach(() => {
  tmp = tempDir();
  file = join(tmp.dir, 'writer.db');
  db = openTestDb(file);
  terminal = createCatalogueStore(db).findActiveTerminal(SERIAL)!;
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

/** A request written as the group commit writes it: inside an open transaction, by the production entry point. */
function writeSales(items: unknown[]) {
  const writer = createSaleWriter(db);
  return db.transaction(() => writer.writeSalesInSavepoint(terminal, items, at)).immediate();
}

const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;

describe('writeSalesInSavepoint', () => {
  it('writes each sale whole: the sale, its lines, one SORTIE per line, the running totals', () => {
    const result = writeSales([{ numero_facture: 'W-1', lignes: [{ article_id: 6 }, { article_id: 7, quantite: 2 }] }]);
    expect(result.erreurs).toEqual([]);
    expect(result.creees[0]).toMatchObject({ numero_facture: 'W-1', montant_total: '90000.00' });
    expect([count('ventes'), count('lignes_vente'), count("mouvements_stock WHERE type = 'SORTIE'")]).toEqual([1, 2, 2]);
    expect(db.prepare('SELECT nombre_ventes, montant_total FROM chiffres_jour').get()).toEqual({ nombre_ventes: 1, montant_total: 9_000_000 });
  });

  it('a sale whose second line fails leaves no trace, and the next sale of the batch is written', () => {
    const result = writeSales(
      [
        { numero_facture: 'W-1', lignes: [{ article_id: 6, quantite: 2 }, { article_id: 10, quantite: 9 }] },
        { numero_facture: 'W-2', lignes: [{ article_id: 6 }] },
      ],
    );
    expect(result.erreurs.map((e) => [e.index, e.code])).toEqual([[1, 'INSUFFICIENT_STOCK']]);
    expect(result.creees.map((v) => v.numero_facture)).toEqual(['W-2']);
    expect([count('ventes'), count('lignes_vente'), count("mouvements_stock WHERE type = 'SORTIE'")]).toEqual([1, 1, 1]);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 6').pluck().get()).toBe(99);
    expect(db.prepare('SELECT nombre_ventes FROM chiffres_jour').pluck().get()).toBe(1);
  });

  it('the running totals per day and mode match the sales written, refused ones left out', () => {
    const sale = (numero: string, mode: string, date: string | undefined, article = 6) => ({
      numero_facture: numero,
      mode_paiement: mode,
      ...(date ? { date_vente: date } : {}),
      lignes: [{ article_id: article }],
    });
    const result = writeSales(
      [
        sale('T-1', 'CASH', '2025-10-28T10:00:00Z'),
        sale('T-2', 'CASH', '2025-10-28T11:00:00Z'),
        sale('T-3', 'MOBILE_MONEY', '2025-10-28T12:00:00Z'),
        sale('T-4', 'CASH', undefined),
        sale('T-5', 'CASH', '2025-10-28T13:00:00Z', 999),
        sale('T-6', 'CARTE', undefined, 7),
      ],
    );
    expect(result.erreurs.map((e) => e.numero_facture)).toEqual(['T-5']);
    const fromSales = db
      .prepare(
        `SELECT substr(date_vente, 1, 10) AS jour, mode_paiement, COUNT(*) AS nombre_ventes, SUM(montant_total) AS montant_total
         FROM ventes GROUP BY jour, mode_paiement ORDER BY jour, mode_paiement`,
      )
      .all();
    expect(db.prepare('SELECT jour, mode_paiement, nombre_ventes, montant_total FROM chiffres_jour ORDER BY jour, mode_paiement').all()).toEqual(fromSales);
    expect(fromSales).toHaveLength(4);
  });

  it('a line total beyond exact integer arithmetic is refused rather than rounded', () => {
    const result = writeSales(
      [{ numero_facture: 'BIG', lignes: [{ article_id: 6, quantite: 9_000_000, prix_unitaire: '9999999999999.99' }] }],
    );
    expect(result.erreurs[0]).toMatchObject({ code: 'INVALID_SALE', erreur: expect.stringContaining('montant trop élevé') });
  });
});

describe('writeSalesInSavepoint inside the group’s transaction', () => {
  it('is undone with the transaction, and committed with it', () => {
    const writer = createSaleWriter(db);
    const sale = (numero: string) => [{ numero_facture: numero, lignes: [{ article_id: 6 }] }];
    expect(() =>
      db.transaction(() => {
        writer.writeSalesInSavepoint(terminal, sale('G-1'), at);
        throw new Error('the group fails');
      })(),
    ).toThrow('the group fails');
    expect(count('ventes')).toBe(0);
    db.transaction(() => {
      writer.writeSalesInSavepoint(terminal, sale('G-2'), at);
      writer.writeSalesInSavepoint(terminal, sale('G-3'), at);
    }).immediate();
    expect(db.prepare('SELECT numero_facture FROM ventes ORDER BY id').pluck().all()).toEqual(['G-2', 'G-3']);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 6').pluck().get()).toBe(98);
  });

  it('refuses to write outside any transaction, where it would commit apart from its group', () => {
    expect(() => createSaleWriter(db).writeSalesInSavepoint(terminal, [{ numero_facture: 'SEULE', lignes: [{ article_id: 6 }] }], at)).toThrow(
      'en dehors de toute transaction',
    );
    expect(count('ventes')).toBe(0);
  });
});

describe('when another process holds the database', () => {
  it('the request waits, then answers 503 SERVICE_UNAVAILABLE with Retry-After, and writes nothing', async () => {
    db.pragma('busy_timeout = 200');
    const app = await buildApp({ db, logger: false });
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const res = await app.inject({
        method: 'POST',
        url: SYNC,
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        payload: [{ numero_facture: 'BUSY-1', lignes: [{ article_id: 6 }] }],
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', error: expect.stringContaining('occupée') });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(count('ventes')).toBe(0);
    await app.close();
  });
});

describe('generated numeros across requests of one second', () => {
  it('each costs one lookup of the numero however many tills sent one in that second, and all are unique', () => {
    // Counts the runs of the writer's "is this numero taken?" statement.
    let lookups = 0;
    const counted = new Proxy(db, {
      get(target, prop) {
        if (prop === 'prepare') {
          return (sql: string) => {
            const stmt = target.prepare(sql);
            if (!/^SELECT 1 FROM ventes WHERE boutique_id = \? AND numero_facture = \?$/.test(sql)) return stmt;
            const pluck = stmt.pluck.bind(stmt);
            return Object.assign(stmt, {
              pluck: () => {
                const plucked = pluck();
                const get = plucked.get.bind(plucked);
                return Object.assign(plucked, { get: (...args: unknown[]) => (lookups++, get(...(args as [number, string]))) });
              },
            });
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const writer = createSaleWriter(counted);
    const tills = 200;
    db.prepare('UPDATE articles SET quantite_stock = ? WHERE id = 9').run(tills);
    for (let t = 0; t < tills; t++) {
      db.transaction(() => writer.writeSalesInSavepoint(terminal, [{ lignes: [{ article_id: 9 }] }], at)).immediate();
    }
    const stored = db.prepare('SELECT numero_facture FROM ventes').pluck().all() as string[];
    expect(new Set(stored).size).toBe(tills);
    expect(stored).toContain('VENTE-2-20251029024500-0-199');
    expect(lookups).toBe(tills);
  });
});

describe('a boutique changed by the CLI while a request is in flight', () => {
  it('the zone and the stock rule are those committed before the write, not those read when the request started', () => {
    // The request looked its terminal up (UTC, stock refused) …
    expect([terminal.fuseau, terminal.stock_negatif]).toEqual(['UTC', 'refuser']);
    // … then `boutique set` committed a new zone and rule through its own connection.
    const cli = openDatabase(file);
    createCatalogueStore(cli).setBoutique(2, { fuseau: 'Europe/Paris', stock_negatif: 'autoriser' });
    cli.close();

    // 23:30 UTC on the 28th is 00:30 on the 29th in Paris; more than the stock holds.
    const result = writeSales([
      { numero_facture: 'Z-1', date_vente: '2025-10-28T23:30:00Z', lignes: [{ article_id: 6, quantite: 1_000_000 }] },
    ]);
    expect(result.erreurs).toEqual([]);
    expect(result.creees[0]!.avertissements).toEqual([expect.objectContaining({ code: 'STOCK_NEGATIF', article_id: 6 })]);
    expect(db.prepare('SELECT jour, nombre_ventes FROM chiffres_jour WHERE boutique_id = 2').all()).toEqual([
      { jour: '2025-10-29', nombre_ventes: 1 },
    ]);
  });
});
