import { openSqlite } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/db/migrations.js';
import { openDatabase } from '../src/db/open-database.js';
import { tempDir } from './helpers.js';

/** The schema version before issue 10's books (local days, till clocks, negative stock). */
const BEFORE_BOOKS = 2;

function schemaOf(db: Database.Database, table: string) {
  return {
    indexes: (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`).pluck().all(table) as string[]),
    foreignKeys: db.prepare(`PRAGMA foreign_key_list(${table})`).all(),
  };
}

/** A database as the previous version left it, with a boutique's day of sales in it. */
function oldDatabase(file: string): void {
  const db = openSqlite((path) => new Database(path), file, MIGRATIONS.slice(0, BEFORE_BOOKS));
  db.exec(`
    INSERT INTO boutiques (id, nom, devise) VALUES (2, 'Ma Boutique', 'CDF');
    INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('caisse-1', 'Caisse 1', 2);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (6, 2, 'Samsung S24', 4000000, 8), (7, 2, 'Savon', 1999, 0);
    INSERT INTO ventes (id, boutique_id, numero_facture, terminal_serial, date_vente, date_reception, mode_paiement, paye, montant_total, empreinte)
      VALUES (1, 2, 'F-1', 'caisse-1', '2025-10-28T23:30:00.000Z', '2025-10-28T23:30:01.000Z', 'CASH', 1, 4000000, 'v2:a'),
             (2, 2, 'F-2', 'caisse-1', '2025-10-29T10:00:00.000Z', '2025-10-29T10:00:01.000Z', 'CASH', 1, 4000000, 'v2:b');
    INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total) VALUES (1, 6, 1, 4000000, 4000000), (2, 6, 1, 4000000, 4000000);
    INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
      VALUES (6, 'SORTIE', 1, 10, 9, 'F-1', 'caisse-1', '2025-10-28T23:30:01.000Z'), (6, 'SORTIE', 1, 9, 8, 'F-2', 'caisse-1', '2025-10-29T10:00:01.000Z');
    -- Totals that drifted: the migration rebuilds them from the sales.
    INSERT INTO chiffres_jour VALUES (2, '2025-10-28', 'CASH', 7, 1);
  `);
  db.close();
}

describe('migration to the books of issue 10', () => {
  it('keeps every article, sale line, movement, index and foreign key, and lets the stock go below zero', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'old.db');
    oldDatabase(file);
    const before = new Database(file, { readonly: true });
    const articlesBefore = before.prepare('SELECT * FROM articles ORDER BY id').all();
    const shapes = ['articles', 'lignes_vente', 'mouvements_stock'].map((t) => schemaOf(before, t));
    before.close();

    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT * FROM articles ORDER BY id').all()).toEqual(articlesBefore);
    expect(['articles', 'lignes_vente', 'mouvements_stock'].map((t) => schemaOf(db, t))).toEqual(shapes);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) FROM lignes_vente').pluck().get()).toBe(2);
    // The CHECK is gone: an offline sale may take the stock below zero.
    db.prepare('UPDATE articles SET quantite_stock = -3 WHERE id = 7').run();
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 7').pluck().get()).toBe(-3);
    // Foreign keys still hold.
    expect(() =>
      db.prepare("INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total) VALUES (1, 999, 1, 1, 1)").run(),
    ).toThrow(/FOREIGN KEY/);
    db.close();
    tmp.cleanup();
  });

  it('gives every boutique the UTC zone and the refusing stock rule, and rebuilds the daily totals from the sales', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'old.db');
    oldDatabase(file);
    const db = openDatabase(file);
    expect(db.prepare('SELECT fuseau, stock_negatif FROM boutiques WHERE id = 2').get()).toEqual({ fuseau: 'UTC', stock_negatif: 'refuser' });
    expect(db.prepare('SELECT jour, mode_paiement, nombre_ventes, montant_total FROM chiffres_jour ORDER BY jour').all()).toEqual([
      { jour: '2025-10-28', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4000000 },
      { jour: '2025-10-29', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4000000 },
    ]);
    expect(db.prepare('SELECT date_vente_caisse FROM ventes WHERE id = 1').pluck().get()).toBeNull();
    expect(() => db.prepare("UPDATE boutiques SET stock_negatif = 'peut-être' WHERE id = 2").run()).toThrow(/CHECK/);
    db.close();
    tmp.cleanup();
  });
});
