import { rawRetourField, type RetourNormalise } from '@ventesync/shared';
import type pg from 'pg';
import type { TerminalContext } from '../catalogue-store.js';
import {
  isRetourRefusal,
  type PricedRetour,
  priceRetour,
  processRetours,
  retourCree,
  saleNotFound,
  type SoldLine,
  type StoredRetour,
  type WriteRetoursResult,
} from '../retour-rules.js';
import { openBoutiqueSql, RetryRequest, runWriteTransaction } from './pg-boutique-tx.js';

/**
 * Returns on PostgreSQL, as sales (pg-sale-writes.ts): one transaction per request under the
 * boutique's advisory lock, decided in memory by the shared steps (retour-rules.ts), written
 * set-based. "Never more than the sale sold, all returns together" holds across instances:
 * every writer of the boutique's returns reads the stored ones under the same lock, and
 * within a request each accepted return counts for the next.
 */

interface StoredRetourRow {
  numero_retour: string;
  numero_facture: string;
  montant_total: string;
  date_retour: string;
  serial: string;
  empreinte: string;
}

interface SaleLineRow {
  vente_id: string;
  numero_facture: string;
  mode_paiement: string;
  date_vente: string;
  article_id: string;
  article_nom: string;
  quantite: string;
  prix_unitaire: string;
  /** Units of this article already given back by the sale's stored returns. */
  rendu: string;
  /** The article's stock, its row locked. */
  stock: string;
}

interface SaleState {
  id: number;
  mode_paiement: string;
  date_vente: string;
  lines: SoldLine[];
  returned: Map<number, number>;
}

const STMT = {
  storedRetours: {
    name: 'vs_retours_du_lot',
    text: `
      SELECT r.numero_retour, v.numero_facture, r.montant_total::text AS montant_total, r.date_retour,
             r.terminal_serial AS serial, r.empreinte
      FROM unnest($2::text[]) AS u(numero)
      CROSS JOIN LATERAL (SELECT * FROM retours WHERE boutique_id = $1 AND numero_retour = u.numero LIMIT 1) r
      JOIN ventes v ON v.id = r.vente_id`,
  },
  // The named sales with their lines in order (which units a return gives back), what their
  // returns already took, and their articles' stock with the rows locked in id order (the
  // CLI's stock changes wait; sales of the boutique wait on its lock). One index lookup per
  // numero (LATERAL … LIMIT 1), whatever the planner's statistics (see pg-sale-writes.ts).
  sales: {
    name: 'vs_ventes_a_rendre',
    text: `
      WITH named AS (
        SELECT v.id, v.numero_facture, v.mode_paiement, v.date_vente
        FROM unnest($2::text[]) AS u(numero)
        CROSS JOIN LATERAL (SELECT id, numero_facture, mode_paiement, date_vente FROM ventes WHERE boutique_id = $1 AND numero_facture = u.numero LIMIT 1) v
      ), locked AS (
        SELECT id, quantite_stock FROM articles
        WHERE id IN (SELECT l.article_id FROM lignes_vente l JOIN named ON named.id = l.vente_id)
        ORDER BY id FOR UPDATE
      )
      SELECT named.id AS vente_id, named.numero_facture, named.mode_paiement, named.date_vente, l.article_id, a.nom AS article_nom,
             l.quantite, l.prix_unitaire, locked.quantite_stock AS stock,
             (SELECT COALESCE(SUM(lr.quantite), 0) FROM lignes_retour lr JOIN retours r ON r.id = lr.retour_id
              WHERE r.vente_id = named.id AND lr.article_id = l.article_id) AS rendu
      FROM named
      JOIN lignes_vente l ON l.vente_id = named.id
      JOIN articles a ON a.id = l.article_id
      JOIN locked ON locked.id = l.article_id
      ORDER BY named.id, l.id`,
  },
  // Everything of the request in one statement; ids in the batch's order. A numero_retour
  // taken meanwhile is skipped by ON CONFLICT: the caller compares the count and starts over.
  write: {
    name: 'vs_ecrire_retours',
    text: `
      WITH r AS (
        INSERT INTO retours (boutique_id, numero_retour, vente_id, terminal_serial, date_retour, date_reception,
                             mode_paiement, motif, montant_total, empreinte, date_retour_caisse)
        SELECT $1, u.numero, u.vente, $2, u.date_retour, $3, u.mode, u.motif, u.montant, u.empreinte, u.date_caisse
        FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[])
             WITH ORDINALITY AS u(numero, vente, date_retour, mode, motif, montant, empreinte, date_caisse, ord)
        ORDER BY u.ord
        ON CONFLICT (boutique_id, numero_retour) DO NOTHING
        RETURNING id, numero_retour
      ), l AS (
        INSERT INTO lignes_retour (retour_id, article_id, quantite, prix_unitaire, sous_total)
        SELECT r.id, u.article, u.quantite, u.prix, u.sous_total
        FROM unnest($12::text[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])
             WITH ORDINALITY AS u(numero, article, quantite, prix, sous_total, ord)
        JOIN r ON r.numero_retour = u.numero
        ORDER BY u.ord
      ), m AS (
        INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
        SELECT u.article, 'RETOUR', u.quantite, u.avant, u.apres, u.numero, $2, $3
        FROM unnest($12::text[], $13::bigint[], $14::bigint[], $17::bigint[], $18::bigint[])
             WITH ORDINALITY AS u(numero, article, quantite, avant, apres, ord)
        ORDER BY u.ord
      ), s AS (
        UPDATE articles a SET quantite_stock = u.stock
        FROM unnest($19::bigint[], $20::bigint[]) AS u(id, stock)
        WHERE a.id = u.id
      )
      SELECT (SELECT count(*) FROM r)::int AS retours`,
  },
} as const;

interface RetourToWrite {
  retour: RetourNormalise;
  venteId: number;
  mode: string;
  empreinte: string;
  dateRetour: string;
  dateCaisse: string | null;
  priced: PricedRetour;
  moves: Array<{ avant: number; apres: number }>;
}

interface Loaded {
  retours: Map<string, StoredRetour>;
  retoursAsked: Set<string>;
  sales: Map<string, SaleState>;
  salesAsked: Set<string>;
  stock: Map<number, number>;
}

/** One request: the route's arguments. */
export interface RetourRequest {
  terminal: TerminalContext;
  items: readonly unknown[];
  receivedAt: Date;
}

/** `onRetry` counts a transaction run again (the queue's stats). */
export function createPgRetourWrites(pool: pg.Pool, where: string, onRetry: () => void) {
  async function loadRetours(client: pg.PoolClient, boutiqueId: number, loaded: Loaded, numeros: string[]) {
    const rows = (await client.query<StoredRetourRow>({ ...STMT.storedRetours, values: [boutiqueId, numeros] })).rows;
    for (const n of numeros) loaded.retoursAsked.add(n);
    for (const r of rows) loaded.retours.set(r.numero_retour, { ...r, montant_total: Number(r.montant_total) });
  }

  async function loadSales(client: pg.PoolClient, boutiqueId: number, loaded: Loaded, numeros: string[]) {
    const rows = (await client.query<SaleLineRow>({ ...STMT.sales, values: [boutiqueId, numeros] })).rows;
    for (const n of numeros) loaded.salesAsked.add(n);
    for (const r of rows) {
      let sale = loaded.sales.get(r.numero_facture);
      if (!sale) {
        sale = { id: Number(r.vente_id), mode_paiement: r.mode_paiement, date_vente: r.date_vente, lines: [], returned: new Map() };
        loaded.sales.set(r.numero_facture, sale);
      }
      const articleId = Number(r.article_id);
      sale.lines.push({ article_id: articleId, article_nom: r.article_nom, quantite: Number(r.quantite), prix_unitaire: Number(r.prix_unitaire) });
      sale.returned.set(articleId, Number(r.rendu));
      loaded.stock.set(articleId, Number(r.stock));
    }
  }

  /** The shared steps over the loaded state; what was asked and not loaded is reported, for another pass. */
  function pass(terminal: TerminalContext, items: readonly unknown[], receivedAt: Date, loaded: Loaded) {
    const missing = { retours: new Set<string>(), sales: new Set<string>() };
    const toWrite: RetourToWrite[] = [];
    // This request's own state: a pass may run again from the loaded one.
    const stock = new Map(loaded.stock);
    const returned = new Map<string, Map<number, number>>();
    const result: WriteRetoursResult = processRetours(
      items,
      terminal.serial,
      receivedAt,
      (numero) => {
        if (!loaded.retoursAsked.has(numero)) missing.retours.add(numero);
        return loaded.retours.get(numero);
      },
      (numeroFacture) => {
        if (!loaded.salesAsked.has(numeroFacture)) missing.sales.add(numeroFacture);
        return loaded.sales.get(numeroFacture)?.date_vente;
      },
      (retour, empreinte, dateRetour, dateCaisse) => {
        if (!loaded.salesAsked.has(retour.numero_facture)) missing.sales.add(retour.numero_facture);
        const sale = loaded.sales.get(retour.numero_facture);
        if (!sale) return saleNotFound(retour.numero_facture, terminal.boutique_nom);
        let saleReturned = returned.get(retour.numero_facture);
        if (!saleReturned) {
          saleReturned = new Map(sale.returned);
          returned.set(retour.numero_facture, saleReturned);
        }
        const priced = priceRetour(retour, sale.lines, saleReturned);
        if (isRetourRefusal(priced)) return priced;
        const moves = priced.lignes.map((l) => {
          const avant = stock.get(l.article_id)!;
          stock.set(l.article_id, avant + l.quantite);
          saleReturned.set(l.article_id, (saleReturned.get(l.article_id) ?? 0) + l.quantite);
          return { avant, apres: avant + l.quantite };
        });
        toWrite.push({ retour, venteId: sale.id, mode: sale.mode_paiement, empreinte, dateRetour, dateCaisse, priced, moves });
        return retourCree(retour, priced);
      },
    );
    return { result, toWrite, stock, missing };
  }

  async function attempt(client: pg.PoolClient, terminal: TerminalContext, items: readonly unknown[], receivedAt: Date): Promise<WriteRetoursResult> {
    const boutiqueId = terminal.boutique_id;
    await client.query(openBoutiqueSql(boutiqueId));
    const loaded: Loaded = { retours: new Map(), retoursAsked: new Set(), sales: new Map(), salesAsked: new Set(), stock: new Map() };
    const retourNumeros = new Set<string>();
    const saleNumeros = new Set<string>();
    for (const raw of items) {
      const r = rawRetourField(raw, 'numero_retour');
      const v = rawRetourField(raw, 'numero_facture');
      if (r !== null) retourNumeros.add(r);
      if (v !== null) saleNumeros.add(v);
    }
    if (retourNumeros.size > 0) await loadRetours(client, boutiqueId, loaded, [...retourNumeros]);
    if (saleNumeros.size > 0) await loadSales(client, boutiqueId, loaded, [...saleNumeros]);
    let run = pass(terminal, items, receivedAt, loaded);
    while (run.missing.retours.size > 0 || run.missing.sales.size > 0) {
      if (run.missing.retours.size > 0) await loadRetours(client, boutiqueId, loaded, [...run.missing.retours]);
      if (run.missing.sales.size > 0) await loadSales(client, boutiqueId, loaded, [...run.missing.sales]);
      run = pass(terminal, items, receivedAt, loaded);
    }
    if (run.toWrite.length > 0) await write(client, terminal, receivedAt, run.toWrite, run.stock);
    return run.result;
  }

  async function write(client: pg.PoolClient, terminal: TerminalContext, receivedAt: Date, retours: RetourToWrite[], stock: Map<number, number>) {
    const lignes = retours.flatMap((r) => r.priced.lignes.map((l, i) => ({ numero: r.retour.numero_retour, l, move: r.moves[i]! })));
    const articleIds = [...new Set(lignes.map((x) => x.l.article_id))].sort((a, b) => a - b);
    const values = [
      terminal.boutique_id,
      terminal.serial,
      receivedAt.toISOString(),
      retours.map((r) => r.retour.numero_retour),
      retours.map((r) => r.venteId),
      retours.map((r) => r.dateRetour),
      retours.map((r) => r.mode),
      retours.map((r) => r.retour.motif),
      retours.map((r) => r.priced.montant),
      retours.map((r) => r.empreinte),
      retours.map((r) => r.dateCaisse),
      lignes.map((x) => x.numero),
      lignes.map((x) => x.l.article_id),
      lignes.map((x) => x.l.quantite),
      lignes.map((x) => x.l.prix),
      lignes.map((x) => x.l.sousTotal),
      lignes.map((x) => x.move.avant),
      lignes.map((x) => x.move.apres),
      articleIds,
      articleIds.map((id) => stock.get(id)!),
    ];
    const counts = (await client.query<{ retours: number }>({ ...STMT.write, values })).rows[0]!;
    if (counts.retours !== retours.length) throw new RetryRequest('numéro de retour écrit entre-temps');
  }

  return {
    /**
     * Validates and writes one request of returns (the queue does not group returns: they are
     * few), answered as SQLite's writer; in one transaction run again on deadlock and the like.
     */
    writeGroup: async (group: readonly RetourRequest[]): Promise<WriteRetoursResult[]> =>
      Promise.all(
        group.map(({ terminal, items, receivedAt }) =>
          runWriteTransaction(pool, where, onRetry, (client) => attempt(client, terminal, items, receivedAt)),
        ),
      ),
  };
}

export type PgRetourWrites = ReturnType<typeof createPgRetourWrites>;
