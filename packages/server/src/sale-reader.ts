import { formatMoney, type HistoriqueVente, type ModePaiement, MODES_PAIEMENT } from '@ventesync/shared';
import type { Db } from './db/open-database.js';

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
}

interface LigneRow {
  vente_id: number;
  article_id: number;
  article_nom: string;
  quantite: number;
  prix_unitaire: number;
  sous_total: number;
}

interface Chiffres {
  nombre_ventes: number;
  chiffre_affaires: string;
  par_mode_paiement: Record<string, { nombre_ventes: number; chiffre_affaires: string }>;
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
      SELECT v.id, v.numero_facture, v.date_vente, v.montant_total, v.mode_paiement, v.paye, t.nom AS terminal
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
    chiffresJour: db.prepare<[number, string], { mode_paiement: string; nombre_ventes: number; montant_total: number }>(
      'SELECT mode_paiement, nombre_ventes, montant_total FROM chiffres_jour WHERE boutique_id = ? AND jour = ?',
    ),
    chiffresTotal: db.prepare<[number], { mode_paiement: string; nombre_ventes: number; montant_total: number }>(`
      SELECT mode_paiement, SUM(nombre_ventes) AS nombre_ventes, SUM(montant_total) AS montant_total
      FROM chiffres_jour WHERE boutique_id = ? GROUP BY mode_paiement`),
    recent: db.prepare<[number | null, number | null, number], RecentVenteRow>(`
      SELECT v.numero_facture, v.boutique_id, t.nom AS terminal, v.date_vente, v.montant_total, v.mode_paiement, v.paye,
             (SELECT COUNT(*) FROM lignes_vente l WHERE l.vente_id = v.id) AS nombre_lignes
      FROM ventes v JOIN terminaux t ON t.serial = v.terminal_serial
      WHERE (? IS NULL OR v.boutique_id = ?)
      ORDER BY v.id DESC LIMIT ?`),
    stockBas: db.prepare<[number, number], { id: number; nom: string; quantite_stock: number }>(`
      SELECT id, nom, quantite_stock FROM articles
      WHERE boutique_id = ? AND quantite_stock <= ? ORDER BY quantite_stock, id LIMIT 100`),
  };

  function summarise(rows: Array<{ mode_paiement: string; nombre_ventes: number; montant_total: number }>): Chiffres {
    const par_mode_paiement: Chiffres['par_mode_paiement'] = {};
    let nombre = 0;
    let montant = 0;
    for (const mode of MODES_PAIEMENT) {
      const row = rows.find((r) => r.mode_paiement === mode);
      nombre += row?.nombre_ventes ?? 0;
      montant += row?.montant_total ?? 0;
      par_mode_paiement[mode] = {
        nombre_ventes: row?.nombre_ventes ?? 0,
        chiffre_affaires: formatMoney(row?.montant_total ?? 0),
      };
    }
    return { nombre_ventes: nombre, chiffre_affaires: formatMoney(montant), par_mode_paiement };
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
      return {
        total,
        ventes: rows.map((r) => ({
          numero_facture: r.numero_facture,
          date_vente: r.date_vente,
          montant_total: formatMoney(r.montant_total),
          mode_paiement: r.mode_paiement,
          paye: r.paye === 1,
          terminal: r.terminal,
          lignes: lignesByVente.get(r.id)!,
        })),
      };
    },

    /** The last sales received, all boutiques or one: what an operator checks first. */
    recentVentes: (boutiqueId: number | null, limit: number) => stmt.recent.all(boutiqueId, boutiqueId, limit),

    statistiques(boutiqueId: number, now: Date) {
      const jour = now.toISOString().slice(0, 10);
      return {
        aujourd_hui: { date: jour, ...summarise(stmt.chiffresJour.all(boutiqueId, jour)) },
        total: summarise(stmt.chiffresTotal.all(boutiqueId)),
        articles_stock_bas: stmt.stockBas.all(boutiqueId, LOW_STOCK_THRESHOLD),
        seuil_stock_bas: LOW_STOCK_THRESHOLD,
      };
    },
  };
}

export type SaleReader = ReturnType<typeof createSaleReader>;
