import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';

/**
 * The storage bound: the writes of a sync request — duplicate check, sale, lines, stock
 * update with its check, movements, running totals; a savepoint per sale and one durable
 * commit per batch — straight into SQLite, with no HTTP, JSON or validation. The server can
 * only approach this figure; its ratio to it is what the benchmark judges.
 */
export function measureStorageBound(file: string, batchSize: number, totalSales: number): { salesPerSecond: number } {
  const db = new Database(file);
  prepareDatabase(db, MIGRATIONS);
  db.exec(`
    INSERT INTO boutiques (id, nom, devise) VALUES (1, 'Borne', 'CDF');
    INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('borne', 'Borne', 1);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (1, 1, 'A', 150000, 1000000000), (2, 1, 'B', 250000, 1000000000);
  `);
  const exists = db.prepare('SELECT numero_facture, montant_total, date_vente, empreinte FROM ventes WHERE boutique_id = ? AND numero_facture = ?');
  const insertVente = db.prepare(`INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception,
    mode_paiement, paye, montant_total, empreinte) VALUES (1, ?, 'borne', ?, ?, 'CASH', 1, ?, 'x')`);
  const decrement = db
    .prepare('UPDATE articles SET quantite_stock = quantite_stock - ? WHERE id = ? AND quantite_stock >= ? RETURNING quantite_stock')
    .pluck();
  const insertLigne = db.prepare('INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total) VALUES (?, ?, ?, ?, ?)');
  const insertMouvement = db.prepare(`INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
    VALUES (?, 'SORTIE', ?, ?, ?, ?, 'borne', ?)`);
  const addChiffres = db.prepare(`INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
    VALUES (1, ?, 'CASH', 1, ?) ON CONFLICT (boutique_id, jour, mode_paiement)
    DO UPDATE SET nombre_ventes = nombre_ventes + 1, montant_total = montant_total + excluded.montant_total`);

  const writeOne = db.transaction((numero: string, date: string) => {
    if (exists.get(1, numero)) throw new Error('duplicate');
    const id = insertVente.run(numero, date, date, 650000).lastInsertRowid;
    for (const [article, quantite, prix] of [[1, 1, 150000], [2, 2, 250000]] as const) {
      const after = decrement.get(quantite, article, quantite) as number;
      insertLigne.run(id, article, quantite, prix, prix * quantite);
      insertMouvement.run(article, quantite, after + quantite, after, numero, date);
    }
    addChiffres.run(date.slice(0, 10), 650000);
  });
  const writeBatch = db.transaction((batch: number) => {
    const date = new Date().toISOString();
    for (let i = 0; i < batchSize; i++) writeOne(`BORNE-${batch}-${i}`, date);
  });

  const batches = Math.max(1, Math.floor(totalSales / batchSize));
  const start = performance.now();
  for (let b = 0; b < batches; b++) writeBatch.immediate(b);
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return { salesPerSecond: (batches * batchSize) / seconds };
}

/**
 * The "one durable commit per sale" bound: the same writes, each sale in its own
 * `BEGIN IMMEDIATE … COMMIT` (one fsync per sale), which is what tills sending one sale per
 * request cost a server that commits each request on its own. Group commit is judged against
 * it: sales from many tills sharing an fsync should pass it.
 */
export function measureOneCommitPerSaleBound(file: string, totalSales: number): { salesPerSecond: number } {
  return measureStorageBound(file, 1, totalSales);
}
