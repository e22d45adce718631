import {
  createNumeroGenerator,
  formatMoney,
  formatNumeroTimestamp,
  type NumeroGenerator,
  processSales,
  rawNumero,
  type SaleRefusal,
  type StoredSale,
  type VenteCreee,
  type VenteNormalisee,
} from '@ventesync/shared';
import type pg from 'pg';
import type { ArticleRow, TerminalContext } from '../catalogue-store.js';
import {
  allowsNegativeStock,
  type BoutiqueRules,
  dailyTotalRefusal,
  type DateRemplacee,
  isRefusal,
  latestTrustedDate,
  MAX_CHIFFRES_JOUR_CENTIMES,
  priceSale,
  saleDates,
  saleDay,
  type StockStep,
  takeStock,
  venteCreee,
  type WriteSalesOptions,
  type WriteSalesResult,
} from '../sale-rules.js';
import { intArrayLiteral, openBoutiqueSql, RetryRequest, runWriteTransaction } from './pg-boutique-tx.js';
import type { PgWriteQueue } from './pg-write-queue.js';

/**
 * Sales on PostgreSQL (issue 13 point 3): the same answers as SQLite's sale-writer.ts for the
 * same input, with several server instances on one database.
 *
 * One transaction per request, no savepoint per sale (past 64 subtransactions a backend's
 * cache overflows and every session slows). Instead the request is decided in memory, then
 * written with a few set-based statements:
 * 1. BEGIN, the boutique's advisory lock (pg-boutique-tx.ts), its rules, and its articles of
 *    the batch locked in id order (FOR UPDATE: the CLI's stock changes wait), one round trip;
 * 2. the stored sales under the batch's numeros, and the numeros generated in this second;
 * 3. the shared pipeline processSales over that state: a sale refused on its third line leaves
 *    no trace of the first two (takeStock changes the stock only for a whole sale);
 * 4. one statement writing the sales, lines, movements, stock and day totals, keeping
 *    INSERT … ON CONFLICT DO NOTHING on the numero as the last guard; COMMIT.
 * Under the lock, numero and stock decisions are exact; other boutiques run in parallel.
 */

interface StoredRow {
  numero_facture: string;
  montant_total: string;
  date_vente: string;
  serial: string;
  empreinte: string;
}

interface ArticleDbRow {
  id: string;
  boutique_id: string;
  nom: string;
  prix_vente: string;
  quantite_stock: string;
}

const articleOfRow = (r: ArticleDbRow): ArticleRow => ({
  id: Number(r.id),
  boutique_id: Number(r.boutique_id),
  nom: r.nom,
  prix_vente: Number(r.prix_vente),
  quantite_stock: Number(r.quantite_stock),
});

const ARTICLES_SQL = (boutiqueId: number, ids: Iterable<number>) =>
  `SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles
   WHERE boutique_id = ${boutiqueId} AND id = ANY(${intArrayLiteral(ids)}::bigint[]) ORDER BY id FOR UPDATE`;

const STMT = {
  // The batch's numeros, and the range of this second's generated ones ('' to '': none). The
  // columns are COLLATE "C": the range is a byte-order prefix, read from the unique index.
  // One index lookup per numero (LATERAL … LIMIT 1): `numero_facture = ANY($2)` over a table
  // not yet analysed is estimated at half the table for a 100-numero batch and read whole
  // (20 ms at 15,000 sales, growing with the table).
  storedSales: {
    name: 'vs_ventes_du_lot',
    text: `
      SELECT v.numero_facture, v.montant_total::text AS montant_total, v.date_vente, v.terminal_serial AS serial, v.empreinte
      FROM unnest($2::text[]) AS u(numero)
      CROSS JOIN LATERAL (
        SELECT numero_facture, montant_total, date_vente, terminal_serial, empreinte
        FROM ventes WHERE boutique_id = $1 AND numero_facture = u.numero LIMIT 1
      ) v
      UNION ALL
      SELECT numero_facture, montant_total::text, date_vente, terminal_serial, empreinte
      FROM ventes WHERE boutique_id = $1 AND numero_facture >= $3 AND numero_facture < $4`,
  },
  chiffres: {
    name: 'vs_chiffres_du_lot',
    text: `
      SELECT c.jour, c.mode_paiement, c.montant_total::text AS montant_total
      FROM chiffres_jour c JOIN unnest($2::text[], $3::text[]) AS u(jour, mode) ON c.jour = u.jour AND c.mode_paiement = u.mode
      WHERE c.boutique_id = $1`,
  },
  // Everything of the request in one statement. Identity ids follow the batch's order (ORDER
  // BY ord), as SQLite's rowids do: the history's tie-break and the order of a sale's lines
  // (which units a return gives back) are the same. A numero taken meanwhile is skipped by ON
  // CONFLICT, so its lines join nothing; the caller compares the counts and starts over. A
  // day's row past MAX_CHIFFRES_JOUR_CENTIMES is not updated (WHERE) and not counted either.
  write: {
    name: 'vs_ecrire_ventes',
    text: `
      WITH v AS (
        INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception,
                            mode_paiement, paye, montant_total, empreinte, date_vente_caisse)
        SELECT $1, u.numero, $2, u.date_vente, $3, u.mode, u.paye, u.montant, u.empreinte, u.date_caisse
        FROM unnest($4::text[], $5::text[], $6::text[], $7::smallint[], $8::bigint[], $9::text[], $10::text[])
             WITH ORDINALITY AS u(numero, date_vente, mode, paye, montant, empreinte, date_caisse, ord)
        ORDER BY u.ord
        ON CONFLICT (boutique_id, numero_facture) DO NOTHING
        RETURNING id, numero_facture
      ), l AS (
        INSERT INTO lignes_vente (vente_id, article_id, quantite, prix_unitaire, sous_total)
        SELECT v.id, u.article, u.quantite, u.prix, u.sous_total
        FROM unnest($11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
             WITH ORDINALITY AS u(numero, article, quantite, prix, sous_total, ord)
        JOIN v ON v.numero_facture = u.numero
        ORDER BY u.ord
      ), m AS (
        INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
        SELECT u.article, 'SORTIE', u.quantite, u.avant, u.apres, u.numero, $2, $3
        FROM unnest($11::text[], $12::bigint[], $13::bigint[], $16::bigint[], $17::bigint[])
             WITH ORDINALITY AS u(numero, article, quantite, avant, apres, ord)
        ORDER BY u.ord
      ), s AS (
        UPDATE articles a SET quantite_stock = u.stock
        FROM unnest($18::bigint[], $19::bigint[]) AS u(id, stock)
        WHERE a.id = u.id
      ), c AS (
        INSERT INTO chiffres_jour (boutique_id, jour, mode_paiement, nombre_ventes, montant_total)
        SELECT $1, u.jour, u.mode, u.nombre, u.montant
        FROM unnest($20::text[], $21::text[], $22::bigint[], $23::bigint[]) AS u(jour, mode, nombre, montant)
        ON CONFLICT (boutique_id, jour, mode_paiement) DO UPDATE
          SET nombre_ventes = chiffres_jour.nombre_ventes + excluded.nombre_ventes,
              montant_total = chiffres_jour.montant_total + excluded.montant_total
          WHERE chiffres_jour.montant_total <= $24::bigint - excluded.montant_total
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM v)::int AS ventes, (SELECT count(*) FROM c)::int AS chiffres`,
  },
} as const;

/** The articles and numeros a batch names, read from the raw items before validation. */
function batchKeys(items: readonly unknown[]): { articleIds: Set<number>; numeros: Set<string>; generates: boolean } {
  const articleIds = new Set<number>();
  const numeros = new Set<string>();
  let generates = false;
  for (const raw of items) {
    if (typeof raw !== 'object' || raw === null) continue;
    const numero = rawNumero(raw);
    if (numero !== null) numeros.add(numero);
    else if ((raw as { numero_facture?: unknown }).numero_facture == null) generates = true;
    const lignes = (raw as { lignes?: unknown }).lignes;
    if (!Array.isArray(lignes)) continue;
    for (const l of lignes) {
      const id = (l as { article_id?: unknown } | null)?.article_id;
      if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) articleIds.add(id);
    }
  }
  return { articleIds, numeros, generates };
}

/** The range of numeros generated for a boutique in a second: `VENTE-{b}-{stamp}-` and what follows it. */
function generatedRange(boutiqueId: number, receivedAt: Date): { from: string; to: string } {
  const from = `VENTE-${boutiqueId}-${formatNumeroTimestamp(receivedAt)}-`;
  // '.' is the byte after '-': every text starting with `from` sorts below `to` in byte order.
  return { from, to: `${from.slice(0, -1)}.` };
}

interface SaleToWrite {
  vente: VenteNormalisee;
  numero: string;
  empreinte: string;
  dateVente: string;
  dateCaisse: string | null;
  montant: number;
  steps: StockStep[];
}

/** What the transaction read; a pass asks for more when the batch named something not loaded. */
interface Loaded {
  regles: BoutiqueRules;
  articles: Map<number, ArticleRow>;
  /** Article ids asked for (found or not). */
  articleIds: Set<number>;
  stored: Map<string, StoredSale>;
  numerosAsked: Set<string>;
  /** Whether the second's generated range was read. */
  rangeRead: boolean;
  /** Day rows as stored, by `${jour} ${mode}`: read only when a day's bound came near. */
  chiffres: Map<string, bigint> | null;
}

interface Missing {
  articleIds: Set<number>;
  numeros: Set<string>;
  range: boolean;
}

export function createPgSaleWrites(pool: pg.Pool, where: string, queue: PgWriteQueue) {
  // Shared by every request of this instance, as in SQLite: the k-th sale generated in a
  // second starts at its remembered suffix; another instance's numeros are seen in the range read.
  const numeros = createNumeroGenerator();

  /**
   * processSales over the loaded state. Pure apart from the numero generator: it records what
   * it needed and was not loaded (`missing`); the caller then loads it and runs the pass again
   * from the same state (generated numeros replayed by index, so they do not move).
   */
  function pass(
    terminal: TerminalContext,
    items: readonly unknown[],
    receivedAt: Date,
    options: WriteSalesOptions,
    loaded: Loaded,
    generated: Map<number, string>,
  ) {
    const boutiqueId = terminal.boutique_id;
    const receivedIso = receivedAt.toISOString();
    const latestTrusted = latestTrustedDate(receivedAt);
    const allowNegative = allowsNegativeStock(options, loaded.regles);
    const fuseau = loaded.regles.fuseau;
    const missing: Missing = { articleIds: new Set(), numeros: new Set(), range: false };
    const stock = new Map<number, number>();
    for (const a of loaded.articles.values()) stock.set(a.id, a.quantite_stock);
    const toWrite: SaleToWrite[] = [];
    const datesRemplacees: DateRemplacee[] = [];
    // Per day and mode: what this request adds (the upsert's values).
    const chiffres = new Map<string, { jour: string; mode: string; nombre: number; montant: bigint }>();

    const articleOf = (id: number): ArticleRow | undefined => {
      if (!loaded.articleIds.has(id)) missing.articleIds.add(id);
      return loaded.articles.get(id);
    };
    const numeroGenerator: NumeroGenerator = (b, at, index, isTaken) => {
      const again = generated.get(index);
      if (again !== undefined && !(isTaken?.(again) ?? false)) return again;
      const numero = numeros(b, at, index, isTaken);
      generated.set(index, numero);
      return numero;
    };
    const storage = {
      findSale(numero: string): StoredSale | undefined {
        if (!loaded.numerosAsked.has(numero)) missing.numeros.add(numero);
        return loaded.stored.get(numero);
      },
      numeroTaken(numero: string): boolean {
        if (!loaded.rangeRead) missing.range = true;
        return loaded.stored.has(numero);
      },
    };

    const store = (vente: VenteNormalisee, numero: string, empreinte: string): VenteCreee | SaleRefusal => {
      const priced = priceSale(vente, terminal.boutique_nom, articleOf);
      if (isRefusal(priced)) return priced;
      const { dateVente, dateCaisse } = saleDates(vente.date_vente, receivedIso, latestTrusted);
      const jour = saleDay(dateVente, fuseau);
      const key = `${jour} ${vente.mode_paiement}`;
      let total = chiffres.get(key);
      if (!total) {
        total = { jour, mode: vente.mode_paiement, nombre: 0, montant: 0n };
        chiffres.set(key, total);
      }
      // Without the stored rows (the common case) the bound is checked on this request's part;
      // the upsert's WHERE sees a stored row that would pass it, and the request runs again
      // with the rows read.
      const stored = loaded.chiffres?.get(key) ?? 0n;
      const tooHigh = dailyTotalRefusal(stored + total.montant, priced.montant, jour, vente.mode_paiement);
      if (tooHigh) return tooHigh;
      const taken = takeStock(vente, priced, stock, allowNegative);
      if (isRefusal(taken)) return taken;
      toWrite.push({ vente, numero, empreinte, dateVente, dateCaisse, montant: priced.montant, steps: taken.steps });
      if (dateCaisse !== null) datesRemplacees.push({ numero_facture: numero, date_vente_caisse: dateCaisse, date_vente: dateVente });
      total.nombre++;
      total.montant += BigInt(priced.montant);
      return venteCreee(numero, priced, taken.avertissements);
    };

    const outcome = processSales(items, { serial: terminal.serial, boutiqueId, receivedAt, numeros: numeroGenerator }, storage, store);
    const result: WriteSalesResult = { ...outcome, datesRemplacees };
    return { result, toWrite, stock, chiffres, missing };
  }

  async function loadMore(client: pg.PoolClient, boutiqueId: number, receivedAt: Date, loaded: Loaded, missing: Missing): Promise<void> {
    if (missing.articleIds.size > 0) {
      const rows = (await client.query<ArticleDbRow>(ARTICLES_SQL(boutiqueId, missing.articleIds))).rows;
      for (const id of missing.articleIds) loaded.articleIds.add(id);
      for (const r of rows) loaded.articles.set(Number(r.id), articleOfRow(r));
    }
    if (missing.numeros.size > 0 || missing.range) {
      await loadSales(client, boutiqueId, receivedAt, loaded, [...missing.numeros], missing.range);
    }
  }

  async function loadSales(client: pg.PoolClient, boutiqueId: number, receivedAt: Date, loaded: Loaded, numerosToRead: string[], range: boolean) {
    const { from, to } = range ? generatedRange(boutiqueId, receivedAt) : { from: '', to: '' };
    const rows = (await client.query<StoredRow>({ ...STMT.storedSales, values: [boutiqueId, numerosToRead, from, to] })).rows;
    for (const n of numerosToRead) loaded.numerosAsked.add(n);
    if (range) loaded.rangeRead = true;
    for (const r of rows) {
      loaded.numerosAsked.add(r.numero_facture);
      loaded.stored.set(r.numero_facture, { ...r, montant_total: formatMoney(BigInt(r.montant_total)) });
    }
  }

  async function attempt(
    client: pg.PoolClient,
    terminal: TerminalContext,
    items: readonly unknown[],
    receivedAt: Date,
    options: WriteSalesOptions,
    readChiffres: boolean,
  ): Promise<WriteSalesResult> {
    const boutiqueId = terminal.boutique_id;
    const keys = batchKeys(items);
    const opened = (await client.query(openBoutiqueSql(boutiqueId, [ARTICLES_SQL(boutiqueId, keys.articleIds)]))) as unknown as pg.QueryResult[];
    const regleRow = opened[2]!.rows[0] as BoutiqueRules | undefined;
    const loaded: Loaded = {
      // The boutique's rules as they are under the lock; the terminal's copy if the row is gone.
      regles: regleRow ?? terminal,
      articles: new Map((opened[3]!.rows as ArticleDbRow[]).map((r) => [Number(r.id), articleOfRow(r)])),
      articleIds: keys.articleIds,
      stored: new Map(),
      numerosAsked: new Set(),
      rangeRead: false,
      chiffres: null,
    };
    if (keys.numeros.size > 0 || keys.generates) await loadSales(client, boutiqueId, receivedAt, loaded, [...keys.numeros], keys.generates);
    const generated = new Map<number, string>();
    let run = pass(terminal, items, receivedAt, options, loaded, generated);
    // Something named by the batch was not read (a numero or article the raw scan did not
    // see): read it under the same lock and decide again from the start.
    while (run.missing.articleIds.size > 0 || run.missing.numeros.size > 0 || run.missing.range) {
      await loadMore(client, boutiqueId, receivedAt, loaded, run.missing);
      run = pass(terminal, items, receivedAt, options, loaded, generated);
    }
    if (readChiffres) {
      const pairs = [...run.chiffres.values()];
      const rows = (
        await client.query<{ jour: string; mode_paiement: string; montant_total: string }>({
          ...STMT.chiffres,
          values: [boutiqueId, pairs.map((p) => p.jour), pairs.map((p) => p.mode)],
        })
      ).rows;
      loaded.chiffres = new Map(rows.map((r) => [`${r.jour} ${r.mode_paiement}`, BigInt(r.montant_total)]));
      run = pass(terminal, items, receivedAt, options, loaded, generated);
      // A day of this pass not among those read cannot happen: the days depend on the sales
      // alone, and refusing one more sale only removes days.
    }
    if (run.toWrite.length === 0) return run.result;
    await write(client, terminal, receivedAt, run.toWrite, run.stock, [...run.chiffres.values()].filter((c) => c.nombre > 0));
    return run.result;
  }

  async function write(
    client: pg.PoolClient,
    terminal: TerminalContext,
    receivedAt: Date,
    sales: SaleToWrite[],
    stock: Map<number, number>,
    chiffres: Array<{ jour: string; mode: string; nombre: number; montant: bigint }>,
  ): Promise<void> {
    const lignes = sales.flatMap((s) => s.steps.map((step) => ({ numero: s.numero, step })));
    const touched = new Set(lignes.map((l) => l.step.ligne.article.id));
    const articleIds = [...touched].sort((a, b) => a - b);
    const values = [
      terminal.boutique_id,
      terminal.serial,
      receivedAt.toISOString(),
      sales.map((s) => s.numero),
      sales.map((s) => s.dateVente),
      sales.map((s) => s.vente.mode_paiement),
      sales.map((s) => (s.vente.paye ? 1 : 0)),
      sales.map((s) => s.montant),
      sales.map((s) => s.empreinte),
      sales.map((s) => s.dateCaisse),
      lignes.map((l) => l.numero),
      lignes.map((l) => l.step.ligne.article.id),
      lignes.map((l) => l.step.ligne.quantite),
      lignes.map((l) => l.step.ligne.prix),
      lignes.map((l) => l.step.ligne.sousTotal),
      lignes.map((l) => l.step.stockAvant),
      lignes.map((l) => l.step.stockApres),
      articleIds,
      articleIds.map((id) => stock.get(id)!),
      chiffres.map((c) => c.jour),
      chiffres.map((c) => c.mode),
      chiffres.map((c) => c.nombre),
      chiffres.map((c) => c.montant.toString()),
      MAX_CHIFFRES_JOUR_CENTIMES.toString(),
    ];
    const counts = (await client.query<{ ventes: number; chiffres: number }>({ ...STMT.write, values })).rows[0]!;
    if (counts.ventes !== sales.length) throw new RetryRequest('numéro de vente écrit entre-temps');
    if (counts.chiffres !== chiffres.length) throw new DayTotalNear();
  }

  /** One request's sales, in one transaction, run again on deadlock and the like. */
  function writeSales(terminal: TerminalContext, items: readonly unknown[], receivedAt: Date, options: WriteSalesOptions): Promise<WriteSalesResult> {
    let readChiffres = false;
    return runWriteTransaction(pool, where, queue.retried, async (client) => {
      try {
        return await attempt(client, terminal, items, receivedAt, options, readChiffres);
      } catch (error) {
        if (!(error instanceof DayTotalNear)) throw error;
        // A stored day's row is close to the bound: run again, this time reading the rows.
        readChiffres = true;
        throw new RetryRequest(error.message);
      }
    });
  }

  return {
    /**
     * Validates and writes a batch; resolves once committed with what was created and why the
     * rest was not, as SQLite's writer answers. Null, writing nothing, when the queue of waiting
     * requests is full (the route answers 503 OVERLOADED).
     */
    sales(terminal: TerminalContext, items: unknown[], receivedAt: Date, options: WriteSalesOptions = {}, bytes = 0): Promise<WriteSalesResult> | null {
      return queue.submit(
        items.length,
        bytes,
        () => writeSales(terminal, items, receivedAt, options),
        (r) => r.creees.length,
      );
    },
  };
}

/** The upsert found a day's stored row too near MAX_CHIFFRES_JOUR_CENTIMES: decide again with the rows. */
class DayTotalNear extends Error {
  constructor() {
    super('total du jour proche de la limite');
  }
}

export type PgSaleWrites = ReturnType<typeof createPgSaleWrites>;
