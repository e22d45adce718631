import {
  allocateReturn,
  type Centimes,
  formatMoney,
  ligneCreee,
  mergeLignesRetour,
  rawRetourField,
  type RetourCree,
  type RetourErreur,
  retourFingerprint,
  type RetourNormalise,
  type RetoursOutcome,
  type ReturnErrorCode,
  validateRetour,
} from '@ventesync/shared';
import type { TerminalContext } from './catalogue-store.js';
import type { Db } from './db/open-database.js';
import { MAX_CLOCK_AHEAD_MS } from './sale-writer.js';

interface StoredRetourRow {
  numero_retour: string;
  numero_facture: string;
  montant_total: number;
  date_retour: string;
  serial: string;
  empreinte: string;
}

interface VenteRow {
  id: number;
  mode_paiement: string;
}

interface SoldLine {
  article_id: number;
  article_nom: string;
  quantite: number;
  prix_unitaire: number;
}

// The pricing of a return's units is shared with the relay (it prices a return of a sale it holds).
export { allocateReturn, type ReturnedPart } from '@ventesync/shared';

/** A return whose till's date was ahead of the server's clock: stored at reception, for the log. */
export interface DateRetourRemplacee {
  numero_retour: string;
  date_retour_caisse: string;
  date_retour: string;
}

export interface WriteRetoursResult extends RetoursOutcome {
  datesRemplacees: DateRetourRemplacee[];
}

/** Thrown inside a return's savepoint to undo that return alone. */
class ReturnRejected extends Error {
  constructor(
    readonly code: ReturnErrorCode,
    message: string,
  ) {
    super(message);
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
    findRetour: db.prepare<[number, string], StoredRetourRow>(`
      SELECT r.numero_retour, v.numero_facture, r.montant_total, r.date_retour, r.terminal_serial AS serial, r.empreinte
      FROM retours r JOIN ventes v ON v.id = r.vente_id
      WHERE r.boutique_id = ? AND r.numero_retour = ?`),
    findVente: db.prepare<[number, string], VenteRow>(
      'SELECT id, mode_paiement FROM ventes WHERE boutique_id = ? AND numero_facture = ?',
    ),
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

  interface PricedLigne {
    article_id: number;
    article_nom: string;
    quantite: number;
    prix: Centimes;
    sousTotal: Centimes;
  }

  /** The return's lines priced from the sale, or the refusal: what is left to return is checked here. */
  function price(retour: RetourNormalise, venteId: number): { lignes: PricedLigne[]; montant: Centimes } {
    const sold = new Map<number, SoldLine[]>();
    for (const l of stmt.soldLines.all(venteId)) {
      const lines = sold.get(l.article_id);
      if (lines) lines.push(l);
      else sold.set(l.article_id, [l]);
    }
    const returned = new Map(stmt.returnedQuantities.all(venteId).map((r) => [r.article_id, r.quantite]));
    const lignes: PricedLigne[] = [];
    let montant = 0;
    for (const asked of mergeLignesRetour(retour.lignes)) {
      const lines = sold.get(asked.article_id) ?? [];
      const soldQty = lines.reduce((sum, l) => sum + l.quantite, 0);
      const already = returned.get(asked.article_id) ?? 0;
      const parts = allocateReturn(
        lines.map((l) => ({ quantite: l.quantite, prix: l.prix_unitaire })),
        already,
        asked.quantite,
      );
      if (parts === null) {
        const message =
          soldQty === 0
            ? `La vente ${retour.numero_facture} ne contient pas l'article ${asked.article_id}`
            : `Retour de ${asked.quantite} ${lines[0]!.article_nom} refusé : la vente ${retour.numero_facture} en a vendu ${soldQty}, déjà rendu(s) ${already}, reste ${soldQty - already}`;
        throw new ReturnRejected('RETURN_EXCEEDS_SALE', message);
      }
      for (const part of parts) {
        // Bounded by the sale's own sous_totals, which were checked to be safe integers.
        const sousTotal = part.prix * part.quantite;
        montant += sousTotal;
        lignes.push({ article_id: asked.article_id, article_nom: lines[0]!.article_nom, quantite: part.quantite, prix: part.prix, sousTotal });
      }
    }
    return { lignes, montant };
  }

  const writeOne = db.transaction(
    (terminal: TerminalContext, retour: RetourNormalise, empreinte: string, receivedAt: string, dateCaisse: string | null): RetourCree => {
      const vente = stmt.findVente.get(terminal.boutique_id, retour.numero_facture);
      if (!vente) {
        throw new ReturnRejected(
          'SALE_NOT_FOUND',
          `Vente ${retour.numero_facture} introuvable dans la boutique ${terminal.boutique_nom}`,
        );
      }
      const { lignes, montant } = price(retour, vente.id);
      const retourId = stmt.insertRetour.run(
        terminal.boutique_id,
        retour.numero_retour,
        vente.id,
        terminal.serial,
        dateCaisse === null ? (retour.date_retour ?? receivedAt) : receivedAt,
        receivedAt,
        vente.mode_paiement,
        retour.motif,
        montant,
        empreinte,
        dateCaisse,
      ).lastInsertRowid;
      for (const l of lignes) {
        stmt.insertLigne.run(retourId, l.article_id, l.quantite, l.prix, l.sousTotal);
        const after = stmt.incrementStock.get(l.quantite, l.article_id)!;
        stmt.insertMouvement.run(l.article_id, l.quantite, after - l.quantite, after, retour.numero_retour, terminal.serial, receivedAt);
      }
      return {
        numero_retour: retour.numero_retour,
        numero_facture: retour.numero_facture,
        montant_total: formatMoney(montant),
        lignes: lignes.map((l) => ligneCreee(l.article_nom, l.quantite, l.prix, l.sousTotal)),
      };
    },
  );

  function writeBatch(terminal: TerminalContext, items: unknown[], receivedAt: Date): WriteRetoursResult {
    const receivedIso = receivedAt.toISOString();
    // A till's clock far ahead would put the refund on a day still to come: as for sales.
    const latestTrusted = new Date(receivedAt.getTime() + MAX_CLOCK_AHEAD_MS).toISOString();
    const outcome: WriteRetoursResult = { crees: [], erreurs: [], datesRemplacees: [] };
    const usedInRequest = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const raw = items[i];
      const validation = validateRetour(raw);
      if (!validation.ok) {
        const numero = rawRetourField(raw, 'numero_retour');
        if (numero !== null) usedInRequest.add(numero);
        outcome.erreurs.push({
          index: i + 1,
          numero_retour: numero,
          numero_facture: rawRetourField(raw, 'numero_facture'),
          erreur: validation.erreur,
          code: 'INVALID_RETURN',
        });
        continue;
      }
      const retour = validation.retour;
      const empreinte = retourFingerprint(retour);
      const stored = stmt.findRetour.get(terminal.boutique_id, retour.numero_retour);
      if (stored !== undefined || usedInRequest.has(retour.numero_retour)) {
        outcome.erreurs.push({
          index: i + 1,
          numero_retour: retour.numero_retour,
          numero_facture: retour.numero_facture,
          erreur: `Retour ${retour.numero_retour} existe déjà, ignoré`,
          code: 'DUPLICATE',
          retour_existant: stored
            ? {
                numero_retour: stored.numero_retour,
                numero_facture: stored.numero_facture,
                montant_total: formatMoney(stored.montant_total),
                date_retour: stored.date_retour,
              }
            : null,
          // As for sales: only a stored return sent by this very terminal with this content.
          identique: stored !== undefined && stored.serial === terminal.serial && stored.empreinte === empreinte,
        });
        continue;
      }
      usedInRequest.add(retour.numero_retour);
      const dateCaisse = retour.date_retour !== null && retour.date_retour > latestTrusted ? retour.date_retour : null;
      try {
        outcome.crees.push(writeOne(terminal, retour, empreinte, receivedIso, dateCaisse));
        if (dateCaisse !== null) {
          outcome.datesRemplacees.push({ numero_retour: retour.numero_retour, date_retour_caisse: dateCaisse, date_retour: receivedIso });
        }
      } catch (error) {
        // SQLITE_BUSY or SQLITE_FULL end the group's transaction: the whole request fails.
        if (!(error instanceof ReturnRejected) || !db.inTransaction) throw error;
        const erreur: RetourErreur = {
          index: i + 1,
          numero_retour: retour.numero_retour,
          numero_facture: retour.numero_facture,
          erreur: error.message,
          code: error.code,
        };
        outcome.erreurs.push(erreur);
      }
    }
    return outcome;
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
