import type { HistoriqueVente, ModePaiement } from '@ventesync/shared';
import { type Db, SOMME_CENTIMES } from './db/open-database.js';
import {
  groupRetours,
  type HistoriqueFilter,
  historiquePage,
  type LigneRow,
  LOW_STOCK_THRESHOLD,
  MAX_DATE,
  MAX_RETOURS_PAR_VENTE,
  MAX_STOCK_BAS_ARTICLES,
  MAX_STOCK_NEGATIF_ARTICLES,
  MAX_STOCK_NEGATIF_VENTES,
  MIN_DATE,
  type ModeRows,
  type RetourRow,
  type RetoursOfVente,
  type StockNegatifArticle,
  type StockNegatifVente,
  statistiquesDay,
  statistiquesOf,
  type VenteRow,
} from './sale-read-shapes.js';

// The shapes and bounds are backend-neutral (sale-read-shapes.ts); re-exported for existing callers.
export {
  type HistoriqueFilter,
  LOW_STOCK_THRESHOLD,
  MAX_RETOURS_PAR_VENTE,
  MAX_STOCK_NEGATIF_ARTICLES,
  MAX_STOCK_NEGATIF_VENTES,
  type StockNegatifArticle,
  type StockNegatifVente,
} from './sale-read-shapes.js';

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
    lignes: db.prepare<[string], LigneRow & { vente_id: number }>(`
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
      WHERE boutique_id = ? AND quantite_stock <= ? ORDER BY quantite_stock, id LIMIT ${MAX_STOCK_BAS_ARTICLES}`),
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

  /** Each sale's returns with their lines, for the sales of one history page. */
  function retoursOf(venteIds: number[]): Map<number, RetoursOfVente> {
    if (venteIds.length === 0) return new Map();
    const rows = stmt.retoursDesVentes.all(JSON.stringify(venteIds), MAX_RETOURS_PAR_VENTE);
    if (rows.length === 0) return new Map();
    return groupRetours(rows, stmt.lignesRetour.all(JSON.stringify(rows.map((r) => r.id))));
  }

  return {
    historique(filter: HistoriqueFilter): { total: number; ventes: HistoriqueVente[] } {
      const from = filter.from ?? MIN_DATE;
      const to = filter.to ?? MAX_DATE;
      const total =
        (filter.from === null && filter.to === null
          ? stmt.countAll.get(filter.boutiqueId)
          : stmt.count.get(filter.boutiqueId, from, to)) ?? 0;
      const rows = stmt.page.all(filter.boutiqueId, from, to, filter.limit, filter.offset);
      const lignes = rows.length > 0 ? stmt.lignes.all(JSON.stringify(rows.map((r) => r.id))) : [];
      return { total, ventes: historiquePage(rows, lignes, retoursOf(rows.map((r) => r.id))) };
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
      // The day's returns by their date_retour, over the same day as the running totals.
      const { jour, from, to } = statistiquesDay(now, fuseau);
      return statistiquesOf(jour, {
        chiffresJour: stmt.chiffresJour.all(boutiqueId, jour),
        retoursJour: stmt.retoursPeriode.all(boutiqueId, from, to),
        chiffresTotal: stmt.chiffresTotal.all(boutiqueId),
        retoursTotal: stmt.retoursTotal.all(boutiqueId),
        stockBas: stmt.stockBas.all(boutiqueId, LOW_STOCK_THRESHOLD),
        stockNegatif: stmt.stockNegatif.all(boutiqueId, boutiqueId, MAX_STOCK_NEGATIF_ARTICLES),
      });
    },
  };
}

export type SaleReader = ReturnType<typeof createSaleReader>;
