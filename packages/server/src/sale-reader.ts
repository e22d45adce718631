import { formatMoney, localDayOf, type HistoriqueRetour, type HistoriqueVente, localDayBounds, type ModePaiement, MODES_PAIEMENT } from '@ventesync/shared';
import { type Db, SOMME_CENTIMES } from './db/open-database.js';

export interface HistoriqueFilter {
  boutiqueId: number;
  limit: number;
  offset: number;
  /** inclusive ISO bound */
  from: string | null;
  /** exclusive ISO bound */
  to: string | null;
}

interface VenteRow {
  id: number;
  numero_facture: string;
  date_vente: string;
  montant_total: number;
  mode_paiement: ModePaiement;
  paye: number;
  terminal: string;
  date_vente_caisse: string | null;
}

interface LigneRow {
  vente_id: number;
  article_id: number;
  article_nom: string;
  quantite: number;
  prix_unitaire: number;
  sous_total: number;
}

interface ChiffresMode {
  nombre_ventes: number;
  chiffre_affaires: string;
  nombre_retours: number;
  montant_retours: string;
}

interface Chiffres extends ChiffresMode {
  par_mode_paiement: Record<string, ChiffresMode>;
}

type ModeRows = Array<{ mode_paiement: string; nombre: number; montant: string }>;

interface RetourRow {
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

export interface RecentVenteRow {
  numero_facture: string;
  boutique_id: number;
  terminal: string;
  date_vente: string;
  montant_total: number;
  mode_paiement: ModePaiement;
  paye: number;
  nombre_lignes: number;
}

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

// Open bounds are passed as values that sort before and after any stored ISO date (years
// 0000–9999, so from '0000-01-01T00:00:00.000Z' to '9999-12-31T23:59:59.999Z').
const MIN_DATE = '0000';
const MAX_DATE = '9999-12-32';

/** The read side: history pages and statistics, served from indexes and running totals. */
export function createSaleReader(db: Db) {
  const stmt = {
    count: db
      .prepare<[number, string, string], number>(
        'SELECT COUNT(*) FROM ventes WHERE boutique_id = ? AND date_vente >= ? AND date_vente < ?',
      )
      .pluck(),
    // Without a date filter the total comes from the running totals: a few hundred rows
    // instead of counting a boutique's every sale.
    countAll: db
      .prepare<[number], number>('SELECT COALESCE(SUM(nombre_ventes), 0) FROM chiffres_jour WHERE boutique_id = ?')
      .pluck(),
    page: db.prepare<[number, string, string, number, number], VenteRow>(`
      SELECT v.id, v.numero_facture, v.date_vente, v.montant_total, v.mode_paiement, v.paye, t.nom AS terminal, v.date_vente_caisse
      FROM ventes v JOIN terminaux t ON t.serial = v.terminal_serial
      WHERE v.boutique_id = ? AND v.date_vente >= ? AND v.date_vente < ?
      ORDER BY v.date_vente DESC, v.id DESC
      LIMIT ? OFFSET ?`),
    // One statement for the lines of a whole page: the ids travel as a JSON array.
    lignes: db.prepare<[string], LigneRow>(`
      SELECT l.vente_id, l.article_id, a.nom AS article_nom, l.quantite, l.prix_unitaire, l.sous_total
      FROM lignes_vente l JOIN articles a ON a.id = l.article_id
      WHERE l.vente_id IN (SELECT value FROM json_each(?))
      ORDER BY l.id`),
    // As text: a row can hold more than 2^53 centimes, which a JavaScript number would round.
    chiffresJour: db.prepare<[number, string], { mode_paiement: string; nombre_ventes: number; montant_total: string }>(
      'SELECT mode_paiement, nombre_ventes, CAST(montant_total AS TEXT) AS montant_total FROM chiffres_jour WHERE boutique_id = ? AND jour = ?',
    ),
    chiffresTotal: db.prepare<[number], { mode_paiement: string; nombre_ventes: number; montant_total: string }>(`
      SELECT mode_paiement, SUM(nombre_ventes) AS nombre_ventes, ${SOMME_CENTIMES}(montant_total) AS montant_total
      FROM chiffres_jour WHERE boutique_id = ? GROUP BY mode_paiement`),
    recent: db.prepare<[number | null, number | null, number], RecentVenteRow>(`
      SELECT v.numero_facture, v.boutique_id, t.nom AS terminal, v.date_vente, v.montant_total, v.mode_paiement, v.paye,
             (SELECT COUNT(*) FROM lignes_vente l WHERE l.vente_id = v.id) AS nombre_lignes
      FROM ventes v JOIN terminaux t ON t.serial = v.terminal_serial
      WHERE (? IS NULL OR v.boutique_id = ?)
      ORDER BY v.id DESC LIMIT ?`),
    // Returns are summed from their own table (not kept in chiffres_jour): few rows, read
    // through the covering index retours_jour.
    retoursPeriode: db.prepare<[number, string, string], ModeRows[number]>(`
      SELECT mode_paiement, COUNT(*) AS nombre, ${SOMME_CENTIMES}(montant_total) AS montant FROM retours
      WHERE boutique_id = ? AND date_retour >= ? AND date_retour < ? GROUP BY mode_paiement`),
    retoursTotal: db.prepare<[number], ModeRows[number]>(`
      SELECT mode_paiement, COUNT(*) AS nombre, ${SOMME_CENTIMES}(montant_total) AS montant FROM retours
      WHERE boutique_id = ? GROUP BY mode_paiement`),
    // The returns of a page's sales, oldest first, and their lines: two statements per page.
    retoursDesVentes: db.prepare<[string, number], RetourRow>(`
      SELECT id, vente_id, numero_retour, date_retour, montant_total, motif, terminal, date_retour_caisse, nombre FROM (
        SELECT r.id, r.vente_id, r.numero_retour, r.date_retour, r.montant_total, r.motif, t.nom AS terminal, r.date_retour_caisse,
               ROW_NUMBER() OVER (PARTITION BY r.vente_id ORDER BY r.date_retour, r.id) AS rang,
               COUNT(*) OVER (PARTITION BY r.vente_id) AS nombre
        FROM retours r JOIN terminaux t ON t.serial = r.terminal_serial
        WHERE r.vente_id IN (SELECT value FROM json_each(?))
      ) WHERE rang <= ? ORDER BY vente_id, rang`),
    lignesRetour: db.prepare<[string], LigneRow & { retour_id: number }>(`
      SELECT l.retour_id, 0 AS vente_id, l.article_id, a.nom AS article_nom, l.quantite, l.prix_unitaire, l.sous_total
      FROM lignes_retour l JOIN articles a ON a.id = l.article_id
      WHERE l.retour_id IN (SELECT value FROM json_each(?))
      ORDER BY l.id`),
    stockBas: db.prepare<[number, number], { id: number; nom: string; quantite_stock: number }>(`
      SELECT id, nom, quantite_stock FROM articles
      WHERE boutique_id = ? AND quantite_stock <= ? ORDER BY quantite_stock, id LIMIT 100`),
    stockNegatif: db.prepare<[number | null, number | null, number], { id: number; boutique_id: number; nom: string; quantite_stock: number }>(`
      SELECT id, boutique_id, nom, quantite_stock FROM articles
      WHERE (? IS NULL OR boutique_id = ?) AND quantite_stock < 0 ORDER BY quantite_stock, id LIMIT ?`),
    // The sale movements of an article since its stock was last at or above zero.
    ventesSousZero: db.prepare<[number, number, number], StockNegatifVente>(`
      SELECT m.reference AS numero_facture, m.terminal_serial, m.quantite, m.stock_avant, m.stock_apres, m.date
      FROM mouvements_stock m
      WHERE m.article_id = ? AND m.type = 'SORTIE' AND m.stock_apres < 0
        AND m.id > COALESCE((SELECT MAX(id) FROM mouvements_stock WHERE article_id = ? AND stock_apres >= 0), 0)
      ORDER BY m.id LIMIT ?`),
    ventesSousZeroCount: db
      .prepare<[number, number], number>(`
        SELECT COUNT(*) FROM mouvements_stock m
        WHERE m.article_id = ? AND m.type = 'SORTIE' AND m.stock_apres < 0
          AND m.id > COALESCE((SELECT MAX(id) FROM mouvements_stock WHERE article_id = ? AND stock_apres >= 0), 0)`)
      .pluck(),
  };

  /** Sales and returns per mode; chiffre_affaires is net: the returns' amount is taken off. */
  // Amounts summed as bigints: a day's or a history's total can pass 2^53 centimes (README, money rule).
  function summarise(rows: Array<{ mode_paiement: string; nombre_ventes: number; montant_total: number | string }>, retours: ModeRows): Chiffres {
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

  /** Each sale's returns with their lines, for the sales of one history page. */
  function retoursOf(venteIds: number[]): Map<number, { retours: HistoriqueRetour[]; omis: number }> {
    const byVente = new Map<number, { retours: HistoriqueRetour[]; omis: number }>();
    if (venteIds.length === 0) return byVente;
    const rows = stmt.retoursDesVentes.all(JSON.stringify(venteIds), MAX_RETOURS_PAR_VENTE);
    if (rows.length === 0) return byVente;
    const lignes = new Map<number, HistoriqueRetour['lignes']>(rows.map((r) => [r.id, []]));
    for (const l of stmt.lignesRetour.all(JSON.stringify(rows.map((r) => r.id)))) {
      lignes.get(l.retour_id)!.push({
        article_id: l.article_id,
        article_nom: l.article_nom,
        quantite: l.quantite,
        prix_unitaire: formatMoney(l.prix_unitaire),
        sous_total: formatMoney(l.sous_total),
      });
    }
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
        lignes: lignes.get(r.id)!,
        ...(r.date_retour_caisse === null ? {} : { date_retour_caisse: r.date_retour_caisse }),
      });
    }
    return byVente;
  }

  const retoursFields = (entry: { retours: HistoriqueRetour[]; omis: number } | undefined) =>
    entry === undefined ? {} : { retours: entry.retours, ...(entry.omis > 0 ? { retours_omis: entry.omis } : {}) };

  return {
    historique(filter: HistoriqueFilter): { total: number; ventes: HistoriqueVente[] } {
      const from = filter.from ?? MIN_DATE;
      const to = filter.to ?? MAX_DATE;
      const total =
        (filter.from === null && filter.to === null
          ? stmt.countAll.get(filter.boutiqueId)
          : stmt.count.get(filter.boutiqueId, from, to)) ?? 0;
      const rows = stmt.page.all(filter.boutiqueId, from, to, filter.limit, filter.offset);
      const lignesByVente = new Map<number, HistoriqueVente['lignes']>(rows.map((r) => [r.id, []]));
      if (rows.length > 0) {
        for (const l of stmt.lignes.all(JSON.stringify(rows.map((r) => r.id)))) {
          lignesByVente.get(l.vente_id)!.push({
            article_id: l.article_id,
            article_nom: l.article_nom,
            quantite: l.quantite,
            prix_unitaire: formatMoney(l.prix_unitaire),
            sous_total: formatMoney(l.sous_total),
          });
        }
      }
      const retours = retoursOf(rows.map((r) => r.id));
      return {
        total,
        ventes: rows.map((r) => ({
          numero_facture: r.numero_facture,
          date_vente: r.date_vente,
          montant_total: formatMoney(r.montant_total),
          mode_paiement: r.mode_paiement,
          paye: r.paye === 1,
          terminal: r.terminal,
          ...(r.date_vente_caisse !== null ? { date_vente_caisse: r.date_vente_caisse } : {}),
          lignes: lignesByVente.get(r.id)!,
          ...retoursFields(retours.get(r.id)),
        })),
      };
    },

    /** The last sales received, all boutiques or one: what an operator checks first. */
    recentVentes: (boutiqueId: number | null, limit: number) => stmt.recent.all(boutiqueId, boutiqueId, limit),

    /** Articles below zero (all boutiques or one), each with the sales that took it there. */
    stockNegatif(boutiqueId: number | null): StockNegatifArticle[] {
      return stmt.stockNegatif.all(boutiqueId, boutiqueId, MAX_STOCK_NEGATIF_ARTICLES).map((a) => {
        const ventes = stmt.ventesSousZero.all(a.id, a.id, MAX_STOCK_NEGATIF_VENTES);
        // Counted only when the list is full: the common case costs no second pass.
        const omises = ventes.length < MAX_STOCK_NEGATIF_VENTES ? 0 : stmt.ventesSousZeroCount.get(a.id, a.id)! - ventes.length;
        return { ...a, ventes, ventes_omises: omises };
      });
    },

    /** "Today" is the boutique's local day in `fuseau` (CONTRACT §7), as are the running totals' days. */
    statistiques(boutiqueId: number, now: Date, fuseau = 'UTC') {
      const jour = localDayOf(now.getTime(), fuseau);
      // The day's returns by their date_retour, over the same day as the running totals.
      const { from, to } = localDayBounds(jour, fuseau);
      return {
        aujourd_hui: {
          date: jour,
          ...summarise(stmt.chiffresJour.all(boutiqueId, jour), stmt.retoursPeriode.all(boutiqueId, from, to)),
        },
        total: summarise(stmt.chiffresTotal.all(boutiqueId), stmt.retoursTotal.all(boutiqueId)),
        articles_stock_bas: stmt.stockBas.all(boutiqueId, LOW_STOCK_THRESHOLD),
        seuil_stock_bas: LOW_STOCK_THRESHOLD,
        articles_stock_negatif: stmt.stockNegatif
          .all(boutiqueId, boutiqueId, MAX_STOCK_NEGATIF_ARTICLES)
          .map((a) => ({ id: a.id, nom: a.nom, quantite_stock: a.quantite_stock })),
      };
    },
  };
}

export type SaleReader = ReturnType<typeof createSaleReader>;
