import {
  type Avertissement,
  type Centimes,
  createNumeroGenerator,
  formatMoney,
  processSales,
  type SaleRefusal,
  type SaleStorage,
  type StoredSale,
  type VenteCreee,
  type VenteNormalisee,
} from '@ventesync/shared';
import type { ArticleRow, TerminalContext } from './catalogue-store.js';
import type { Db } from './db/open-database.js';
import {
  allowsNegativeStock,
  dailyTotalRefusal,
  type DateRemplacee,
  insufficientStock,
  isRefusal,
  latestTrustedDate,
  noteShortfall,
  type PricedLigne,
  priceSale,
  saleDates,
  saleDay,
  venteCreee,
  type WriteSalesOptions,
  type WriteSalesResult,
} from './sale-rules.js';

// The rules live in sale-rules.ts (shared with PostgreSQL); re-exported for existing callers.
export {
  type DateRemplacee,
  MAX_CHIFFRES_JOUR_CENTIMES,
  MAX_CLOCK_AHEAD_MS,
  type WriteSalesOptions,
  type WriteSalesResult,
} from './sale-rules.js';

interface StoredRow {
  numero_facture: string;
  montant_total: number;
  date_vente: string;
  serial: string;
  empreinte: string;
}

/** Thrown inside a sale's savepoint to undo that sale alone: the line whose stock was short. */
class StockShort extends Error {
  constructor(readonly article: ArticleRow) {
    super(article.nom);
  }
}

/**
 * Writes sync batches inside the group commit's transaction (see group-commit.ts): the group
 * holds each request in a savepoint, and each sale here gets a savepoint of its own, so a
 * failing sale rolls back alone and the whole group pays one durable commit (an fsync with
 * synchronous=FULL). A crash before that commit leaves none of the group, so never half a
 * sale. better-sqlite3 runs the group synchronously: no other write interleaves, which is
 * what keeps concurrent terminals from overselling.
 */
export function createSaleWriter(db: Db) {
  const stmt = {
    findVente: db.prepare<[number, string], StoredRow>(
      'SELECT numero_facture, montant_total, date_vente, terminal_serial AS serial, empreinte FROM ventes WHERE boutique_id = ? AND numero_facture = ?',
    ),
    numeroTaken: db.prepare<[number, string], number>('SELECT 1 FROM ventes WHERE boutique_id = ? AND numero_facture = ?').pluck(),
    article: db.prepare<[number, number], ArticleRow>(
      'SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles WHERE id = ? AND boutique_id = ?',
    ),
    insertVente: db.prepare<[number, string, string, string, string, string, number, number, string, string | null]>(`
      INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception,
                          mode_paiement, paye, montant_total, empreinte, date_vente_caisse)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertLigne: db.prepare<[number | bigint, number, number, number, number]>(
      'INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total) VALUES (?, ?, ?, ?, ?)',
    ),
    // The stock check and the decrement are one statement: no row comes back when the stock
    // would go below zero, and earlier lines of the same sale have already been subtracted.
    decrementStock: db
      .prepare<[number, number, number], number>(
        'UPDATE articles SET quantite_stock = quantite_stock - ? WHERE id = ? AND quantite_stock >= ? RETURNING quantite_stock',
      )
      .pluck(),
    // A sale that happened offline (CONTRACT §7): taken whatever the stock, which may go below zero.
    forceDecrementStock: db
      .prepare<[number, number], number>('UPDATE articles SET quantite_stock = quantite_stock - ? WHERE id = ? RETURNING quantite_stock')
      .pluck(),
    stockOf: db.prepare<[number], number>('SELECT quantite_stock FROM articles WHERE id = ?').pluck(),
    insertMouvement: db.prepare<[number, number, number, number, string, string, string]>(`
      INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
      VALUES (?, 'SORTIE', ?, ?, ?, ?, ?, ?)`),
    chiffresStored: db
      .prepare<[number, string, string], bigint>(
        'SELECT montant_total FROM chiffres_jour WHERE boutique_id = ? AND jour = ? AND mode_paiement = ?',
      )
      .pluck()
      .safeIntegers(),
    // The boutique's rules as they are inside the write transaction: a zone or stock rule
    // changed by the CLI after the request looked its terminal up must still apply.
    regles: db.prepare<[number], { fuseau: string; stock_negatif: string }>('SELECT fuseau, stock_negatif FROM boutiques WHERE id = ?'),
    addChiffres: db.prepare<[number, string, string, number, bigint]>(`
      INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
      VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (boutique_id, jour, mode_paiement)
      DO UPDATE SET nombre_ventes = nombre_ventes + excluded.nombre_ventes, montant_total = montant_total + excluded.montant_total`),
  };

  // Shared by every request: the k-th sale generated in a second costs one lookup, not k.
  const numeros = createNumeroGenerator();

  /**
   * Writes one sale; returns its STOCK_NEGATIF warnings (null when the stock sufficed).
   * `allowNegative`: a short stock is taken below zero instead of refusing the sale.
   */
  const writeOne = db.transaction(
    (
      terminal: TerminalContext,
      vente: VenteNormalisee,
      numero: string,
      lignes: PricedLigne[],
      montant: Centimes,
      empreinte: string,
      receivedAt: string,
      dateVente: string,
      dateCaisse: string | null,
      allowNegative: boolean,
    ): Avertissement[] | null => {
      const venteId = stmt.insertVente.run(
        terminal.boutique_id,
        numero,
        terminal.serial,
        dateVente,
        receivedAt,
        vente.mode_paiement,
        vente.paye ? 1 : 0,
        montant,
        empreinte,
        dateCaisse,
      ).lastInsertRowid;
      let avertissements: Avertissement[] | null = null;
      for (const l of lignes) {
        let after = stmt.decrementStock.get(l.quantite, l.article.id, l.quantite);
        if (after === undefined) {
          if (!allowNegative) throw new StockShort(l.article);
          after = stmt.forceDecrementStock.get(l.quantite, l.article.id)!;
          avertissements = noteShortfall(avertissements, lignes, l, after);
        }
        stmt.insertLigne.run(venteId, l.article.id, l.quantite, l.prix, l.sousTotal);
        stmt.insertMouvement.run(l.article.id, l.quantite, after + l.quantite, after, numero, terminal.serial, receivedAt);
      }
      return avertissements;
    },
  );

  // Read after the savepoint rolled back: the stock as it was before this sale.
  const stockBefore = (article: ArticleRow) => stmt.stockOf.get(article.id) ?? 0;

  function writeBatchSteps(terminal: TerminalContext, items: unknown[], receivedAt: Date, options: WriteSalesOptions): WriteSalesResult {
    const receivedIso = receivedAt.toISOString();
    const latestTrusted = latestTrustedDate(receivedAt);
    const regles = stmt.regles.get(terminal.boutique_id) ?? terminal;
    const allowNegative = allowsNegativeStock(options, regles);
    const fuseau = regles.fuseau;
    const datesRemplacees: DateRemplacee[] = [];
    // The running totals of the sales written, per day and mode: one upsert per pair at the end
    // of the request instead of one per sale. Inside the request's transaction or savepoint,
    // so they are undone with it. `stored` is the row as this request found it, read once, for
    // MAX_CHIFFRES_JOUR_CENTIMES.
    const chiffres = new Map<string, { jour: string; mode: string; nombre: number; montant: bigint; stored: bigint }>();
    // Article rows are read once per request; their stock is re-checked by the UPDATE itself.
    const articles = new Map<number, ArticleRow | undefined>();
    const boutiqueId = terminal.boutique_id;
    const articleOf = (id: number): ArticleRow | undefined => {
      if (articles.has(id)) return articles.get(id);
      const article = stmt.article.get(id, boutiqueId);
      articles.set(id, article);
      return article;
    };
    const storage: SaleStorage = {
      findSale(numero): StoredSale | undefined {
        const row = stmt.findVente.get(boutiqueId, numero);
        return row && { ...row, montant_total: formatMoney(row.montant_total) };
      },
      numeroTaken: (numero) => stmt.numeroTaken.get(boutiqueId, numero) !== undefined,
    };

    const store = (vente: VenteNormalisee, numero: string, empreinte: string): VenteCreee | SaleRefusal => {
      const priced = priceSale(vente, terminal.boutique_nom, articleOf);
      if (isRefusal(priced)) return priced;
      const { dateVente, dateCaisse } = saleDates(vente.date_vente, receivedIso, latestTrusted);
      const jour = saleDay(dateVente, fuseau);
      const key = `${jour} ${vente.mode_paiement}`;
      let total = chiffres.get(key);
      if (!total) {
        const stored = stmt.chiffresStored.get(boutiqueId, jour, vente.mode_paiement) ?? 0n;
        total = { jour, mode: vente.mode_paiement, nombre: 0, montant: 0n, stored };
        chiffres.set(key, total);
      }
      const tooHigh = dailyTotalRefusal(total.stored + total.montant, priced.montant, jour, vente.mode_paiement);
      if (tooHigh) return tooHigh;
      let avertissements: Avertissement[] | null;
      try {
        avertissements = writeOne(
          terminal,
          vente,
          numero,
          priced.lignes,
          priced.montant,
          empreinte,
          receivedIso,
          dateVente,
          dateCaisse,
          allowNegative,
        );
      } catch (error) {
        // SQLITE_BUSY or SQLITE_FULL end the outer transaction too: then nothing is saved and
        // the whole request must fail, not carry on outside any transaction.
        if (!(error instanceof StockShort) || !db.inTransaction) throw error;
        return insufficientStock(vente, error.article, stockBefore(error.article));
      }
      if (dateCaisse !== null) datesRemplacees.push({ numero_facture: numero, date_vente_caisse: dateCaisse, date_vente: dateVente });
      total.nombre++;
      total.montant += BigInt(priced.montant);
      return venteCreee(numero, priced, avertissements);
    };

    const outcome = processSales(items, { serial: terminal.serial, boutiqueId, receivedAt, numeros }, storage, store);
    for (const t of chiffres.values()) if (t.nombre > 0) stmt.addChiffres.run(boutiqueId, t.jour, t.mode, t.nombre, t.montant);
    return { ...outcome, datesRemplacees };
  }

  return {
    /**
     * Validates and writes a batch; returns what was created and why the rest was not. The
     * caller holds this request in its own savepoint inside an open transaction (group
     * commit): no second savepoint around the batch. Each sale still has its own.
     */
    writeSalesInSavepoint(terminal: TerminalContext, items: unknown[], receivedAt: Date, options: WriteSalesOptions = {}): WriteSalesResult {
      if (!db.inTransaction) throw new Error('writeSalesInSavepoint en dehors de toute transaction');
      return writeBatchSteps(terminal, items, receivedAt, options);
    },
  };
}

export type SaleWriter = ReturnType<typeof createSaleWriter>;
