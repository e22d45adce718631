import { newSecret, type StockNegatif } from '@ventesync/shared';
import {
  articleElsewhere,
  articleExists,
  articleNotFound,
  boutiqueExists,
  boutiqueNotFound,
  changedBoutique,
  checkArticleName,
  checkCount,
  checkDelivery,
  checkInitialStock,
  checkNewBoutique,
  checkNewTerminal,
  checkShift,
  checkStockAfter,
  DEFAULT_REFERENCES,
  importedBoutique,
  negativeStock,
  sameBoutique,
  secretExists,
  stockMovement,
  terminalExists,
  terminalNotFound,
} from '../catalogue-rules.js';
import type {
  ArticleRow,
  BoutiqueEntry,
  BoutiqueRow,
  MouvementRow,
  MouvementType,
  TerminalContext,
  TerminalRow,
} from '../catalogue-store.js';
import type { CatalogueStorage } from '../storage/storage.js';
import { BOUTIQUE_LOCK_SPACE, boutiqueLockKey } from './pg-boutique-tx.js';
import { rebuildPgDailyTotals } from './pg-daily-totals.js';
import { int, type PgRunner, type PgStatement } from './pg-runner.js';

/**
 * Boutiques, terminals, articles and stock on PostgreSQL: catalogue-store.ts's methods, same
 * results, same refusals (catalogue-rules.ts), same order of checks. A stock change reads the
 * article FOR UPDATE before computing from it, as SQLite's IMMEDIATE transaction does: the
 * movement's before and after are the true ones even while other instances sell.
 */

const BOUTIQUE_COLUMNS = 'id, nom, devise, fuseau, stock_negatif';
const ARTICLE_COLUMNS = 'id, boutique_id, nom, prix_vente, quantite_stock';
const TERMINAL_COLUMNS = 'serial, nom, boutique_id, actif, secret IS NOT NULL AS signe';

/**
 * An explicit id (import, `--id`) does not move an identity's sequence: without this, the next
 * row made without an id would be given one already taken. Moves it forward only, never back.
 */
const advanceIdentity = (table: string): PgStatement => ({
  name: `vs_cat_avance_${table}`,
  text: `SELECT setval(s.seq, $1::bigint) FROM (SELECT pg_get_serial_sequence('${table}', 'id')::regclass AS seq) s
         WHERE COALESCE(pg_sequence_last_value(s.seq), 0) < $1::bigint`,
});

const SQL = {
  activeTerminal: {
    name: 'vs_cat_terminal_actif',
    text: `SELECT t.serial, t.nom, t.boutique_id, b.nom AS boutique_nom, b.devise, b.fuseau, b.stock_negatif, t.secret
           FROM terminaux t JOIN boutiques b ON b.id = t.boutique_id
           WHERE t.serial = $1 AND t.actif = 1`,
  },
  boutique: { name: 'vs_cat_boutique', text: `SELECT ${BOUTIQUE_COLUMNS} FROM boutiques WHERE id = $1` },
  // The sale writers' lock on the boutique (pg-boutique-tx.ts), taken first as they do: they
  // read the boutique's zone after it, so no sale is counted on a day of the old zone once the
  // new zone and its rebuilt totals are committed.
  boutiqueWriteLock: { name: 'vs_cat_boutique_verrou_ecritures', text: 'SELECT pg_advisory_xact_lock($1::int, $2::int)' },
  boutiqueForUpdate: { name: 'vs_cat_boutique_verrou', text: `SELECT ${BOUTIQUE_COLUMNS} FROM boutiques WHERE id = $1 FOR UPDATE` },
  boutiques: { name: 'vs_cat_boutiques', text: `SELECT ${BOUTIQUE_COLUMNS} FROM boutiques ORDER BY id` },
  isEmpty: { name: 'vs_cat_vide', text: 'SELECT NOT EXISTS (SELECT 1 FROM boutiques) AS vide' },
  upsertBoutique: {
    name: 'vs_cat_boutique_ecrire',
    text: `INSERT INTO boutiques (id, nom, devise, fuseau, stock_negatif) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET nom = excluded.nom, devise = excluded.devise, fuseau = excluded.fuseau,
                                          stock_negatif = excluded.stock_negatif`,
  },
  insertBoutique: {
    name: 'vs_cat_boutique_creer',
    text: `INSERT INTO boutiques (id, nom, devise, fuseau, stock_negatif)
           VALUES (COALESCE($1::bigint, nextval(pg_get_serial_sequence('boutiques', 'id'))), $2, $3, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
  },
  advanceBoutiques: advanceIdentity('boutiques'),
  terminal: { name: 'vs_cat_terminal', text: `SELECT ${TERMINAL_COLUMNS} FROM terminaux WHERE serial = $1` },
  terminaux: { name: 'vs_cat_terminaux', text: `SELECT ${TERMINAL_COLUMNS} FROM terminaux ORDER BY boutique_id, serial` },
  setTerminalSecret: { name: 'vs_cat_terminal_secret', text: 'UPDATE terminaux SET secret = $1 WHERE serial = $2' },
  upsertTerminal: {
    name: 'vs_cat_terminal_ecrire',
    text: `INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES ($1, $2, $3, $4)
           ON CONFLICT (serial) DO UPDATE SET nom = excluded.nom, boutique_id = excluded.boutique_id, actif = excluded.actif`,
  },
  insertTerminal: {
    name: 'vs_cat_terminal_creer',
    text: 'INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES ($1, $2, $3, 1) ON CONFLICT (serial) DO NOTHING',
  },
  setTerminalActif: { name: 'vs_cat_terminal_actif_changer', text: 'UPDATE terminaux SET actif = $1 WHERE serial = $2 AND actif != $1' },
  article: { name: 'vs_cat_article', text: `SELECT ${ARTICLE_COLUMNS} FROM articles WHERE id = $1` },
  articleForUpdate: { name: 'vs_cat_article_verrou', text: `SELECT ${ARTICLE_COLUMNS} FROM articles WHERE id = $1 FOR UPDATE` },
  articlesOf: { name: 'vs_cat_articles_boutique', text: `SELECT ${ARTICLE_COLUMNS} FROM articles WHERE boutique_id = $1 ORDER BY id` },
  allArticles: { name: 'vs_cat_articles', text: `SELECT ${ARTICLE_COLUMNS} FROM articles ORDER BY boutique_id, id` },
  insertArticle: {
    name: 'vs_cat_article_creer',
    text: `INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock)
           VALUES (COALESCE($1::bigint, nextval(pg_get_serial_sequence('articles', 'id'))), $2, $3, $4, 0) RETURNING id`,
  },
  advanceArticles: advanceIdentity('articles'),
  updateArticle: { name: 'vs_cat_article_changer', text: 'UPDATE articles SET nom = $1, prix_vente = $2 WHERE id = $3' },
  // Relative, under the row lock taken just before; the condition keeps a removal from taking
  // the stock below zero (no row back: it would have). An addition always passes.
  shiftStock: {
    name: 'vs_cat_stock_decaler',
    text: `UPDATE articles SET quantite_stock = quantite_stock + $1::bigint
           WHERE id = $2 AND ($1::bigint >= 0 OR quantite_stock + $1::bigint >= 0) RETURNING quantite_stock`,
  },
  insertMouvement: {
    name: 'vs_cat_mouvement',
    text: `INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
           VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) RETURNING id`,
  },
  mouvements: {
    name: 'vs_cat_mouvements',
    text: `SELECT m.id, m.article_id, a.nom AS article_nom, m.type, m.quantite, m.stock_avant, m.stock_apres,
                  m.reference, m.terminal_serial, m.date
           FROM mouvements_stock m JOIN articles a ON a.id = m.article_id
           WHERE ($1::bigint IS NULL OR m.article_id = $1::bigint)
           ORDER BY m.id DESC LIMIT $2`,
  },
} satisfies Record<string, PgStatement>;

type IntText = string | number;
type BoutiqueDbRow = Omit<BoutiqueRow, 'id'> & { id: IntText };
type TerminalDbRow = { serial: string; nom: string; boutique_id: IntText; actif: number; signe: boolean };
type ArticleDbRow = { id: IntText; boutique_id: IntText; nom: string; prix_vente: IntText; quantite_stock: IntText };

const toBoutique = (r: BoutiqueDbRow): BoutiqueRow => ({ ...r, id: int(r.id), stock_negatif: r.stock_negatif as StockNegatif });
const toTerminal = (r: TerminalDbRow): TerminalRow => ({ serial: r.serial, nom: r.nom, boutique_id: int(r.boutique_id), actif: r.actif === 1, signe: r.signe });
const toArticle = (r: ArticleDbRow): ArticleRow => ({
  id: int(r.id),
  boutique_id: int(r.boutique_id),
  nom: r.nom,
  prix_vente: int(r.prix_vente),
  quantite_stock: int(r.quantite_stock),
});

/** What the import needs besides the interface: insert or update by id / serial. */
export interface PgCatalogue extends CatalogueStorage {
  requireBoutique(id: number): Promise<BoutiqueRow>;
  upsertBoutique(b: BoutiqueEntry): Promise<void>;
  upsertTerminal(t: TerminalRow): Promise<void>;
  upsertArticle(a: { id: number; boutique_id: number; nom: string; prix_vente: number; stock: number }, now: Date): Promise<void>;
}

export function createPgCatalogue(db: PgRunner): PgCatalogue {
  const first = async <R extends object>(statement: PgStatement, values: unknown[]): Promise<R | undefined> =>
    (await db.query<R>(statement, values)).rows[0];

  const findBoutique = async (id: number, on: PgRunner = db): Promise<BoutiqueRow | undefined> => {
    const row = (await on.query<BoutiqueDbRow>(SQL.boutique, [id])).rows[0];
    return row && toBoutique(row);
  };
  const requireBoutique = async (id: number, on: PgRunner = db): Promise<BoutiqueRow> => {
    const boutique = await findBoutique(id, on);
    if (!boutique) throw boutiqueNotFound(id);
    return boutique;
  };
  const findArticle = async (id: number, on: PgRunner = db): Promise<ArticleRow | undefined> => {
    const row = (await on.query<ArticleDbRow>(SQL.article, [id])).rows[0];
    return row && toArticle(row);
  };
  const requireArticle = async (id: number): Promise<ArticleRow> => {
    const article = await findArticle(id);
    if (!article) throw articleNotFound(id);
    return article;
  };
  const findTerminal = async (serial: string, on: PgRunner = db): Promise<TerminalRow | undefined> => {
    const row = (await on.query<TerminalDbRow>(SQL.terminal, [serial])).rows[0];
    return row && toTerminal(row);
  };

  /**
   * Writes a boutique's row, locked first (FOR UPDATE: a sale of that boutique waits, its insert
   * checking the boutique's key); when its zone changed, its daily totals are made again in the
   * same transaction.
   */
  async function writeBoutique(tx: PgRunner, b: BoutiqueRow, before: BoutiqueRow | undefined): Promise<{ totauxRecalcules: boolean }> {
    await tx.query(SQL.upsertBoutique, [b.id, b.nom, b.devise, b.fuseau, b.stock_negatif]);
    if (before === undefined) await tx.query(SQL.advanceBoutiques, [b.id]);
    const rebuild = before !== undefined && before.fuseau !== b.fuseau;
    if (rebuild) await rebuildPgDailyTotals(tx, b.id, b.fuseau);
    return { totauxRecalcules: rebuild };
  }
  const lockedBoutique = async (tx: PgRunner, id: number): Promise<BoutiqueRow | undefined> => {
    await tx.query(SQL.boutiqueWriteLock, [BOUTIQUE_LOCK_SPACE, boutiqueLockKey(id)]);
    const row = (await tx.query<BoutiqueDbRow>(SQL.boutiqueForUpdate, [id])).rows[0];
    return row && toBoutique(row);
  };

  /** Every stock change goes through here, so that each one leaves its movement (see catalogue-store.ts). */
  async function shiftStock(
    tx: PgRunner,
    articleId: number,
    type: MouvementType,
    delta: (current: number) => number,
    reference: string | null,
    now: Date,
  ): Promise<MouvementRow> {
    const locked = (await tx.query<ArticleDbRow>(SQL.articleForUpdate, [articleId])).rows[0];
    if (!locked) throw articleNotFound(articleId);
    const article = toArticle(locked);
    const quantite = delta(article.quantite_stock);
    checkShift(quantite);
    const shifted = (await tx.query<{ quantite_stock: string }>(SQL.shiftStock, [quantite, articleId])).rows[0];
    if (shifted === undefined) throw negativeStock(article.quantite_stock, quantite);
    const after = Number(shifted.quantite_stock);
    checkStockAfter(after);
    const before = after - quantite;
    const date = now.toISOString();
    const inserted = await tx.query<{ id: string }>(SQL.insertMouvement, [articleId, type, quantite, before, after, reference, date]);
    return stockMovement(int(inserted.rows[0]!.id), article, type, quantite, after, reference, date);
  }

  /** An article with its first stock, in one transaction: never an article without its ENTREE. */
  async function insertArticle(
    tx: PgRunner,
    a: { id: number | null; boutique_id: number; nom: string; prix_vente: number; stock: number },
    reference: string,
    now: Date,
  ): Promise<number> {
    const inserted = await tx.query<{ id: string }>(SQL.insertArticle, [a.id, a.boutique_id, a.nom, a.prix_vente]);
    const id = int(inserted.rows[0]!.id);
    if (a.id !== null) await tx.query(SQL.advanceArticles, [id]);
    if (a.stock > 0) await shiftStock(tx, id, 'ENTREE', () => a.stock, reference, now);
    return id;
  }

  return {
    async findActiveTerminal(serial) {
      const row = await first<Omit<TerminalContext, 'boutique_id'> & { boutique_id: IntText }>(SQL.activeTerminal, [serial]);
      return row && { ...row, boutique_id: int(row.boutique_id) };
    },
    isEmpty: async () => (await first<{ vide: boolean }>(SQL.isEmpty, []))!.vide,

    listBoutiques: async () => (await db.query<BoutiqueDbRow>(SQL.boutiques)).rows.map(toBoutique),
    getBoutique: (id) => requireBoutique(id),
    requireBoutique: (id) => requireBoutique(id),
    findBoutique: (id) => findBoutique(id),
    async addBoutique(nom, devise = 'CDF', id = null, options = {}) {
      const { fuseau, stock_negatif } = checkNewBoutique(nom, options);
      const created = await db.transaction(async (tx) => {
        if (id !== null && (await findBoutique(id, tx))) throw boutiqueExists(id);
        // No row back: another instance took that id at the same moment, the same CONFLICT.
        const row = (await tx.query<{ id: string }>(SQL.insertBoutique, [id, nom, devise, fuseau, stock_negatif])).rows[0];
        if (!row) throw boutiqueExists(id ?? 0);
        if (id !== null) await tx.query(SQL.advanceBoutiques, [id]);
        return int(row.id);
      });
      return requireBoutique(created);
    },
    async setBoutique(id, changes) {
      const current = await requireBoutique(id);
      const next = changedBoutique(current, changes);
      if (sameBoutique(next, current)) return { ...current, totauxRecalcules: false, changed: false };
      const { totauxRecalcules } = await db.transaction(async (tx) => writeBoutique(tx, next, await lockedBoutique(tx, id)));
      return { ...(await requireBoutique(id)), totauxRecalcules, changed: true };
    },
    upsertBoutique: (b) =>
      db.transaction(async (tx) => {
        const current = await lockedBoutique(tx, b.id);
        await writeBoutique(tx, importedBoutique(b, current), current);
      }),

    listTerminaux: async () => (await db.query<TerminalDbRow>(SQL.terminaux)).rows.map(toTerminal),
    async getTerminal(serial) {
      const t = await findTerminal(serial);
      if (!t) throw terminalNotFound(serial);
      return t;
    },
    async addTerminal(rawSerial, nom, boutiqueId) {
      const checked = checkNewTerminal(rawSerial, nom);
      await requireBoutique(boutiqueId);
      // ON CONFLICT DO NOTHING: another instance adding the same serial at the same moment is a
      // CONFLICT too, not a duplicate-key error.
      const inserted = await db.query(SQL.insertTerminal, [checked.serial, checked.nom, boutiqueId]);
      if (inserted.rowCount !== 1) throw terminalExists(checked.serial);
      return (await findTerminal(checked.serial))!;
    },
    async upsertTerminal(t) {
      await db.query(SQL.upsertTerminal, [t.serial, t.nom, t.boutique_id, t.actif ? 1 : 0]);
    },
    async setTerminalActif(serial, actif) {
      const changed = (await db.query(SQL.setTerminalActif, [actif ? 1 : 0, serial])).rowCount === 1;
      const row = await findTerminal(serial);
      if (!row) throw terminalNotFound(serial);
      return { ...row, changed };
    },
    async issueTerminalSecret(serial, rotate) {
      const t = await findTerminal(serial);
      if (!t) throw terminalNotFound(serial);
      if (t.signe && !rotate) throw secretExists(serial);
      const secret = newSecret();
      await db.query(SQL.setTerminalSecret, [secret, serial]);
      return { serial, secret };
    },

    getArticle: (id) => findArticle(id),
    async listArticles(boutiqueId) {
      const result =
        boutiqueId === undefined ? await db.query<ArticleDbRow>(SQL.allArticles) : await db.query<ArticleDbRow>(SQL.articlesOf, [boutiqueId]);
      return result.rows.map(toArticle);
    },
    async addArticle(a, now) {
      await requireBoutique(a.boutique_id);
      checkArticleName(a.nom);
      if (a.id != null && (await findArticle(a.id))) throw articleExists(a.id);
      checkInitialStock(a.stock);
      const id = await db.transaction((tx) => insertArticle(tx, { ...a, id: a.id ?? null }, DEFAULT_REFERENCES.create, now));
      return requireArticle(id);
    },
    upsertArticle: (a, now) =>
      db.transaction(async (tx) => {
        const locked = (await tx.query<ArticleDbRow>(SQL.articleForUpdate, [a.id])).rows[0];
        if (!locked) {
          await insertArticle(tx, a, DEFAULT_REFERENCES.import, now);
          return;
        }
        const existing = toArticle(locked);
        if (existing.boutique_id !== a.boutique_id) throw articleElsewhere(a.id, existing.boutique_id, a.boutique_id);
        await tx.query(SQL.updateArticle, [a.nom, a.prix_vente, a.id]);
        if (existing.quantite_stock !== a.stock) await shiftStock(tx, a.id, 'AJUSTEMENT', (current) => a.stock - current, DEFAULT_REFERENCES.import, now);
      }),

    async addStock(articleId, quantite, now, reference = DEFAULT_REFERENCES.addStock) {
      checkDelivery(quantite);
      return db.transaction((tx) => shiftStock(tx, articleId, 'ENTREE', () => quantite, reference, now));
    },
    async setStock(articleId, quantite, now, reference = DEFAULT_REFERENCES.setStock) {
      checkCount(quantite);
      return db.transaction((tx) => shiftStock(tx, articleId, 'AJUSTEMENT', (current) => quantite - current, reference, now));
    },
    async listMouvements(articleId, limit) {
      const rows = (
        await db.query<Omit<MouvementRow, 'id' | 'article_id' | 'quantite' | 'stock_avant' | 'stock_apres'> & Record<'id' | 'article_id' | 'quantite' | 'stock_avant' | 'stock_apres', IntText>>(
          SQL.mouvements,
          [articleId, limit],
        )
      ).rows;
      return rows.map((m) => ({
        ...m,
        id: int(m.id),
        article_id: int(m.article_id),
        quantite: int(m.quantite),
        stock_avant: int(m.stock_avant),
        stock_apres: int(m.stock_apres),
      }));
    },
  };
}
