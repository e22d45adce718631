import { DEFAULT_FUSEAU, MAX_RECONCILIATION_RETOURS_PER_VENTE, type ModePaiement } from '@ventesync/shared';
import type pg from 'pg';
import { buildRapport, MAX_RAPPORT_IMPAYEES, rapportBoutiqueNotFound, rapportDay, type RapportResult } from '../rapport.js';
import {
  type ReconciliationDay,
  reconciliationAccumulator,
  type ReconciliationPage,
  reconciliationPageOf,
  storedBounds,
} from '../reconciliation-reader.js';
import {
  groupRetours,
  type HistoriqueFilter,
  historiquePage,
  LOW_STOCK_THRESHOLD,
  MAX_DATE,
  MAX_RETOURS_PAR_VENTE,
  MAX_STOCK_BAS_ARTICLES,
  MAX_STOCK_NEGATIF_ARTICLES,
  MAX_STOCK_NEGATIF_VENTES,
  MIN_DATE,
  type RetoursOfVente,
  type StockNegatifArticle,
  type StockNegatifVente,
  statistiquesDay,
  statistiquesOf,
} from '../sale-read-shapes.js';
import type { RecentVenteRow } from '../sale-reader.js';
import type { ReaderStorage, ReconciliationStorage } from '../storage/storage.js';
import { isDatabaseGone, withClient } from './pg-connect.js';

/**
 * The reads of sales on PostgreSQL (storage.ts's ReaderStorage and ReconciliationStorage): the
 * same statements as SQLite's sale-reader.ts, rapport.ts and reconciliation-reader.ts, the
 * answers shaped by the same pure functions (sale-read-shapes.ts, buildRapport,
 * reconciliationAccumulator). Every BIGINT comes back from the driver as text: counts,
 * quantities and one sale's centimes are safe integers (Number); sums of money are
 * PostgreSQL's exact NUMERIC read as text, then BigInt (README, money rule).
 */

/** Lines of a reconciliation day read per statement: a day of any size in bounded memory. */
export const RECONCILIATION_CHUNK = 5_000;

const n = (value: unknown): number => Number(value);

// A sale's amount as reconciliation counts it: net of every return of it recorded so far.
const RETURNED = 'COALESCE((SELECT SUM(r.montant_total) FROM retours r WHERE r.vente_id = v.id), 0)';
const DAY_SALES = `
  FROM ventes v
  WHERE v.boutique_id = $1 AND v.terminal_serial = $2 AND v.date_vente >= $3 AND v.date_vente < $4`;

// The columns are COLLATE "C" (pg-migrations.ts): ORDER BY and > compare UTF-8 bytes, as SQLite's BINARY.
const STMT = {
  count: { name: 'vs_l_count', text: 'SELECT count(*)::int AS n FROM ventes WHERE boutique_id = $1 AND date_vente >= $2 AND date_vente < $3' },
  // Without a date filter the total comes from the running totals, as on SQLite.
  countAll: { name: 'vs_l_count_all', text: 'SELECT COALESCE(SUM(nombre_ventes), 0)::text AS n FROM chiffres_jour WHERE boutique_id = $1' },
  page: {
    name: 'vs_l_page',
    text: `
      SELECT v.id, v.numero_facture, v.date_vente, v.montant_total, v.mode_paiement, v.paye, t.nom AS terminal, v.date_vente_caisse
      FROM ventes v JOIN terminaux t ON t.serial = v.terminal_serial
      WHERE v.boutique_id = $1 AND v.date_vente >= $2 AND v.date_vente < $3
      ORDER BY v.date_vente DESC, v.id DESC
      LIMIT $4 OFFSET $5`,
  },
  lignes: {
    name: 'vs_l_lignes',
    text: `
      SELECT l.vente_id, l.article_id, a.nom AS article_nom, l.quantite, l.prix_unitaire, l.sous_total
      FROM lignes_vente l JOIN articles a ON a.id = l.article_id
      WHERE l.vente_id = ANY($1::bigint[]) ORDER BY l.id`,
  },
  retoursDesVentes: {
    name: 'vs_l_retours_des_ventes',
    text: `
      SELECT id, vente_id, numero_retour, date_retour, montant_total, motif, terminal, date_retour_caisse, nombre FROM (
        SELECT r.id, r.vente_id, r.numero_retour, r.date_retour, r.montant_total, r.motif, t.nom AS terminal, r.date_retour_caisse,
               ROW_NUMBER() OVER (PARTITION BY r.vente_id ORDER BY r.date_retour, r.id) AS rang,
               COUNT(*) OVER (PARTITION BY r.vente_id) AS nombre
        FROM retours r JOIN terminaux t ON t.serial = r.terminal_serial
        WHERE r.vente_id = ANY($1::bigint[])
      ) x WHERE rang <= $2 ORDER BY vente_id, rang`,
  },
  lignesRetour: {
    name: 'vs_l_lignes_retour',
    text: `
      SELECT l.retour_id, l.article_id, a.nom AS article_nom, l.quantite, l.prix_unitaire, l.sous_total
      FROM lignes_retour l JOIN articles a ON a.id = l.article_id
      WHERE l.retour_id = ANY($1::bigint[]) ORDER BY l.id`,
  },
  recent: {
    name: 'vs_l_recent',
    text: `
      SELECT v.numero_facture, v.boutique_id, t.nom AS terminal, v.date_vente, v.montant_total, v.mode_paiement, v.paye,
             (SELECT count(*) FROM lignes_vente l WHERE l.vente_id = v.id) AS nombre_lignes
      FROM ventes v JOIN terminaux t ON t.serial = v.terminal_serial
      WHERE ($1::bigint IS NULL OR v.boutique_id = $1)
      ORDER BY v.id DESC LIMIT $2`,
  },
  chiffresJour: {
    name: 'vs_l_chiffres_jour',
    text: 'SELECT mode_paiement, nombre_ventes, montant_total::text AS montant_total FROM chiffres_jour WHERE boutique_id = $1 AND jour = $2',
  },
  chiffresTotal: {
    name: 'vs_l_chiffres_total',
    text: `SELECT mode_paiement, SUM(nombre_ventes) AS nombre_ventes, SUM(montant_total)::text AS montant_total
           FROM chiffres_jour WHERE boutique_id = $1 GROUP BY mode_paiement`,
  },
  retoursPeriode: {
    name: 'vs_l_retours_periode',
    text: `SELECT mode_paiement, count(*)::int AS nombre, SUM(montant_total)::text AS montant FROM retours
           WHERE boutique_id = $1 AND date_retour >= $2 AND date_retour < $3 GROUP BY mode_paiement`,
  },
  retoursTotal: {
    name: 'vs_l_retours_total',
    text: `SELECT mode_paiement, count(*)::int AS nombre, SUM(montant_total)::text AS montant FROM retours
           WHERE boutique_id = $1 GROUP BY mode_paiement`,
  },
  stockBas: {
    name: 'vs_l_stock_bas',
    text: `SELECT id, nom, quantite_stock FROM articles
           WHERE boutique_id = $1 AND quantite_stock <= $2 ORDER BY quantite_stock, id LIMIT ${MAX_STOCK_BAS_ARTICLES}`,
  },
  stockNegatif: {
    name: 'vs_l_stock_negatif',
    text: `SELECT id, boutique_id, nom, quantite_stock FROM articles
           WHERE ($1::bigint IS NULL OR boutique_id = $1) AND quantite_stock < 0 ORDER BY quantite_stock, id LIMIT $2`,
  },
  // The sale movements of the listed articles since each was last at or above zero, oldest
  // first, at most $2 per article: one statement for the whole list.
  ventesSousZero: {
    name: 'vs_l_ventes_sous_zero',
    text: `
      SELECT a.id AS article_id, m.numero_facture, m.terminal_serial, m.quantite, m.stock_avant, m.stock_apres, m.date, m.total
      FROM unnest($1::bigint[]) AS a(id)
      CROSS JOIN LATERAL (
        SELECT s.reference AS numero_facture, s.terminal_serial, s.quantite, s.stock_avant, s.stock_apres, s.date, s.id,
               count(*) OVER () AS total
        FROM mouvements_stock s
        WHERE s.article_id = a.id AND s.type = 'SORTIE' AND s.stock_apres < 0
          AND s.id > COALESCE((SELECT MAX(z.id) FROM mouvements_stock z WHERE z.article_id = a.id AND z.stock_apres >= 0), 0)
        ORDER BY s.id LIMIT $2
      ) m
      ORDER BY a.id, m.id`,
  },
  boutique: { name: 'vs_l_boutique', text: 'SELECT id, nom, devise, fuseau FROM boutiques WHERE id = $1' },
  terminaux: { name: 'vs_l_terminaux', text: 'SELECT serial FROM terminaux WHERE boutique_id = $1 AND actif = 1 ORDER BY serial' },
  terminalNoms: { name: 'vs_l_terminal_noms', text: 'SELECT serial, nom FROM terminaux WHERE serial = ANY($1::text[])' },
  rapportVentes: {
    name: 'vs_l_rapport_ventes',
    text: `SELECT terminal_serial AS serial, mode_paiement AS mode, paye, count(*)::int AS n, SUM(montant_total)::text AS m
           FROM ventes WHERE boutique_id = $1 AND date_vente >= $2 AND date_vente < $3
           GROUP BY terminal_serial, mode_paiement, paye`,
  },
  rapportRetours: {
    name: 'vs_l_rapport_retours',
    text: `SELECT terminal_serial AS serial, mode_paiement AS mode, count(*)::int AS n, SUM(montant_total)::text AS m
           FROM retours WHERE boutique_id = $1 AND date_retour >= $2 AND date_retour < $3
           GROUP BY terminal_serial, mode_paiement`,
  },
  rapportTickets: {
    name: 'vs_l_rapport_tickets',
    text: `
      SELECT serial, numero_facture, date_vente, premier::int AS premier, dernier::int AS dernier FROM (
        SELECT terminal_serial AS serial, numero_facture, date_vente,
               ROW_NUMBER() OVER (PARTITION BY terminal_serial ORDER BY date_vente, id) AS premier,
               ROW_NUMBER() OVER (PARTITION BY terminal_serial ORDER BY date_vente DESC, id DESC) AS dernier
        FROM ventes WHERE boutique_id = $1 AND date_vente >= $2 AND date_vente < $3
      ) x WHERE premier = 1 OR dernier = 1`,
  },
  rapportImpayees: {
    name: 'vs_l_rapport_impayees',
    text: `SELECT numero_facture, terminal_serial AS serial, date_vente, montant_total
           FROM ventes WHERE boutique_id = $1 AND date_vente >= $2 AND date_vente < $3 AND paye = 0
           ORDER BY date_vente, id LIMIT $4`,
  },
  fuseau: { name: 'vs_l_fuseau', text: 'SELECT fuseau FROM boutiques WHERE id = $1' },
  reconciliationChunk: {
    name: 'vs_l_rapprochement_lot',
    text: `SELECT v.numero_facture, (v.montant_total - ${RETURNED})::text AS net ${DAY_SALES}
             AND v.numero_facture > $5 ORDER BY v.numero_facture LIMIT $6`,
  },
  reconciliationPage: {
    name: 'vs_l_rapprochement_page',
    text: `SELECT v.numero_facture, (v.montant_total - ${RETURNED})::text AS net, (${RETURNED})::text AS rendu,
             ARRAY(SELECT r.numero_retour FROM retours r WHERE r.vente_id = v.id ORDER BY r.numero_retour
                   LIMIT ${MAX_RECONCILIATION_RETOURS_PER_VENTE + 1}) AS retours ${DAY_SALES}
             AND v.numero_facture > $5 ORDER BY v.numero_facture LIMIT $6`,
  },
} as const;

type Row = Record<string, unknown>;
const rowsOf = async (client: pg.PoolClient, stmt: { name: string; text: string }, values: unknown[]): Promise<Row[]> =>
  (await client.query({ ...stmt, values })).rows as Row[];

/** A consistent read: one snapshot for all its statements (as SQLite's read transaction), nothing written. */
async function inSnapshot<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection gone is dropped by withClient: no ROLLBACK to wait for behind a query given up on.
    if (!isDatabaseGone(error)) await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

const ligneRow = (r: Row) => ({
  article_id: n(r.article_id),
  article_nom: String(r.article_nom),
  quantite: n(r.quantite),
  prix_unitaire: n(r.prix_unitaire),
  sous_total: n(r.sous_total),
});

export function createPgReader(pool: pg.Pool, where: string): ReaderStorage {
  const read = <T>(fn: (client: pg.PoolClient) => Promise<T>) => withClient(pool, where, fn);

  async function retoursOf(client: pg.PoolClient, venteIds: number[]): Promise<Map<number, RetoursOfVente>> {
    if (venteIds.length === 0) return new Map();
    const rows = (await rowsOf(client, STMT.retoursDesVentes, [venteIds, MAX_RETOURS_PAR_VENTE])).map((r) => ({
      id: n(r.id),
      vente_id: n(r.vente_id),
      numero_retour: String(r.numero_retour),
      date_retour: String(r.date_retour),
      montant_total: n(r.montant_total),
      motif: (r.motif as string | null) ?? null,
      terminal: String(r.terminal),
      date_retour_caisse: (r.date_retour_caisse as string | null) ?? null,
      nombre: n(r.nombre),
    }));
    if (rows.length === 0) return new Map();
    const lignes = (await rowsOf(client, STMT.lignesRetour, [rows.map((r) => r.id)])).map((r) => ({ retour_id: n(r.retour_id), ...ligneRow(r) }));
    return groupRetours(rows, lignes);
  }

  async function stockNegatifOf(client: pg.PoolClient, boutiqueId: number | null): Promise<StockNegatifArticle[]> {
    const articles = (await rowsOf(client, STMT.stockNegatif, [boutiqueId, MAX_STOCK_NEGATIF_ARTICLES])).map((a) => ({
      id: n(a.id),
      boutique_id: n(a.boutique_id),
      nom: String(a.nom),
      quantite_stock: n(a.quantite_stock),
    }));
    if (articles.length === 0) return [];
    const ventes = new Map<number, { list: StockNegatifVente[]; total: number }>(articles.map((a) => [a.id, { list: [], total: 0 }]));
    for (const m of await rowsOf(client, STMT.ventesSousZero, [articles.map((a) => a.id), MAX_STOCK_NEGATIF_VENTES])) {
      const entry = ventes.get(n(m.article_id))!;
      entry.total = n(m.total);
      entry.list.push({
        numero_facture: (m.numero_facture as string | null) ?? null,
        terminal_serial: (m.terminal_serial as string | null) ?? null,
        quantite: n(m.quantite),
        stock_avant: n(m.stock_avant),
        stock_apres: n(m.stock_apres),
        date: String(m.date),
      });
    }
    return articles.map((a) => {
      const v = ventes.get(a.id)!;
      return { ...a, ventes: v.list, ventes_omises: v.total - v.list.length };
    });
  }

  return {
    historique: (filter: HistoriqueFilter) =>
      read(async (client) => {
        const from = filter.from ?? MIN_DATE;
        const to = filter.to ?? MAX_DATE;
        const counted =
          filter.from === null && filter.to === null
            ? await rowsOf(client, STMT.countAll, [filter.boutiqueId])
            : await rowsOf(client, STMT.count, [filter.boutiqueId, from, to]);
        const rows = (await rowsOf(client, STMT.page, [filter.boutiqueId, from, to, filter.limit, filter.offset])).map((r) => ({
          id: n(r.id),
          numero_facture: String(r.numero_facture),
          date_vente: String(r.date_vente),
          montant_total: n(r.montant_total),
          mode_paiement: r.mode_paiement as ModePaiement,
          paye: n(r.paye),
          terminal: String(r.terminal),
          date_vente_caisse: (r.date_vente_caisse as string | null) ?? null,
        }));
        const ids = rows.map((r) => r.id);
        const lignes = ids.length > 0 ? (await rowsOf(client, STMT.lignes, [ids])).map((r) => ({ vente_id: n(r.vente_id), ...ligneRow(r) })) : [];
        return { total: n(counted[0]?.n ?? 0), ventes: historiquePage(rows, lignes, await retoursOf(client, ids)) };
      }),

    recentVentes: (boutiqueId: number | null, limit: number) =>
      read(async (client) =>
        (await rowsOf(client, STMT.recent, [boutiqueId, limit])).map(
          (r): RecentVenteRow => ({
            numero_facture: String(r.numero_facture),
            boutique_id: n(r.boutique_id),
            terminal: String(r.terminal),
            date_vente: String(r.date_vente),
            montant_total: n(r.montant_total),
            mode_paiement: r.mode_paiement as ModePaiement,
            paye: n(r.paye),
            nombre_lignes: n(r.nombre_lignes),
          }),
        ),
      ),

    stockNegatif: (boutiqueId: number | null) => read((client) => stockNegatifOf(client, boutiqueId)),

    statistiques: (boutiqueId: number, now: Date, fuseau = 'UTC') =>
      read((client) =>
        inSnapshot(client, async () => {
          const { jour, from, to } = statistiquesDay(now, fuseau);
          const chiffres = (rows: Row[]) =>
            rows.map((r) => ({ mode_paiement: String(r.mode_paiement), nombre_ventes: n(r.nombre_ventes), montant_total: String(r.montant_total) }));
          const modes = (rows: Row[]) => rows.map((r) => ({ mode_paiement: String(r.mode_paiement), nombre: n(r.nombre), montant: String(r.montant) }));
          const articles = (rows: Row[]) => rows.map((r) => ({ id: n(r.id), nom: String(r.nom), quantite_stock: n(r.quantite_stock) }));
          return statistiquesOf(jour, {
            chiffresJour: chiffres(await rowsOf(client, STMT.chiffresJour, [boutiqueId, jour])),
            retoursJour: modes(await rowsOf(client, STMT.retoursPeriode, [boutiqueId, from, to])),
            chiffresTotal: chiffres(await rowsOf(client, STMT.chiffresTotal, [boutiqueId])),
            retoursTotal: modes(await rowsOf(client, STMT.retoursTotal, [boutiqueId])),
            stockBas: articles(await rowsOf(client, STMT.stockBas, [boutiqueId, LOW_STOCK_THRESHOLD])),
            stockNegatif: articles(await rowsOf(client, STMT.stockNegatif, [boutiqueId, MAX_STOCK_NEGATIF_ARTICLES])),
          });
        }),
      ),

    // Read in one snapshot, as SQLite's transaction: a till syncing meanwhile never makes the
    // totals and the lists disagree.
    rapport: (boutiqueId: number, jour: string | undefined, now: Date) =>
      read((client) =>
        inSnapshot(client, async (): Promise<RapportResult> => {
          const b = (await rowsOf(client, STMT.boutique, [boutiqueId]))[0];
          if (!b) return rapportBoutiqueNotFound(boutiqueId);
          const boutique = { id: n(b.id), nom: String(b.nom), devise: String(b.devise), fuseau: String(b.fuseau) };
          const day = rapportDay(jour, now, boutique.fuseau);
          if (!day.ok) return day;
          const span = [boutiqueId, day.from, day.to];
          const terminaux = (await rowsOf(client, STMT.terminaux, [boutiqueId])).map((t) => ({ serial: String(t.serial) }));
          const ventes = (await rowsOf(client, STMT.rapportVentes, span)).map((r) => ({
            serial: String(r.serial),
            mode: r.mode as ModePaiement,
            paye: n(r.paye),
            n: n(r.n),
            m: String(r.m),
          }));
          const retours = (await rowsOf(client, STMT.rapportRetours, span)).map((r) => ({ serial: String(r.serial), mode: r.mode as ModePaiement, n: n(r.n), m: String(r.m) }));
          const tickets = (await rowsOf(client, STMT.rapportTickets, span)).map((r) => ({
            serial: String(r.serial),
            numero_facture: String(r.numero_facture),
            date_vente: String(r.date_vente),
            premier: n(r.premier),
            dernier: n(r.dernier),
          }));
          const impayees = (await rowsOf(client, STMT.rapportImpayees, [...span, MAX_RAPPORT_IMPAYEES])).map((r) => ({
            numero_facture: String(r.numero_facture),
            serial: String(r.serial),
            date_vente: String(r.date_vente),
            montant_total: n(r.montant_total),
          }));
          // The names of every till the report shows, read at once (SQLite asks one by one).
          const serials = [...new Set([...terminaux, ...ventes, ...retours, ...impayees].map((r) => r.serial))];
          const noms = new Map((await rowsOf(client, STMT.terminalNoms, [serials])).map((r) => [String(r.serial), String(r.nom)]));
          return buildRapport(boutique, day.jour, { terminaux, ventes, retours, tickets, impayees, nomOf: (serial) => noms.get(serial) ?? serial });
        }),
      ),
  };
}

/**
 * CONTRACT §7's reconciliation on PostgreSQL. No cache of computed days: SQLite knows cheaply
 * that nothing was written since (total_changes, data_version); several instances writing one
 * PostgreSQL have no such counter, and a stale day would tell a relay its sales are missing.
 * `cached` answers undefined, as storage.ts allows.
 */
export function createPgReconciliation(pool: pg.Pool, where: string): ReconciliationStorage {
  const read = <T>(fn: (client: pg.PoolClient) => Promise<T>) => withClient(pool, where, fn);
  const fuseauOf = async (client: pg.PoolClient, boutiqueId: number): Promise<string> =>
    String((await rowsOf(client, STMT.fuseau, [boutiqueId]))[0]?.fuseau ?? DEFAULT_FUSEAU);

  return {
    cached: async () => undefined,

    /** The whole day read in chunks of RECONCILIATION_CHUNK in one snapshot: any size of day. */
    day: (boutiqueId: number, serial: string, jour: string) =>
      read((client) =>
        inSnapshot(client, async (): Promise<ReconciliationDay> => {
          const fuseau = await fuseauOf(client, boutiqueId);
          const { from, to } = storedBounds(jour, fuseau);
          const day = reconciliationAccumulator(fuseau);
          // '' sorts before every numero.
          let after = '';
          for (;;) {
            const rows = await rowsOf(client, STMT.reconciliationChunk, [boutiqueId, serial, from, to, after, RECONCILIATION_CHUNK]);
            for (const r of rows) day.add(String(r.numero_facture), String(r.net));
            if (rows.length < RECONCILIATION_CHUNK) break;
            after = String(rows[rows.length - 1]!.numero_facture);
          }
          return day.day();
        }),
      ),

    page: (boutiqueId: number, serial: string, jour: string, apres: string | null, limit: number) =>
      read(async (client): Promise<ReconciliationPage> => {
        const { from, to } = storedBounds(jour, await fuseauOf(client, boutiqueId));
        // One more than asked tells whether a next page exists.
        const rows = await rowsOf(client, STMT.reconciliationPage, [boutiqueId, serial, from, to, apres ?? '', limit + 1]);
        return reconciliationPageOf(
          rows.map((r) => [String(r.numero_facture), n(r.net), n(r.rendu), r.retours as string[]] as const),
          limit,
        );
      }),
  };
}
