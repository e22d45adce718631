import {
  type Centimes,
  createNumeroGenerator,
  formatMoney,
  ligneCreee,
  localDayOf,
  multiplyMoney,
  processSales,
  type SaleErrorCode,
  type SaleRefusal,
  type SalesOutcome,
  type SaleStorage,
  type StoredSale,
  type Avertissement,
  type VenteCreee,
  type VenteNormalisee,
} from '@ventesync/shared';
import type { ArticleRow, TerminalContext } from './catalogue-store.js';
import type { Db } from './db/open-database.js';

/**
 * CONTRACT §7, till clocks: a date_vente further ahead of the server's clock than this is not
 * trusted. Ten minutes covers a till's clock drifting between two settings; a date beyond it
 * would file the sale under a day that has not come yet.
 */
export const MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000;

/**
 * README, money rule: a row of chiffres_jour (a boutique's local day and payment mode) is a
 * SQLite integer, so at most 2^63 - 1 centimes; added past it, SQLite would turn it into an
 * inexact REAL. A sale that would take its row past this is refused (INVALID_SALE): no shop
 * takes 92 million billion units a day, and every total stays exact.
 */
export const MAX_CHIFFRES_JOUR_CENTIMES = 2n ** 63n - 1n;

/** A sale whose till date was ahead: stored with the reception time, the till's value kept. */
export interface DateRemplacee {
  numero_facture: string;
  /** As the till sent it (in UTC). */
  date_vente_caisse: string;
  /** The reception time, now its date_vente. */
  date_vente: string;
}

export interface WriteSalesResult extends SalesOutcome {
  /** For the route's warning lines; empty when every till clock was fine. */
  datesRemplacees: DateRemplacee[];
}

export interface WriteSalesOptions {
  /**
   * Sent by a registered relay (checked signature): the sales already happened in the shop, so
   * a short stock does not refuse them (CONTRACT §7).
   */
  viaRelay?: boolean;
}

interface StoredRow {
  numero_facture: string;
  montant_total: number;
  date_vente: string;
  serial: string;
  empreinte: string;
}

/** Thrown inside a sale's savepoint to undo that sale alone. */
class SaleRejected extends Error {
  constructor(
    readonly code: SaleErrorCode,
    message: string,
    readonly articleId?: number,
  ) {
    super(message);
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

  interface PricedLigne {
    article: ArticleRow;
    quantite: number;
    prix: Centimes;
    sousTotal: Centimes;
  }

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
          if (!allowNegative) throw new SaleRejected('INSUFFICIENT_STOCK', l.article.nom, l.article.id);
          after = stmt.forceDecrementStock.get(l.quantite, l.article.id)!;
          avertissements = noteShortfall(avertissements, lignes, l, after);
        }
        stmt.insertLigne.run(venteId, l.article.id, l.quantite, l.prix, l.sousTotal);
        stmt.insertMouvement.run(l.article.id, l.quantite, after + l.quantite, after, numero, terminal.serial, receivedAt);
      }
      return avertissements;
    },
  );

  /**
   * The sale's shortfall on this line's article: what it took that the stock did not have, all
   * its lines of that article so far counted together (at most that quantity: a stock already
   * below zero is not this sale's doing). One warning per article, kept up to date line by line.
   */
  function noteShortfall(
    avertissements: Avertissement[] | null,
    lignes: PricedLigne[],
    ligne: PricedLigne,
    after: number,
  ): Avertissement[] {
    const list = avertissements ?? [];
    let taken = 0;
    for (const l of lignes) {
      if (l.article.id === ligne.article.id) taken += l.quantite;
      if (l === ligne) break;
    }
    const manque = Math.min(taken, -after);
    const existing = list.find((a) => a.article_id === ligne.article.id);
    if (existing) existing.manque = manque;
    else list.push({ code: 'STOCK_NEGATIF', article_id: ligne.article.id, manque });
    return list;
  }

  function price(terminal: TerminalContext, vente: VenteNormalisee, articles: Map<number, ArticleRow | undefined>) {
    const lignes: PricedLigne[] = [];
    let montant = 0;
    for (const [i, l] of vente.lignes.entries()) {
      let article = articles.get(l.article_id);
      if (!articles.has(l.article_id)) {
        article = stmt.article.get(l.article_id, terminal.boutique_id);
        articles.set(l.article_id, article);
      }
      if (!article) {
        throw new SaleRejected(
          'ARTICLE_NOT_FOUND',
          `Ligne ${i + 1} : l'article ${l.article_id} n'existe pas dans la boutique ${terminal.boutique_nom}`,
        );
      }
      const prix = l.prix_unitaire ?? article.prix_vente;
      const sousTotal = multiplyMoney(prix, l.quantite);
      montant += sousTotal ?? Number.POSITIVE_INFINITY;
      if (sousTotal === null || !Number.isSafeInteger(montant)) {
        throw new SaleRejected('INVALID_SALE', `Ligne ${i + 1} : montant trop élevé`);
      }
      lignes.push({ article, quantite: l.quantite, prix, sousTotal });
    }
    return { lignes, montant };
  }

  // Read after the savepoint rolled back: the stock as it was before this sale.
  function insufficientStockMessage(vente: VenteNormalisee, articleId: number, articleNom: string): string {
    const demande = vente.lignes.filter((l) => l.article_id === articleId).reduce((sum, l) => sum + l.quantite, 0);
    const disponible = stmt.stockOf.get(articleId) ?? 0;
    return `Stock insuffisant pour ${articleNom} : demandé ${demande}, disponible ${disponible}`;
  }

  function writeBatchSteps(terminal: TerminalContext, items: unknown[], receivedAt: Date, options: WriteSalesOptions): WriteSalesResult {
    const receivedIso = receivedAt.toISOString();
    // Dates are UTC ISO text of one length (years 0000–9999): comparing the text compares the instants.
    const latestTrusted = new Date(receivedAt.getTime() + MAX_CLOCK_AHEAD_MS).toISOString();
    const regles = stmt.regles.get(terminal.boutique_id) ?? terminal;
    const allowNegative = options.viaRelay === true || regles.stock_negatif === 'autoriser';
    const fuseau = regles.fuseau;
    const utc = fuseau === 'UTC';
    const datesRemplacees: DateRemplacee[] = [];
    // The running totals of the sales written, per day and mode: one upsert per pair at the end
    // of the request instead of one per sale. Inside the request's transaction or savepoint,
    // so they are undone with it. `stored` is the row as this request found it, read once, for
    // MAX_CHIFFRES_JOUR_CENTIMES.
    const chiffres = new Map<string, { jour: string; mode: string; nombre: number; montant: bigint; stored: bigint }>();
    // Article rows are read once per request; their stock is re-checked by the UPDATE itself.
    const articles = new Map<number, ArticleRow | undefined>();
    const boutiqueId = terminal.boutique_id;
    const storage: SaleStorage = {
      findSale(numero): StoredSale | undefined {
        const row = stmt.findVente.get(boutiqueId, numero);
        return row && { ...row, montant_total: formatMoney(row.montant_total) };
      },
      numeroTaken: (numero) => stmt.numeroTaken.get(boutiqueId, numero) !== undefined,
    };

    const store = (vente: VenteNormalisee, numero: string, empreinte: string): VenteCreee | SaleRefusal => {
      let priced: ReturnType<typeof price>;
      let avertissements: Avertissement[] | null;
      try {
        priced = price(terminal, vente, articles);
        // A till date too far ahead is replaced; the fingerprint, made earlier from the sale as
        // sent, keeps the till's value, so a resend of it is still recognised as this sale.
        let dateVente = vente.date_vente ?? receivedIso;
        let dateCaisse: string | null = null;
        if (dateVente > latestTrusted) {
          dateCaisse = dateVente;
          dateVente = receivedIso;
        }
        // Stored dates are UTC ISO text: in UTC the day is its first ten characters.
        const jour = utc ? dateVente.slice(0, 10) : localDayOf(dateVente, fuseau);
        const key = `${jour} ${vente.mode_paiement}`;
        let total = chiffres.get(key);
        if (!total) {
          const stored = stmt.chiffresStored.get(boutiqueId, jour, vente.mode_paiement) ?? 0n;
          total = { jour, mode: vente.mode_paiement, nombre: 0, montant: 0n, stored };
          chiffres.set(key, total);
        }
        const montant = BigInt(priced.montant);
        if (total.stored + total.montant + montant > MAX_CHIFFRES_JOUR_CENTIMES) {
          throw new SaleRejected('INVALID_SALE', `Total du jour ${jour} (${vente.mode_paiement}) trop élevé`);
        }
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
        if (dateCaisse !== null) datesRemplacees.push({ numero_facture: numero, date_vente_caisse: dateCaisse, date_vente: dateVente });
        total.nombre++;
        total.montant += montant;
      } catch (error) {
        // SQLITE_BUSY or SQLITE_FULL end the outer transaction too: then nothing is saved and
        // the whole request must fail, not carry on outside any transaction.
        if (!(error instanceof SaleRejected) || !db.inTransaction) throw error;
        const erreur =
          error.articleId === undefined ? error.message : insufficientStockMessage(vente, error.articleId, error.message);
        return { code: error.code, erreur };
      }
      const creee: VenteCreee = {
        numero_facture: numero,
        montant_total: formatMoney(priced.montant),
        lignes: priced.lignes.map((l) => ligneCreee(l.article.nom, l.quantite, l.prix, l.sousTotal)),
      };
      if (avertissements) creee.avertissements = avertissements;
      return creee;
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
