import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';

/**
 * Fills a database (already holding the bench's boutiques, tills and articles) with `count`
 * past sales of 2 lines each, spread over a year and 4 boutiques, with their movements and
 * running totals — written straight in SQL, since posting a million sales would take longer
 * than the benchmark itself.
 */
export function seedHistory(file: string, count: number, boutiques: number): void {
  const db = new Database(file);
  prepareDatabase(db, MIGRATIONS);
  db.pragma('synchronous = OFF');
  db.transaction(() => {
    db.prepare(`
      WITH RECURSIVE
        k(boutiques) AS (SELECT CAST(? AS INTEGER)), -- bound numbers arrive as REAL: 'b2.0' otherwise
        n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception, mode_paiement, paye, montant_total, empreinte)
      SELECT (i % boutiques) + 1, 'HIST-' || i, 'bench-b' || ((i % boutiques) + 1) || '-t0',
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 days', '-' || (i % 365) || ' days', '-' || (i % 86400) || ' seconds'),
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 days', '-' || (i % 365) || ' days'),
             CASE i % 3 WHEN 0 THEN 'MOBILE_MONEY' ELSE 'CASH' END, 1, 650000, 'historique'
      FROM n, k`).run(boutiques, count);
    db.exec(`
      INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total)
        SELECT id, boutique_id * 10 + 1, 1, 150000, 150000 FROM ventes;
      INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total)
        SELECT id, boutique_id * 10 + 2, 2, 250000, 500000 FROM ventes;
      INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
        SELECT l.article_id, 'SORTIE', l.quantite, 1000000000, 1000000000, v.numero_facture, v.terminal_serial, v.date_reception
        FROM lignes_vente l JOIN ventes v ON v.id = l.vente_id;
      INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
        SELECT boutique_id, substr(date_vente, 1, 10), mode_paiement, COUNT(*), SUM(montant_total) FROM ventes
        GROUP BY 1, 2, 3;
    `);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  db.close();
}
