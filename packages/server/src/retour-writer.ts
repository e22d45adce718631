import type { RetourNormalise } from '@ventesync/shared';
import type { TerminalContext } from './catalogue-store.js';
import type { Db } from './db/open-database.js';
import {
  isRetourRefusal,
  priceRetour,
  processRetours,
  retourCree,
  type RetourRefusal,
  saleNotFound,
  type SoldLine,
  type StoredRetour,
  type WriteRetoursResult,
} from './retour-rules.js';

interface VenteRow {
  id: number;
  mode_paiement: string;
}

// The pricing of a return's units is shared with the relay (it prices a return of a sale it holds).
export { allocateReturn, type ReturnedPart } from '@ventesync/shared';
export type { DateRetourRemplacee, WriteRetoursResult } from './retour-rules.js';

/** Thrown inside a return's savepoint to undo that return alone. */
class ReturnRejected extends Error {
  constructor(readonly refusal: RetourRefusal) {
    super(refusal.erreur);
  }
}

/**
 * Writes batches of returns inside the group commit's transaction, as the sale writer does for
 * sales: one savepoint per return, one durable commit per group. The check "no more than the
 * sale sold, all returns together" reads the returns already stored under the write lock the
 * group holds (BEGIN IMMEDIATE): two requests that race are written one after the other, so
 * the second sees the first and is refused when together they exceed the sale.
 */
export function createRetourWriter(db: Db) {
  const stmt = {
    findRetour: db.prepare<[number, string], StoredRetour>(`
      SELECT r.numero_retour, v.numero_facture, r.montant_total, r.date_retour, r.terminal_serial AS serial, r.empreinte
      FROM retours r JOIN ventes v ON v.id = r.vente_id
      WHERE r.boutique_id = ? AND r.numero_retour = ?`),
    findVente: db.prepare<[number, string], VenteRow>(
      'SELECT id, mode_paiement FROM ventes WHERE boutique_id = ? AND numero_facture = ?',
    ),
    dateVente: db.prepare<[number, string], string>('SELECT date_vente FROM ventes WHERE boutique_id = ? AND numero_facture = ?').pluck(),
    soldLines: db.prepare<[number], SoldLine>(`
      SELECT l.article_id, a.nom AS article_nom, l.quantite, l.prix_unitaire
      FROM lignes_vente l JOIN articles a ON a.id = l.article_id
      WHERE l.vente_id = ? ORDER BY l.id`),
    returnedQuantities: db.prepare<[number], { article_id: number; quantite: number }>(`
      SELECT lr.article_id, SUM(lr.quantite) AS quantite
      FROM lignes_retour lr JOIN retours r ON r.id = lr.retour_id
      WHERE r.vente_id = ? GROUP BY lr.article_id`),
    insertRetour: db.prepare<[number, string, number, string, string, string, string, string | null, number, string, string | null]>(`
      INSERT INTO retours (boutique_id, numero_retour, vente_id, terminal_serial, date_retour, date_reception,
                           mode_paiement, motif, montant_total, empreinte, date_retour_caisse)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertLigne: db.prepare<[number | bigint, number, number, number, number]>(
      'INSERT INTO lignes_retour (retour_id, article_id, quantite, prix_unitaire, sous_total) VALUES (?, ?, ?, ?, ?)',
    ),
    incrementStock: db
      .prepare<[number, number], number>('UPDATE articles SET quantite_stock = quantite_stock + ? WHERE id = ? RETURNING quantite_stock')
      .pluck(),
    insertMouvement: db.prepare<[number, number, number, number, string, string, string]>(`
      INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
      VALUES (?, 'RETOUR', ?, ?, ?, ?, ?, ?)`),
  };

  const writeOne = db.transaction(
    (terminal: TerminalContext, retour: RetourNormalise, empreinte: string, dateRetour: string, receivedAt: string, dateCaisse: string | null) => {
      const vente = stmt.findVente.get(terminal.boutique_id, retour.numero_facture);
      if (!vente) throw new ReturnRejected(saleNotFound(retour.numero_facture, terminal.boutique_nom));
      const returned = new Map(stmt.returnedQuantities.all(vente.id).map((r) => [r.article_id, r.quantite]));
      const priced = priceRetour(retour, stmt.soldLines.all(vente.id), returned);
      if (isRetourRefusal(priced)) throw new ReturnRejected(priced);
      const retourId = stmt.insertRetour.run(
        terminal.boutique_id,
        retour.numero_retour,
        vente.id,
        terminal.serial,
        dateRetour,
        receivedAt,
        vente.mode_paiement,
        retour.motif,
        priced.montant,
        empreinte,
        dateCaisse,
      ).lastInsertRowid;
      for (const l of priced.lignes) {
        stmt.insertLigne.run(retourId, l.article_id, l.quantite, l.prix, l.sousTotal);
        const after = stmt.incrementStock.get(l.quantite, l.article_id)!;
        stmt.insertMouvement.run(l.article_id, l.quantite, after - l.quantite, after, retour.numero_retour, terminal.serial, receivedAt);
      }
      return retourCree(retour, priced);
    },
  );

  function writeBatch(terminal: TerminalContext, items: unknown[], receivedAt: Date): WriteRetoursResult {
    const receivedIso = receivedAt.toISOString();
    return processRetours(
      items,
      terminal.serial,
      receivedAt,
      (numero) => stmt.findRetour.get(terminal.boutique_id, numero),
      (numero) => stmt.dateVente.get(terminal.boutique_id, numero),
      (retour, empreinte, dateRetour, dateCaisse) => {
        try {
          return writeOne(terminal, retour, empreinte, dateRetour, receivedIso, dateCaisse);
        } catch (error) {
          // SQLITE_BUSY or SQLITE_FULL end the group's transaction: the whole request fails.
          if (!(error instanceof ReturnRejected) || !db.inTransaction) throw error;
          return error.refusal;
        }
      },
    );
  }

  return {
    /**
     * Validates and writes a batch of returns inside the group commit's open transaction (the
     * request already has its savepoint); each return gets its own.
     */
    writeRetoursInSavepoint(terminal: TerminalContext, items: unknown[], receivedAt: Date): WriteRetoursResult {
      if (!db.inTransaction) throw new Error('writeRetoursInSavepoint en dehors de toute transaction');
      return writeBatch(terminal, items, receivedAt);
    },
  };
}

export type RetourWriter = ReturnType<typeof createRetourWriter>;
