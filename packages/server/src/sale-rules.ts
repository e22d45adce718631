import {
  type Avertissement,
  type Centimes,
  formatMoney,
  ligneCreee,
  localDayOf,
  multiplyMoney,
  type SaleRefusal,
  type SalesOutcome,
  type VenteCreee,
  type VenteNormalisee,
} from '@ventesync/shared';
import type { ArticleRow } from './catalogue-store.js';

/**
 * The write path's business rules for sales, the same whatever the database (SQLite's
 * sale-writer.ts, PostgreSQL's postgres/pg-sale-writes.ts): pricing, the till clock, the local
 * day, the daily total's bound, the stock shortfall and the messages. Pure functions: each
 * writer reads and writes its own tables and asks these what to decide.
 */

/**
 * CONTRACT §7, till clocks: a date_vente further ahead of the server's clock than this is not
 * trusted. Ten minutes covers a till's clock drifting between two settings; a date beyond it
 * would file the sale under a day that has not come yet.
 */
export const MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000;

/**
 * README, money rule: a row of chiffres_jour (a boutique's local day and payment mode) is a
 * 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT), so at most 2^63 - 1 centimes; added past
 * it, SQLite would turn it into an inexact REAL and PostgreSQL would fail the whole request. A
 * sale that would take its row past this is refused (INVALID_SALE): no shop takes 92 million
 * billion units a day, and every total stays exact.
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

/** A boutique's rules as the write transaction reads them. */
export interface BoutiqueRules {
  fuseau: string;
  stock_negatif: string;
}

/** Whether a short stock is taken below zero instead of refusing the sale (CONTRACT §7). */
export function allowsNegativeStock(options: WriteSalesOptions, regles: BoutiqueRules): boolean {
  return options.viaRelay === true || regles.stock_negatif === 'autoriser';
}

export interface PricedLigne {
  article: ArticleRow;
  quantite: number;
  prix: Centimes;
  sousTotal: Centimes;
}

export interface PricedSale {
  lignes: PricedLigne[];
  montant: Centimes;
}

/**
 * The sale's lines priced: the till's prix_unitaire, else the article's price. An article not
 * in the boutique refuses the sale (ARTICLE_NOT_FOUND); an amount beyond exact integers too
 * (INVALID_SALE), never rounded. `articleOf` answers from the writer's rows (undefined: none).
 */
export function priceSale(
  vente: VenteNormalisee,
  boutiqueNom: string,
  articleOf: (articleId: number) => ArticleRow | undefined,
): PricedSale | SaleRefusal {
  const lignes: PricedLigne[] = [];
  let montant = 0;
  for (const [i, l] of vente.lignes.entries()) {
    const article = articleOf(l.article_id);
    if (!article) {
      return {
        code: 'ARTICLE_NOT_FOUND',
        erreur: `Ligne ${i + 1} : l'article ${l.article_id} n'existe pas dans la boutique ${boutiqueNom}`,
      };
    }
    const prix = l.prix_unitaire ?? article.prix_vente;
    const sousTotal = multiplyMoney(prix, l.quantite);
    montant += sousTotal ?? Number.POSITIVE_INFINITY;
    if (sousTotal === null || !Number.isSafeInteger(montant)) {
      return { code: 'INVALID_SALE', erreur: `Ligne ${i + 1} : montant trop élevé` };
    }
    lignes.push({ article, quantite: l.quantite, prix, sousTotal });
  }
  return { lignes, montant };
}

export const isRefusal = (value: object): value is SaleRefusal => 'code' in value;

/** The latest date_vente trusted for a request received at `receivedAt` (UTC ISO text). */
export function latestTrustedDate(receivedAt: Date): string {
  return new Date(receivedAt.getTime() + MAX_CLOCK_AHEAD_MS).toISOString();
}

/**
 * The date a sale is stored under. A till date too far ahead is replaced by the reception
 * time and kept as date_vente_caisse; the fingerprint, made earlier from the sale as sent,
 * keeps the till's value, so a resend of it is still recognised as this sale. Dates are UTC
 * ISO text of one length (years 0000–9999): comparing the text compares the instants.
 */
export function saleDates(
  dateVenteCaisse: string | null,
  receivedIso: string,
  latestTrusted: string,
): { dateVente: string; dateCaisse: string | null } {
  const dateVente = dateVenteCaisse ?? receivedIso;
  if (dateVente > latestTrusted) return { dateVente: receivedIso, dateCaisse: dateVente };
  return { dateVente, dateCaisse: null };
}

/** The boutique's local day of a stored date: its books' day and its chiffres_jour row. */
export function saleDay(dateVente: string, fuseau: string): string {
  // Stored dates are UTC ISO text: in UTC the day is its first ten characters.
  return fuseau === 'UTC' ? dateVente.slice(0, 10) : localDayOf(dateVente, fuseau);
}

/** The refusal when a sale would take its day's row past MAX_CHIFFRES_JOUR_CENTIMES; null when it fits. */
export function dailyTotalRefusal(totalSoFar: bigint, montant: Centimes, jour: string, mode: string): SaleRefusal | null {
  if (totalSoFar + BigInt(montant) <= MAX_CHIFFRES_JOUR_CENTIMES) return null;
  return { code: 'INVALID_SALE', erreur: `Total du jour ${jour} (${mode}) trop élevé` };
}

/**
 * The sale's shortfall on this line's article once its stock is `after`: what it took that the
 * stock did not have, all its lines of that article so far counted together (at most that
 * quantity: a stock already below zero is not this sale's doing). One warning per article,
 * kept up to date line by line.
 */
export function noteShortfall(
  avertissements: Avertissement[] | null,
  lignes: readonly PricedLigne[],
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

/** INSUFFICIENT_STOCK's reason: the sale's whole demand of the article, the stock before the sale. */
export function insufficientStock(vente: VenteNormalisee, article: ArticleRow, disponible: number): SaleRefusal {
  const demande = vente.lignes.filter((l) => l.article_id === article.id).reduce((sum, l) => sum + l.quantite, 0);
  return { code: 'INSUFFICIENT_STOCK', erreur: `Stock insuffisant pour ${article.nom} : demandé ${demande}, disponible ${disponible}` };
}

/** A stock movement a sale's line makes (type SORTIE). */
export interface StockStep {
  ligne: PricedLigne;
  stockAvant: number;
  stockApres: number;
}

/**
 * A sale's lines taken from a stock held in memory (a writer that locked and read the rows
 * first): each line takes its quantity when the stock has it; otherwise the sale is refused
 * (INSUFFICIENT_STOCK), or, when `allowNegative`, taken below zero with a STOCK_NEGATIF
 * warning. `stock` is changed only when the whole sale is taken: a refused sale leaves no trace
 * of its earlier lines. The same decisions as SQLite's conditional UPDATE, line by line.
 */
export function takeStock(
  vente: VenteNormalisee,
  priced: PricedSale,
  stock: Map<number, number>,
  allowNegative: boolean,
): { steps: StockStep[]; avertissements: Avertissement[] | null } | SaleRefusal {
  const working = new Map<number, number>();
  const steps: StockStep[] = [];
  let avertissements: Avertissement[] | null = null;
  for (const l of priced.lignes) {
    const id = l.article.id;
    const avant = working.get(id) ?? stock.get(id) ?? l.article.quantite_stock;
    const apres = avant - l.quantite;
    if (avant < l.quantite) {
      if (!allowNegative) return insufficientStock(vente, l.article, stock.get(id) ?? l.article.quantite_stock);
      avertissements = noteShortfall(avertissements, priced.lignes, l, apres);
    }
    working.set(id, apres);
    steps.push({ ligne: l, stockAvant: avant, stockApres: apres });
  }
  for (const [id, value] of working) stock.set(id, value);
  return { steps, avertissements };
}

/** The `ventes_creees` entry of a sale written. */
export function venteCreee(numero: string, priced: PricedSale, avertissements: Avertissement[] | null): VenteCreee {
  const creee: VenteCreee = {
    numero_facture: numero,
    montant_total: formatMoney(priced.montant),
    lignes: priced.lignes.map((l) => ligneCreee(l.article.nom, l.quantite, l.prix, l.sousTotal)),
  };
  if (avertissements) creee.avertissements = avertissements;
  return creee;
}
