/**
 * The server's one storage interface (issue 13): everything the routes, the CLI and the server
 * process ask of a database, and nothing else. Two implementations: SQLite
 * (`sqlite-storage.ts`, wrapping the synchronous modules: catalogue-store.ts, sale-reader.ts…)
 * and PostgreSQL (`../postgres/pg-storage.ts`). `open-storage.ts` picks one from `--db`.
 *
 * Rules that keep the two the same to their callers:
 * - Each member has the name, parameters and result of the SQLite module's method the routes
 *   and CLI already call; only the result is wrapped in a Promise (the PostgreSQL driver is
 *   asynchronous). SQLite resolves at once, its work done synchronously inside the call.
 * - A refusal an operator can act on rejects with a `CatalogueError` (stable `code`:
 *   NOT_FOUND, CONFLICT, INVALID, INVALID_FUSEAU, INVALID_STOCK_NEGATIF) with the same French
 *   message on both backends. A database that cannot be reached for now (connection lost, the
 *   server restarting, a conflict retried until given up) rejects with an error whose `code`
 *   is STORAGE_UNAVAILABLE: the API answers it 503 + Retry-After, as a busy SQLite. Anything
 *   else rejects with the driver's error.
 * - Rows are plain objects: dates as ISO text in UTC, money as integer centimes (a number for one
 *   sale or article, a bigint for a sum: README, money rule), booleans as booleans.
 * - Nothing backend-specific here (no file name, transaction flag, pragma): `kind` and `where`
 *   say which backend for logs and messages only.
 */
import type { AuditEntry, AuditSource } from '@ventesync/runtime/cli';
import type { HistoriqueVente, ParsedSignature, RelaisTerminal, RelayReport } from '@ventesync/shared';
import type {
  ArticleRow,
  BoutiqueChanges,
  BoutiqueRow,
  MouvementRow,
  TerminalContext,
  TerminalRow,
} from '../catalogue-store.js';
import type { ImportResult } from '../fixture-import.js';
import type { GroupCommitStats } from '../group-commit.js';
import type { RapportResult } from '../rapport.js';
import type { ReconciliationDay, ReconciliationPage } from '../reconciliation-reader.js';
import type { ActiveRelay } from '../relay-registry.js';
import type { RelayOverview } from '../relay-reports.js';
import type { WriteRetoursResult } from '../retour-writer.js';
import type { HistoriqueFilter, RecentVenteRow, SaleReader, StockNegatifArticle } from '../sale-reader.js';
import type { WriteSalesOptions, WriteSalesResult } from '../sale-writer.js';

export type { AuditEntry, AuditSource } from '@ventesync/runtime/cli';

/** What `GET …/statistiques/` answers in `statistiques` (shared's StatistiquesResponse). */
export type Statistiques = ReturnType<SaleReader['statistiques']>;

/** Boutiques, terminals, articles and stock (catalogue-store.ts). */
export interface CatalogueStorage {
  /** The API's door, on every request: the active terminal with its boutique, or undefined. */
  findActiveTerminal(serial: string): Promise<TerminalContext | undefined>;
  /** No boutique at all (`serve --demo` loads its data only then). */
  isEmpty(): Promise<boolean>;
  listBoutiques(): Promise<BoutiqueRow[]>;
  /** NOT_FOUND when there is none. */
  getBoutique(id: number): Promise<BoutiqueRow>;
  findBoutique(id: number): Promise<BoutiqueRow | undefined>;
  addBoutique(nom: string, devise?: string, id?: number | null, options?: { fuseau?: string; stock_negatif?: string }): Promise<BoutiqueRow>;
  /**
   * `boutique set`. A new zone rebuilds the boutique's daily totals in the same transaction
   * (SQLite: daily-totals.ts; each backend its own), `totauxRecalcules` then true.
   */
  setBoutique(id: number, changes: BoutiqueChanges): Promise<BoutiqueRow & { totauxRecalcules: boolean; changed: boolean }>;
  listTerminaux(): Promise<TerminalRow[]>;
  getTerminal(serial: string): Promise<TerminalRow>;
  addTerminal(serial: string, nom: string, boutiqueId: number): Promise<TerminalRow>;
  setTerminalActif(serial: string, actif: boolean): Promise<TerminalRow & { changed: boolean }>;
  /** The secret is returned this once, never listed again. */
  issueTerminalSecret(serial: string, rotate: boolean): Promise<{ serial: string; secret: string }>;
  getArticle(id: number): Promise<ArticleRow | undefined>;
  /** One boutique's, or all of them (boutique, then id order). */
  listArticles(boutiqueId?: number): Promise<ArticleRow[]>;
  addArticle(a: { id?: number | null; boutique_id: number; nom: string; prix_vente: number; stock: number }, now: Date): Promise<ArticleRow>;
  /** A delivery: ENTREE movement. */
  addStock(articleId: number, quantite: number, now: Date, reference?: string | null): Promise<MouvementRow>;
  /** A count: AJUSTEMENT movement. */
  setStock(articleId: number, quantite: number, now: Date, reference?: string | null): Promise<MouvementRow>;
  /** Newest first; one article's or all. */
  listMouvements(articleId: number | null, limit: number): Promise<MouvementRow[]>;
}

/** The reads of sales (sale-reader.ts, rapport.ts). */
export interface ReaderStorage {
  historique(filter: HistoriqueFilter): Promise<{ total: number; ventes: HistoriqueVente[] }>;
  /** "Today" is the boutique's local day in `fuseau` (CONTRACT §7). */
  statistiques(boutiqueId: number, now: Date, fuseau?: string): Promise<Statistiques>;
  /** `ventes list`: newest first. */
  recentVentes(boutiqueId: number | null, limit: number): Promise<RecentVenteRow[]>;
  /** `stock negatif`. */
  stockNegatif(boutiqueId: number | null): Promise<StockNegatifArticle[]>;
  /** `rapport`: the daily close; `jour` absent is today in the boutique's zone. */
  rapport(boutiqueId: number, jour: string | undefined, now: Date): Promise<RapportResult>;
}

/** CONTRACT §7's reconciliation (reconciliation-reader.ts). */
export interface ReconciliationStorage {
  /**
   * The day as already computed when nothing was written since, else undefined: a cheap
   * answer the route gives without queueing. A backend without such a cache answers undefined.
   */
  cached(boutiqueId: number, serial: string, jour: string): Promise<ReconciliationDay | undefined>;
  day(boutiqueId: number, serial: string, jour: string): Promise<ReconciliationDay>;
  /**
   * Up to `limit` sales after `apres` (UTF-8 byte order). The route asks for `day` and `page`
   * in the same turn; a backend that can should read both from one snapshot.
   */
  page(boutiqueId: number, serial: string, jour: string, apres: string | null, limit: number): Promise<ReconciliationPage>;
}

/** Registered relays (relay-registry.ts) and their reports (relay-reports.ts). */
export interface RelayStorage {
  /** `relais add`: its secret returned this once. NOT_FOUND for a boutique that does not exist. */
  add(nom: string, boutiques: readonly number[]): Promise<{ id: number; secret: string }>;
  /** False when it already was disabled (nothing changed). */
  disable(id: number): Promise<boolean>;
  rotate(id: number): Promise<{ id: number; secret: string }>;
  findActive(id: number): Promise<ActiveRelay | undefined>;
  /** CONTRACT §6: the terminals of a relay's boutiques, with their secrets. */
  terminalsOf(relayId: number): Promise<RelaisTerminal[]>;
  /**
   * A short hash of what `terminalsOf` and `requireSignatures` give the relay: it changes when
   * either does (header X-Relay-Terminals-Version).
   */
  terminalsVersion(relayId: number, requireSignatures: boolean): Promise<string>;
  /** Replaces the relay's last report (already validated). */
  saveReport(relayId: number, report: RelayReport, now: Date): Promise<void>;
  /** `relais list` and the metrics: every relay with its last report and flags as of `now`. */
  overview(now: Date): Promise<RelayOverview[]>;
}

/**
 * The write path. Sales and returns share one queue and its bounds (group-commit.ts on SQLite):
 * null means the queue is full, and the route answers 503 OVERLOADED (routes/write-queue.ts).
 * A result resolves once its sales are durable; each sale is written whole or not at all.
 */
export interface WriteStorage {
  sales(terminal: TerminalContext, items: unknown[], receivedAt: Date, options: WriteSalesOptions, bytes: number): Promise<WriteSalesResult> | null;
  retours(terminal: TerminalContext, items: unknown[], receivedAt: Date, bytes: number): Promise<WriteRetoursResult> | null;
  /** Counted in memory since start (no database read): for the shutdown log and the bench. */
  stats(): Readonly<GroupCommitStats>;
  /** Requests waiting to be written. */
  queued(): number;
  /** Called with the seconds each write of a group took, from its start to durable (metrics). */
  onCommit(listener: (seconds: number) => void): void;
}

/** Monitoring (`/health`, `/ready`, `/metrics`). */
export interface HealthStorage {
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  /** A real write, undone: rejects as a sale's write would (disk full, I/O error, read-only…). */
  probeWrite(): Promise<void>;
  /** The database's size in bytes, for a gauge. */
  sizeBytes(): Promise<number>;
  /** The file whose disk's free space is watched; null when the data lives elsewhere (PostgreSQL). */
  readonly diskFile: string | null;
}

/** What an audited change may use: the changes the CLI makes, on the change's own transaction. */
export interface StorageChanges {
  catalogue: CatalogueStorage;
  relays: RelayStorage;
  /**
   * Boutiques, terminals and articles inserted or updated by id / serial, every problem
   * reported at once; nothing written when any (fixture-import.ts's rules). All or nothing by
   * itself (`serve --demo`), or as part of an audited change (`import`).
   */
  importFixture(content: unknown, now: Date): Promise<ImportResult>;
}

export interface Storage extends StorageChanges {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for logs and messages: the file, or the URL without its password. */
  readonly where: string;
  reader: ReaderStorage;
  reconciliation: ReconciliationStorage;
  writes: WriteStorage;
  /** CONTRACT §6: true the first time a signature's v1 is seen within the window (recorded), false for a replay. */
  signatures: { accept(signature: ParsedSignature, nowSeconds: number): Promise<boolean> };
  audit: { list(options: { depuis: Date | null; limit: number }): Promise<AuditEntry[]> };
  /**
   * Every CLI change: `change` runs on `tx` (the same parts, bound to one transaction), then
   * its audit row (when, who, the command, `describe`'s words: never a secret) is written in
   * that transaction; if either fails, neither is kept. `describe` null: nothing changed, no
   * row. Use only `tx` inside `change`, never `storage` itself (another connection on
   * PostgreSQL, outside the transaction).
   */
  audited<T>(source: AuditSource, change: (tx: StorageChanges) => Promise<T>, describe: (result: T) => string | null): Promise<T>;
  health: HealthStorage;
  /** Waits for queued writes, then closes the database. */
  close(): Promise<void>;
}

/** The `code` of a rejection meaning "the database cannot be reached for now: try again". */
export const STORAGE_UNAVAILABLE = 'STORAGE_UNAVAILABLE';
