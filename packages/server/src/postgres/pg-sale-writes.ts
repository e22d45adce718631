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

/**
 * Sales on PostgreSQL (issue 13 point 3): the same answers as SQLite's sale-writer.ts for the
 * same input, with several server instances on one database.
 *
 * One transaction per group (the requests of one boutique that waited while its previous
 * transaction ran: pg-write-queue.ts), no savepoint per sale (past 64 subtransactions a
 * backend's cache overflows and every session slows). Instead the group is decided in memory,
 * then written with a few set-based statements:
 * 1. BEGIN, the boutique's advisory lock (pg-boutique-tx.ts), its rules, and its articles of
 *    the batch locked in id order (FOR UPDATE: the CLI's stock changes wait), one round trip;
 * 2. the stored sales under the group's numeros, and the numeros generated in its second;
 * 3. the shared pipeline processSales over that state, request after request: a sale refused
 *    on its third line leaves no trace of the first two (takeStock changes the stock only for
 *    a whole sale);
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
        SELECT $1, u.numero, u.serial, u.date_vente, u.reception, u.mode, u.paye, u.montant, u.empreinte, u.date_caisse
        FROM unnest($4::text[], $5::text[], $6::text[], $7::smallint[], $8::bigint[], $9::text[], $10::text[], $2::text[], $3::text[])
             WITH ORDINALITY AS u(numero, date_vente, mode, paye, montant, empreinte, date_caisse, serial, reception, ord)
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
        SELECT u.article, 'SORTIE', u.quantite, u.avant, u.apres, u.numero, u.serial, u.date
        FROM unnest($11::text[], $12::bigint[], $13::bigint[], $16::bigint[], $17::bigint[], $25::text[], $26::text[])
             WITH ORDINALITY AS u(numero, article, quantite, avant, apres, serial, date, ord)
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
  serial: string;
  receivedIso: string;
  dateVente: string;
  dateCaisse: string | null;
  montant: number;
  steps: StockStep[];
}

/** One request of a group: the route's arguments. */
export interface SaleRequest {
  terminal: TerminalContext;
  items: readonly unknown[];
  receivedAt: Date;
  options: WriteSalesOptions;
}

/** What the transaction read; a pass asks for more when the group named something not loaded. */
interface Loaded {
  regles: BoutiqueRules;
  articles: Map<number, ArticleRow>;
  /** Article ids asked for (found or not). */
  articleIds: Set<number>;
  stored: Map<string, StoredSale>;
  numerosAsked: Set<string>;
  /** The seconds (numero stamps) whose generated range was read. */
  rangesRead: Set<string>;
  /** Day rows as stored, by `${jour} ${mode}`: read only when a day's bound came near. */
  chiffres: Map<string, bigint> | null;
}

interface Missing {
  articleIds: Set<number>;
  numeros: Set<string>;
  /** By stamp: a receivedAt of that second. */
  ranges: Map<string, Date>;
}

const nothingMissing = (m: Missing) => m.articleIds.size === 0 && m.numeros.size === 0 && m.ranges.size === 0;

/**
 * `onRetry` counts a transaction run again (the queue's stats). The group runner takes the
 * requests of one boutique the queue gathered (pg-write-queue.ts) and writes them in one
 * transaction: each is decided as if written after the ones before it, as SQLite's group
 * commit writes its requests one after the other in one transaction.
 */
export function createPgSaleWrites(pool: pg.Pool, where: string, onRetry: () => void) {
  // Shared by every request of this instance, as in SQLite: the k-th sale generated in a
  // second starts at its remembered suffix; another instance's numeros are seen in the range read.
  const numeros = createNumeroGenerator();

  /**
   * processSales over the loaded state, request after request, each seeing what the ones before
   * it created (stock, numeros, day totals). Pure apart from the numero generator: it records
   * what it needed and was not loaded (`missing`); the caller then loads it and runs the pass
   * again from the same state (generated numeros replayed, so they do not move).
   */
  function pass(group: readonly SaleRequest[], loaded: Loaded, generated: Map<string, string>) {
    const missing: Missing = { articleIds: new Set(), numeros: new Set(), ranges: new Map() };
    const stock = new Map<number, number>();
    for (const a of loaded.articles.values()) stock.set(a.id, a.quantite_stock);
    const stored = new Map(loaded.stored);
    const toWrite: SaleToWrite[] = [];
    // Per day and mode: what this group adds (the upsert's values).
    const chiffres = new Map<string, { jour: string; mode: string; nombre: number; montant: bigint }>();
    const fuseau = loaded.regles.fuseau;
    const articleOf = (id: number): ArticleRow | undefined => {
      if (!loaded.articleIds.has(id)) missing.articleIds.add(id);
      return loaded.articles.get(id);
    };

    const results = group.map(({ terminal, items, receivedAt, options }, r): WriteSalesResult => {
      const receivedIso = receivedAt.toISOString();
      const latestTrusted = latestTrustedDate(receivedAt);
      const allowNegative = allowsNegativeStock(options, loaded.regles);
      const stamp = formatNumeroTimestamp(receivedAt);
      const datesRemplacees: DateRemplacee[] = [];
      const numeroGenerator: NumeroGenerator = (b, at, index, isTaken) => {
        const key = `${r}:${index}`;
        const again = generated.get(key);
        if (again !== undefined && !(isTaken?.(again) ?? false)) return again;
        const numero = numeros(b, at, index, isTaken);
        generated.set(key, numero);
        return numero;
      };
      const storage = {
        findSale(numero: string): StoredSale | undefined {
          if (!loaded.numerosAsked.has(numero)) missing.numeros.add(numero);
          return stored.get(numero);
        },
        numeroTaken(numero: string): boolean {
          if (!loaded.rangesRead.has(stamp)) missing.ranges.set(stamp, receivedAt);
          return stored.has(numero);
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
        // Without the stored rows (the common case) the bound is checked on this group's part;
        // the upsert's WHERE sees a stored row that would pass it, and the group runs again
        // with the rows read.
        const storedTotal = loaded.chiffres?.get(key) ?? 0n;
        const tooHigh = dailyTotalRefusal(storedTotal + total.montant, priced.montant, jour, vente.mode_paiement);
        if (tooHigh) return tooHigh;
        const taken = takeStock(vente, priced, stock, allowNegative);
        if (isRefusal(taken)) return taken;
        toWrite.push({ vente, numero, empreinte, serial: terminal.serial, receivedIso, dateVente, dateCaisse, montant: priced.montant, steps: taken.steps });
        // The next requests of the group find it as stored, as on SQLite.
        stored.set(numero, { numero_facture: numero, montant_total: formatMoney(priced.montant), date_vente: dateVente, serial: terminal.serial, empreinte });
        if (dateCaisse !== null) datesRemplacees.push({ numero_facture: numero, date_vente_caisse: dateCaisse, date_vente: dateVente });
        total.nombre++;
        total.montant += BigInt(priced.montant);
        return venteCreee(numero, priced, taken.avertissements);
      };

      const batch = { serial: terminal.serial, boutiqueId: terminal.boutique_id, receivedAt, numeros: numeroGenerator };
      return { ...processSales(items, batch, storage, store), datesRemplacees };
    });
    return { results, toWrite, stock, chiffres, missing };
  }

  async function loadArticles(client: pg.PoolClient, boutiqueId: number, loaded: Loaded, ids: Set<number>): Promise<void> {
    const rows = (await client.query<ArticleDbRow>(ARTICLES_SQL(boutiqueId, ids))).rows;
    for (const id of ids) loaded.articleIds.add(id);
    for (const r of rows) loaded.articles.set(Number(r.id), articleOfRow(r));
  }

  /** The stored sales under `numerosToRead`, and every numero generated in the seconds of `ranges`. */
  async function loadSales(client: pg.PoolClient, boutiqueId: number, loaded: Loaded, numerosToRead: string[], ranges: Map<string, Date>) {
    const read = [...ranges];
    // Usually one second per group; each further one is its own statement.
    for (let i = 0; i === 0 || i < read.length; i++) {
      const range = read[i];
      const { from, to } = range ? generatedRange(boutiqueId, range[1]) : { from: '', to: '' };
      const values = [boutiqueId, i === 0 ? numerosToRead : [], from, to];
      const rows = (await client.query<StoredRow>({ ...STMT.storedSales, values })).rows;
      if (range) loaded.rangesRead.add(range[0]);
      for (const r of rows) {
        loaded.numerosAsked.add(r.numero_facture);
        loaded.stored.set(r.numero_facture, { ...r, montant_total: formatMoney(BigInt(r.montant_total)) });
      }
    }
    for (const n of numerosToRead) loaded.numerosAsked.add(n);
  }

  async function attempt(client: pg.PoolClient, group: readonly SaleRequest[], readChiffres: boolean): Promise<WriteSalesResult[]> {
    const first = group[0]!.terminal;
    const boutiqueId = first.boutique_id;
    const articleIds = new Set<number>();
    const numerosToRead = new Set<string>();
    const ranges = new Map<string, Date>();
    for (const request of group) {
      const keys = batchKeys(request.items);
      for (const id of keys.articleIds) articleIds.add(id);
      for (const n of keys.numeros) numerosToRead.add(n);
      if (keys.generates) ranges.set(formatNumeroTimestamp(request.receivedAt), request.receivedAt);
    }
    const opened = (await client.query(openBoutiqueSql(boutiqueId, [ARTICLES_SQL(boutiqueId, articleIds)]))) as unknown as pg.QueryResult[];
    const regleRow = opened[2]!.rows[0] as BoutiqueRules | undefined;
    const loaded: Loaded = {
      // The boutique's rules as they are under the lock; the terminal's copy if the row is gone.
      regles: regleRow ?? first,
      articles: new Map((opened[3]!.rows as ArticleDbRow[]).map((r) => [Number(r.id), articleOfRow(r)])),
      articleIds,
      stored: new Map(),
      numerosAsked: new Set(),
      rangesRead: new Set(),
      chiffres: null,
    };
    if (numerosToRead.size > 0 || ranges.size > 0) await loadSales(client, boutiqueId, loaded, [...numerosToRead], ranges);
    const generated = new Map<string, string>();
    let run = pass(group, loaded, generated);
    // Something named by the group was not read (a numero or article the raw scan did not
    // see): read it under the same lock and decide again from the start.
    while (!nothingMissing(run.missing)) {
      if (run.missing.articleIds.size > 0) await loadArticles(client, boutiqueId, loaded, run.missing.articleIds);
      if (run.missing.numeros.size > 0 || run.missing.ranges.size > 0) {
        await loadSales(client, boutiqueId, loaded, [...run.missing.numeros], run.missing.ranges);
      }
      run = pass(group, loaded, generated);
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
      run = pass(group, loaded, generated);
      // A day of this pass not among those read cannot happen: the days depend on the sales
      // alone, and refusing one more sale only removes days.
    }
    if (run.toWrite.length > 0) await write(client, boutiqueId, run.toWrite, run.stock, [...run.chiffres.values()].filter((c) => c.nombre > 0));
    return run.results;
  }

  async function write(
    client: pg.PoolClient,
    boutiqueId: number,
    sales: SaleToWrite[],
    stock: Map<number, number>,
    chiffres: Array<{ jour: string; mode: string; nombre: number; montant: bigint }>,
  ): Promise<void> {
    const lignes = sales.flatMap((s) => s.steps.map((step) => ({ sale: s, step })));
    const touched = new Set(lignes.map((l) => l.step.ligne.article.id));
    const articleIds = [...touched].sort((a, b) => a - b);
    const values = [
      boutiqueId,
      sales.map((s) => s.serial),
      sales.map((s) => s.receivedIso),
      sales.map((s) => s.numero),
      sales.map((s) => s.dateVente),
      sales.map((s) => s.vente.mode_paiement),
      sales.map((s) => (s.vente.paye ? 1 : 0)),
      sales.map((s) => s.montant),
      sales.map((s) => s.empreinte),
      sales.map((s) => s.dateCaisse),
      lignes.map((l) => l.sale.numero),
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
      lignes.map((l) => l.sale.serial),
      lignes.map((l) => l.sale.receivedIso),
    ];
    const counts = (await client.query<{ ventes: number; chiffres: number }>({ ...STMT.write, values })).rows[0]!;
    if (counts.ventes !== sales.length) throw new RetryRequest('numéro de vente écrit entre-temps');
    if (counts.chiffres !== chiffres.length) throw new DayTotalNear();
  }

  return {
    /**
     * Validates and writes the requests of one boutique (a group), in one transaction run
     * again on deadlock and the like; resolves once committed with each request's answer, as
     * SQLite's writer answers. Every request of the group fails if the transaction does.
     */
    writeGroup(group: readonly SaleRequest[]): Promise<WriteSalesResult[]> {
      let readChiffres = false;
      return runWriteTransaction(pool, where, onRetry, async (client) => {
        try {
          return await attempt(client, group, readChiffres);
        } catch (error) {
          if (!(error instanceof DayTotalNear)) throw error;
          // A stored day's row is close to the bound: run again, this time reading the rows.
          readChiffres = true;
          throw new RetryRequest(error.message);
        }
      });
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
