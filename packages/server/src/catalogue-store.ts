import { newSecret, type StockNegatif } from '@ventesync/shared';
import {
  articleElsewhere,
  articleExists,
  articleNotFound,
  boutiqueExists,
  boutiqueNotFound,
  CatalogueError,
  changedBoutique,
  checkArticleName,
  checkCount,
  checkDelivery,
  checkInitialStock,
  checkNewBoutique,
  checkNewTerminal,
  checkShift,
  checkStockAfter,
  stockMovement,
  DEFAULT_REFERENCES,
  importedBoutique,
  negativeStock,
  sameBoutique,
  secretExists,
  terminalExists,
  terminalNotFound,
} from './catalogue-rules.js';
import { rebuildDailyTotals } from './daily-totals.js';
import type { Db } from './db/open-database.js';

export interface BoutiqueRow {
  id: number;
  nom: string;
  devise: string;
  /** IANA zone whose days are the boutique's days (CONTRACT §7). */
  fuseau: string;
  /** 'autoriser': its sales are created even when stock is short (stock below zero). */
  stock_negatif: StockNegatif;
}

/** What `boutique set` changes; an absent field is left as it is. */
export interface BoutiqueChanges {
  nom?: string;
  devise?: string;
  fuseau?: string;
  stock_negatif?: string;
}

/** An import entry: zone and stock rule absent mean "as they are" (a new boutique: the defaults). */
export interface BoutiqueEntry {
  id: number;
  nom: string;
  devise: string;
  fuseau?: string | undefined;
  stock_negatif?: StockNegatif | undefined;
}

export interface TerminalRow {
  serial: string;
  nom: string;
  boutique_id: number;
  actif: boolean;
  /** Whether the terminal has a secret (signs its requests, CONTRACT §6); never the secret. */
  signe?: boolean;
}

/** A terminal with its boutique, as the API needs it on every request. */
export interface TerminalContext {
  serial: string;
  nom: string;
  boutique_id: number;
  boutique_nom: string;
  devise: string;
  /** The boutique's zone: its local days (CONTRACT §7). */
  fuseau: string;
  stock_negatif: StockNegatif;
  /** Its §6 secret, to check signatures with; null for a till that does not sign. Never logged. */
  secret: string | null;
}

export interface ArticleRow {
  id: number;
  boutique_id: number;
  nom: string;
  /** centimes */
  prix_vente: number;
  quantite_stock: number;
}

export type MouvementType = 'SORTIE' | 'ENTREE' | 'AJUSTEMENT';

export interface MouvementRow {
  id: number;
  article_id: number;
  article_nom: string;
  type: MouvementType;
  quantite: number;
  stock_avant: number;
  stock_apres: number;
  reference: string | null;
  terminal_serial: string | null;
  date: string;
}

/** The rules and messages are backend-neutral (catalogue-rules.ts): PostgreSQL refuses with the same. */
export { CatalogueError };

/** Boutiques, terminals, articles and stock: what operators set up and the API reads. */
export function createCatalogueStore(db: Db) {
  const stmt = {
    activeTerminal: db.prepare<[string], TerminalContext>(`
      SELECT t.serial, t.nom, t.boutique_id, b.nom AS boutique_nom, b.devise, b.fuseau, b.stock_negatif, t.secret
      FROM terminaux t JOIN boutiques b ON b.id = t.boutique_id
      WHERE t.serial = ? AND t.actif = 1`),
    boutique: db.prepare<[number], BoutiqueRow>('SELECT id, nom, devise, fuseau, stock_negatif FROM boutiques WHERE id = ?'),
    boutiques: db.prepare<[], BoutiqueRow>('SELECT id, nom, devise, fuseau, stock_negatif FROM boutiques ORDER BY id'),
    countBoutiques: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM boutiques'),
    upsertBoutique: db.prepare<[number, string, string, string, string]>(`
      INSERT INTO boutiques (id, nom, devise, fuseau, stock_negatif) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET nom = excluded.nom, devise = excluded.devise, fuseau = excluded.fuseau,
                                     stock_negatif = excluded.stock_negatif`),
    insertBoutique: db.prepare<[number | null, string, string, string, string]>(
      'INSERT INTO boutiques (id, nom, devise, fuseau, stock_negatif) VALUES (?, ?, ?, ?, ?) RETURNING id',
    ),
    terminal: db.prepare<[string], { serial: string; nom: string; boutique_id: number; actif: number; signe: number }>(
      'SELECT serial, nom, boutique_id, actif, secret IS NOT NULL AS signe FROM terminaux WHERE serial = ?',
    ),
    terminaux: db.prepare<[], { serial: string; nom: string; boutique_id: number; actif: number; signe: number }>(
      'SELECT serial, nom, boutique_id, actif, secret IS NOT NULL AS signe FROM terminaux ORDER BY boutique_id, serial',
    ),
    setTerminalSecret: db.prepare<[string, string]>('UPDATE terminaux SET secret = ? WHERE serial = ?'),
    upsertTerminal: db.prepare<[string, string, number, number]>(`
      INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES (?, ?, ?, ?)
      ON CONFLICT (serial) DO UPDATE SET nom = excluded.nom, boutique_id = excluded.boutique_id, actif = excluded.actif`),
    setTerminalActif: db.prepare<[number, string, number]>('UPDATE terminaux SET actif = ? WHERE serial = ? AND actif != ?'),
    article: db.prepare<[number], ArticleRow>(
      'SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles WHERE id = ?',
    ),
    articlesOf: db.prepare<[number], ArticleRow>(
      'SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles WHERE boutique_id = ? ORDER BY id',
    ),
    allArticles: db.prepare<[], ArticleRow>(
      'SELECT id, boutique_id, nom, prix_vente, quantite_stock FROM articles ORDER BY boutique_id, id',
    ),
    insertArticle: db.prepare<[number | null, number, string, number, number], { id: number }>(`
      INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (?, ?, ?, ?, ?) RETURNING id`),
    updateArticle: db.prepare<[string, number, number]>('UPDATE articles SET nom = ?, prix_vente = ? WHERE id = ?'),
    // Relative: the new stock is computed by SQLite from the row as it is when the write lock
    // is held, never from a value read earlier (a sale committed in between would be erased).
    // The condition keeps a removal from taking the stock below zero; no row back means it
    // would have. An addition always passes: a delivery brings a stock that offline sales took
    // below zero (CONTRACT §7) back up, even when it stays below zero.
    shiftStock: db
      .prepare<[number, number, number, number], number>(
        'UPDATE articles SET quantite_stock = quantite_stock + ? WHERE id = ? AND (? >= 0 OR quantite_stock + ? >= 0) RETURNING quantite_stock',
      )
      .pluck(),
    insertMouvement: db.prepare<
      [number, MouvementType, number, number, number, string | null, string | null, string]
    >(`
      INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    mouvements: db.prepare<[number | null, number | null, number], MouvementRow>(`
      SELECT m.id, m.article_id, a.nom AS article_nom, m.type, m.quantite, m.stock_avant, m.stock_apres,
             m.reference, m.terminal_serial, m.date
      FROM mouvements_stock m JOIN articles a ON a.id = m.article_id
      WHERE (? IS NULL OR m.article_id = ?)
      ORDER BY m.id DESC LIMIT ?`),
  };

  function requireBoutique(id: number): BoutiqueRow {
    const boutique = stmt.boutique.get(id);
    if (!boutique) throw boutiqueNotFound(id);
    return boutique;
  }

  /**
   * Writes a boutique's row; when its zone changed, its daily totals are made again for the new
   * day boundaries, in the same transaction (the caller's, or one of its own).
   */
  const writeBoutiqueTx = db.transaction((b: BoutiqueRow): { totauxRecalcules: boolean } => {
    const before = stmt.boutique.get(b.id);
    stmt.upsertBoutique.run(b.id, b.nom, b.devise, b.fuseau, b.stock_negatif);
    const rebuild = before !== undefined && before.fuseau !== b.fuseau;
    if (rebuild) rebuildDailyTotals(db, b.id, b.fuseau);
    return { totauxRecalcules: rebuild };
  });

  function requireArticle(id: number): ArticleRow {
    const article = stmt.article.get(id);
    if (!article) throw articleNotFound(id);
    return article;
  }

  /**
   * Every stock change goes through here, so that each one leaves its movement. It runs in an
   * IMMEDIATE transaction (or inside the caller's): the write lock is taken before the stock is
   * read, so the movement's before and after are the true ones even while another process sells.
   * `delta` gives the change from the stock as it is then: a count passes `target - current`.
   */
  const shiftStockTx = db.transaction(
    (articleId: number, type: MouvementType, delta: (current: number) => number, reference: string | null, now: Date) => {
      const article = requireArticle(articleId);
      const quantite = delta(article.quantite_stock);
      checkShift(quantite);
      const after = stmt.shiftStock.get(quantite, articleId, quantite, quantite);
      if (after === undefined) throw negativeStock(article.quantite_stock, quantite);
      checkStockAfter(after);
      const before = after - quantite;
      const date = now.toISOString();
      const info = stmt.insertMouvement.run(articleId, type, quantite, before, after, reference, null, date);
      return stockMovement(Number(info.lastInsertRowid), article, type, quantite, after, reference, date);
    },
  );
  const shiftStock = (...args: Parameters<typeof shiftStockTx>): MouvementRow => shiftStockTx.immediate(...args);

  /** Creating an article with its first stock is one transaction: never an article without its ENTREE. */
  const insertArticleTx = db.transaction(
    (a: { id: number | null; boutique_id: number; nom: string; prix_vente: number; stock: number }, reference: string, now: Date) => {
      const { id } = stmt.insertArticle.get(a.id, a.boutique_id, a.nom, a.prix_vente, 0)!;
      if (a.stock > 0) shiftStock(id, 'ENTREE', () => a.stock, reference, now);
      return id;
    },
  );

  /** Insert or update by id; a changed stock is an AJUSTEMENT, like a count, against the stock under the lock. */
  const upsertArticleTx = db.transaction(
    (a: { id: number; boutique_id: number; nom: string; prix_vente: number; stock: number }, now: Date) => {
      const existing = stmt.article.get(a.id);
      if (!existing) {
        insertArticleTx(a, DEFAULT_REFERENCES.import, now);
        return;
      }
      if (existing.boutique_id !== a.boutique_id) throw articleElsewhere(a.id, existing.boutique_id, a.boutique_id);
      stmt.updateArticle.run(a.nom, a.prix_vente, a.id);
      if (existing.quantite_stock !== a.stock) shiftStock(a.id, 'AJUSTEMENT', (current) => a.stock - current, DEFAULT_REFERENCES.import, now);
    },
  );

  function addTerminalChecked(serial: string, nom: string, boutiqueId: number): TerminalRow {
    requireBoutique(boutiqueId);
    if (stmt.terminal.get(serial)) throw terminalExists(serial);
    stmt.upsertTerminal.run(serial, nom, boutiqueId, 1);
    return toTerminal(stmt.terminal.get(serial)!);
  }

  const toTerminal = (t: { serial: string; nom: string; boutique_id: number; actif: number; signe: number }): TerminalRow => ({
    ...t,
    actif: t.actif === 1,
    signe: t.signe === 1,
  });

  return {
    findActiveTerminal: (serial: string): TerminalContext | undefined => stmt.activeTerminal.get(serial),
    isEmpty: () => stmt.countBoutiques.get()!.n === 0,

    listBoutiques: () => stmt.boutiques.all(),
    getBoutique: requireBoutique,
    findBoutique: (id: number): BoutiqueRow | undefined => stmt.boutique.get(id),
    addBoutique(
      nom: string,
      devise = 'CDF',
      id: number | null = null,
      options: { fuseau?: string; stock_negatif?: string } = {},
    ): BoutiqueRow {
      const { fuseau, stock_negatif } = checkNewBoutique(nom, options);
      if (id !== null && stmt.boutique.get(id)) throw boutiqueExists(id);
      const row = stmt.insertBoutique.get(id, nom, devise, fuseau, stock_negatif) as { id: number };
      return requireBoutique(row.id);
    },
    /**
     * `boutique set`: changes only the fields given, each checked before anything is written.
     * A new zone rebuilds the boutique's daily totals (`totauxRecalcules`).
     */
    /** `changed` false when every field given already had that value: nothing written (no audit row for it). */
    setBoutique(id: number, changes: BoutiqueChanges): BoutiqueRow & { totauxRecalcules: boolean; changed: boolean } {
      const current = requireBoutique(id);
      const next = changedBoutique(current, changes);
      if (sameBoutique(next, current)) return { ...current, totauxRecalcules: false, changed: false };
      const { totauxRecalcules } = writeBoutiqueTx.immediate(next);
      return { ...requireBoutique(id), totauxRecalcules, changed: true };
    },
    /** Import: insert or update by id; a zone or stock rule left out keeps the boutique's own. */
    upsertBoutique(b: BoutiqueEntry): void {
      writeBoutiqueTx(importedBoutique(b, stmt.boutique.get(b.id)));
    },

    listTerminaux: () => stmt.terminaux.all().map(toTerminal),
    getTerminal(serial: string): TerminalRow {
      const t = stmt.terminal.get(serial);
      if (!t) throw terminalNotFound(serial);
      return toTerminal(t);
    },
    addTerminal(rawSerial: string, nom: string, boutiqueId: number): TerminalRow {
      const checked = checkNewTerminal(rawSerial, nom);
      return addTerminalChecked(checked.serial, checked.nom, boutiqueId);
    },
    upsertTerminal: (t: TerminalRow) => stmt.upsertTerminal.run(t.serial, t.nom, t.boutique_id, t.actif ? 1 : 0),

    /** `changed` false when it already was so: nothing written (no audit row for it). */
    setTerminalActif(serial: string, actif: boolean): TerminalRow & { changed: boolean } {
      const changed = stmt.setTerminalActif.run(actif ? 1 : 0, serial, actif ? 1 : 0).changes === 1;
      const row = stmt.terminal.get(serial);
      if (!row) throw terminalNotFound(serial);
      return { ...toTerminal(row), changed };
    },

    /**
     * Issues a terminal's §6 secret and returns it, the only time it is shown. A terminal that
     * already has one keeps it unless `rotate`: the old one stops working at once.
     */
    issueTerminalSecret(serial: string, rotate: boolean): { serial: string; secret: string } {
      const t = stmt.terminal.get(serial);
      if (!t) throw terminalNotFound(serial);
      if (t.signe === 1 && !rotate) throw secretExists(serial);
      const secret = newSecret();
      stmt.setTerminalSecret.run(secret, serial);
      return { serial, secret };
    },

    getArticle: (id: number) => stmt.article.get(id),
    requireArticle,
    listArticles: (boutiqueId?: number) =>
      boutiqueId === undefined ? stmt.allArticles.all() : stmt.articlesOf.all(boutiqueId),
    addArticle(a: { id?: number | null; boutique_id: number; nom: string; prix_vente: number; stock: number }, now: Date) {
      requireBoutique(a.boutique_id);
      checkArticleName(a.nom);
      if (a.id != null && stmt.article.get(a.id)) throw articleExists(a.id);
      checkInitialStock(a.stock);
      const id = insertArticleTx.immediate({ ...a, id: a.id ?? null }, DEFAULT_REFERENCES.create, now);
      return requireArticle(id);
    },
    /** Insert or update by id; a changed stock is an AJUSTEMENT, like a count. */
    upsertArticle: (a: { id: number; boutique_id: number; nom: string; prix_vente: number; stock: number }, now: Date) =>
      upsertArticleTx.immediate(a, now),

    /** A delivery: adds to the stock, ENTREE movement. */
    addStock(articleId: number, quantite: number, now: Date, reference: string | null = DEFAULT_REFERENCES.addStock): MouvementRow {
      checkDelivery(quantite);
      return shiftStock(articleId, 'ENTREE', () => quantite, reference, now);
    },
    /** A count: sets the stock, AJUSTEMENT movement. */
    setStock(articleId: number, quantite: number, now: Date, reference: string | null = DEFAULT_REFERENCES.setStock): MouvementRow {
      checkCount(quantite);
      return shiftStock(articleId, 'AJUSTEMENT', (current) => quantite - current, reference, now);
    },
    listMouvements: (articleId: number | null, limit: number) => stmt.mouvements.all(articleId, articleId, limit),
  };
}

export type CatalogueStore = ReturnType<typeof createCatalogueStore>;
