import { formatMoney, type HistoriqueRetour, type HistoriqueVente, localDayBounds, localDayOf, type ModePaiement, MODES_PAIEMENT } from '@ventesync/shared';

/**
 * How the reads of sales are shaped for the API and the CLI, the same whatever the database
 * (SQLite's sale-reader.ts, PostgreSQL's postgres/pg-sale-reads.ts): each backend reads its
 * rows, these turn them into the answers. Amounts come in as centimes (numbers for one sale,
 * integer text or bigints for sums: README, money rule).
 */

export const LOW_STOCK_THRESHOLD = 5;
/**
 * Most returns shown with one sale in the history, oldest first; `retours_omis` counts the
 * rest. A sale of many units could be given back one unit at a time: the page stays bounded.
 */
export const MAX_RETOURS_PAR_VENTE = 10;
/** `stock negatif` and statistiques list at most this many articles below zero, lowest first. */
export const MAX_STOCK_NEGATIF_ARTICLES = 100;
/** Per article, at most this many of the sales that took it below zero (the oldest first). */
export const MAX_STOCK_NEGATIF_VENTES = 50;
/** Articles listed as low on stock in statistiques, lowest first. */
export const MAX_STOCK_BAS_ARTICLES = 100;

// Open bounds are passed as values that sort before and after any stored ISO date (years
// 0000–9999, so from '0000-01-01T00:00:00.000Z' to '9999-12-31T23:59:59.999Z').
export const MIN_DATE = '0000';
export const MAX_DATE = '9999-12-32';

export interface HistoriqueFilter {
  boutiqueId: number;
  limit: number;
  offset: number;
  /** inclusive ISO bound */
  from: string | null;
  /** exclusive ISO bound */
  to: string | null;
}

export interface VenteRow {
  id: number;
  numero_facture: string;
  date_vente: string;
  montant_total: number;
  mode_paiement: ModePaiement;
  paye: number;
  terminal: string;
  date_vente_caisse: string | null;
}

export interface LigneRow {
  article_id: number;
  article_nom: string;
  quantite: number;
  prix_unitaire: number;
  sous_total: number;
}

export interface RetourRow {
  id: number;
  vente_id: number;
  numero_retour: string;
  date_retour: string;
  montant_total: number;
  motif: string | null;
  terminal: string;
  date_retour_caisse: string | null;
  /** How many returns the sale has in all. */
  nombre: number;
}

export interface ChiffresMode {
  nombre_ventes: number;
  chiffre_affaires: string;
  nombre_retours: number;
  montant_retours: string;
}

export interface Chiffres extends ChiffresMode {
  par_mode_paiement: Record<string, ChiffresMode>;
}

export type ModeRows = Array<{ mode_paiement: string; nombre: number; montant: string | number | bigint }>;
export type ChiffresRows = Array<{ mode_paiement: string; nombre_ventes: number; montant_total: number | string | bigint }>;

export interface StockNegatifVente {
  numero_facture: string | null;
  terminal_serial: string | null;
  quantite: number;
  stock_avant: number;
  stock_apres: number;
  date: string;
}

export interface StockNegatifArticle {
  id: number;
  boutique_id: number;
  nom: string;
  quantite_stock: number;
  /** The sales since the stock was last at or above zero: the ones that took it below. */
  ventes: StockNegatifVente[];
  /** Those sales beyond MAX_STOCK_NEGATIF_VENTES, the most recent: counted, not listed. */
  ventes_omises: number;
}

export const ligneOf = (l: LigneRow) => ({
  article_id: l.article_id,
  article_nom: l.article_nom,
  quantite: l.quantite,
  prix_unitaire: formatMoney(l.prix_unitaire),
  sous_total: formatMoney(l.sous_total),
});

/** Sales and returns per mode; chiffre_affaires is net: the returns' amount is taken off. */
// Amounts summed as bigints: a day's or a history's total can pass 2^53 centimes (README, money rule).
export function summarise(rows: ChiffresRows, retours: ModeRows): Chiffres {
  const par_mode_paiement: Chiffres['par_mode_paiement'] = {};
  let nombre = 0;
  let montant = 0n;
  let nombreRetours = 0;
  let montantRetours = 0n;
  for (const mode of MODES_PAIEMENT) {
    const row = rows.find((r) => r.mode_paiement === mode);
    const retour = retours.find((r) => r.mode_paiement === mode);
    const ventes = BigInt(row?.montant_total ?? 0);
    const rendu = BigInt(retour?.montant ?? 0);
    nombre += row?.nombre_ventes ?? 0;
    montant += ventes;
    nombreRetours += retour?.nombre ?? 0;
    montantRetours += rendu;
    par_mode_paiement[mode] = {
      nombre_ventes: row?.nombre_ventes ?? 0,
      chiffre_affaires: formatMoney(ventes - rendu),
      nombre_retours: retour?.nombre ?? 0,
      montant_retours: formatMoney(rendu),
    };
  }
  return {
    nombre_ventes: nombre,
    chiffre_affaires: formatMoney(montant - montantRetours),
    nombre_retours: nombreRetours,
    montant_retours: formatMoney(montantRetours),
    par_mode_paiement,
  };
}

export interface RetoursOfVente {
  retours: HistoriqueRetour[];
  omis: number;
}

/** Each sale's returns (rows already bounded to MAX_RETOURS_PAR_VENTE per sale) with their lines. */
export function groupRetours(rows: readonly RetourRow[], lignes: ReadonlyArray<LigneRow & { retour_id: number }>): Map<number, RetoursOfVente> {
  const byVente = new Map<number, RetoursOfVente>();
  const lignesOf = new Map<number, HistoriqueRetour['lignes']>(rows.map((r) => [r.id, []]));
  for (const l of lignes) lignesOf.get(l.retour_id)!.push(ligneOf(l));
  for (const r of rows) {
    let entry = byVente.get(r.vente_id);
    if (!entry) {
      entry = { retours: [], omis: r.nombre - Math.min(r.nombre, MAX_RETOURS_PAR_VENTE) };
      byVente.set(r.vente_id, entry);
    }
    entry.retours.push({
      numero_retour: r.numero_retour,
      date_retour: r.date_retour,
      montant_total: formatMoney(r.montant_total),
      motif: r.motif,
      terminal: r.terminal,
      lignes: lignesOf.get(r.id)!,
      ...(r.date_retour_caisse === null ? {} : { date_retour_caisse: r.date_retour_caisse }),
    });
  }
  return byVente;
}

const retoursFields = (entry: RetoursOfVente | undefined) =>
  entry === undefined ? {} : { retours: entry.retours, ...(entry.omis > 0 ? { retours_omis: entry.omis } : {}) };

/** A history page: the sales in page order, each with its lines and returns. */
export function historiquePage(
  rows: readonly VenteRow[],
  lignes: ReadonlyArray<LigneRow & { vente_id: number }>,
  retours: Map<number, RetoursOfVente>,
): HistoriqueVente[] {
  const lignesByVente = new Map<number, HistoriqueVente['lignes']>(rows.map((r) => [r.id, []]));
  for (const l of lignes) lignesByVente.get(l.vente_id)!.push(ligneOf(l));
  return rows.map((r) => ({
    numero_facture: r.numero_facture,
    date_vente: r.date_vente,
    montant_total: formatMoney(r.montant_total),
    mode_paiement: r.mode_paiement,
    paye: r.paye === 1,
    terminal: r.terminal,
    ...(r.date_vente_caisse !== null ? { date_vente_caisse: r.date_vente_caisse } : {}),
    lignes: lignesByVente.get(r.id)!,
    ...retoursFields(retours.get(r.id)),
  }));
}

/** "Today" for statistiques: the boutique's local day in `fuseau` (CONTRACT §7), and its instants for the returns. */
export function statistiquesDay(now: Date, fuseau: string): { jour: string; from: string; to: string } {
  const jour = localDayOf(now.getTime(), fuseau);
  return { jour, ...localDayBounds(jour, fuseau) };
}

/** The statistiques answer from its rows: today's and all-time totals, net of returns, and the stock lists. */
export function statistiquesOf(
  jour: string,
  rows: {
    chiffresJour: ChiffresRows;
    retoursJour: ModeRows;
    chiffresTotal: ChiffresRows;
    retoursTotal: ModeRows;
    stockBas: Array<{ id: number; nom: string; quantite_stock: number }>;
    stockNegatif: Array<{ id: number; nom: string; quantite_stock: number }>;
  },
) {
  return {
    aujourd_hui: { date: jour, ...summarise(rows.chiffresJour, rows.retoursJour) },
    total: summarise(rows.chiffresTotal, rows.retoursTotal),
    articles_stock_bas: rows.stockBas,
    seuil_stock_bas: LOW_STOCK_THRESHOLD,
    articles_stock_negatif: rows.stockNegatif.map((a) => ({ id: a.id, nom: a.nom, quantite_stock: a.quantite_stock })),
  };
}
