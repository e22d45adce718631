import { createReplayGuard } from '@ventesync/runtime/http';
import { createAuditLog, probeSqliteWrite, setBusyTimeout } from '@ventesync/runtime/sqlite';
import { createCatalogueStore } from '../catalogue-store.js';
import { type Db, registerMoneySums } from '../db/open-database.js';
import { importFixture } from '../fixture-import.js';
import { createGroupCommit, DEFAULT_GROUP_COMMIT_LIMITS, type GroupCommitLimits } from '../group-commit.js';
import { createRapportReader } from '../rapport.js';
import { createReconciliationReader } from '../reconciliation-reader.js';
import { createRelayRegistry } from '../relay-registry.js';
import { createRelayReports } from '../relay-reports.js';
import { createRetourWriter } from '../retour-writer.js';
import { createSaleReader } from '../sale-reader.js';
import { createSaleWriter } from '../sale-writer.js';
import { probeDiskWrite } from '../storage-health.js';
import type { CatalogueStorage, RelayStorage, Storage, StorageChanges } from './storage.js';

export interface SqliteStorageOptions {
  /** Group commit bounds (tests shorten them); the defaults otherwise. */
  groupCommit?: Partial<GroupCommitLimits>;
  /** How long a statement waits for another process's lock (the server: short, then 503). */
  busyTimeoutMs?: number;
}

/**
 * Made on first use: a CLI command prepares only the statements it runs, and a part that
 * checks the database when made (the reconciliation's encoding) checks it when asked.
 */
function lazy<T>(make: () => T): (() => T) & { made: () => boolean } {
  let made: { value: T } | null = null;
  return Object.assign(() => (made ??= { value: make() }).value, { made: () => made !== null });
}

/**
 * The storage interface on one SQLite connection, wrapping the synchronous modules (their own
 * tests are this implementation's unit tests). Each call does its work at once, synchronously,
 * and returns a settled promise: two calls made in the same turn see the same database (the
 * reconciliation's day and page). Writes of sales and returns go through the group commit.
 */
export function createSqliteStorage(db: Db, options: SqliteStorageOptions = {}): Storage {
  // The readers' sums need it, whoever opened the connection (tests open their own).
  registerMoneySums(db);
  if (options.busyTimeoutMs !== undefined) setBusyTimeout(db, options.busyTimeoutMs);

  const store = lazy(() => createCatalogueStore(db));
  const saleReader = lazy(() => createSaleReader(db));
  const rapportReader = lazy(() => createRapportReader(db));
  const reconciliation = lazy(() => createReconciliationReader(db));
  const reports = lazy(() => createRelayReports(db));
  const auditLog = lazy(() => createAuditLog(db));
  // The terminals' version covers requireSignatures: one registry for each value asked.
  const registries = [lazy(() => createRelayRegistry(db, { requireSignatures: false })), lazy(() => createRelayRegistry(db, { requireSignatures: true }))];
  const registry = (requireSignatures = false) => registries[requireSignatures ? 1 : 0]!();
  const saleWriter = lazy(() => createSaleWriter(db));
  const retourWriter = lazy(() => createRetourWriter(db));
  let commitListener: ((seconds: number) => void) | undefined;
  const groupCommit = lazy(() =>
    createGroupCommit(db, { ...DEFAULT_GROUP_COMMIT_LIMITS, ...options.groupCommit }, (seconds) => commitListener?.(seconds)),
  );
  // The replay guard takes a clock when made; the interface passes the time with each call.
  let signatureNow = 0;
  const replays = lazy(() => createReplayGuard(db, () => signatureNow));
  const statements = lazy(() => ({
    ping: db.prepare('SELECT 1').pluck(),
    pageCount: db.prepare('PRAGMA page_count').pluck(),
    pageSize: db.prepare('PRAGMA page_size').pluck(),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  }));

  const catalogue: CatalogueStorage = {
    findActiveTerminal: async (serial) => store().findActiveTerminal(serial),
    isEmpty: async () => store().isEmpty(),
    listBoutiques: async () => store().listBoutiques(),
    getBoutique: async (id) => store().getBoutique(id),
    findBoutique: async (id) => store().findBoutique(id),
    addBoutique: async (nom, devise, id, opts) => store().addBoutique(nom, devise, id, opts),
    setBoutique: async (id, changes) => store().setBoutique(id, changes),
    listTerminaux: async () => store().listTerminaux(),
    getTerminal: async (serial) => store().getTerminal(serial),
    addTerminal: async (serial, nom, boutiqueId) => store().addTerminal(serial, nom, boutiqueId),
    setTerminalActif: async (serial, actif) => store().setTerminalActif(serial, actif),
    issueTerminalSecret: async (serial, rotate) => store().issueTerminalSecret(serial, rotate),
    getArticle: async (id) => store().getArticle(id),
    listArticles: async (boutiqueId) => store().listArticles(boutiqueId),
    addArticle: async (a, now) => store().addArticle(a, now),
    addStock: async (articleId, quantite, now, reference) => store().addStock(articleId, quantite, now, reference),
    setStock: async (articleId, quantite, now, reference) => store().setStock(articleId, quantite, now, reference),
    listMouvements: async (articleId, limit) => store().listMouvements(articleId, limit),
  };

  const relays: RelayStorage = {
    add: async (nom, boutiques) => registry().add(nom, boutiques),
    disable: async (id) => registry().disable(id),
    rotate: async (id) => registry().rotate(id),
    findActive: async (id) => registry().findActive(id),
    terminalsOf: async (relayId) => registry().terminalsOf(relayId),
    terminalsVersion: async (relayId, requireSignatures) => registry(requireSignatures).terminalsVersion(relayId),
    saveReport: async (relayId, report, now) => reports().save(relayId, report, now),
    overview: async (now) => reports().overview(now),
  };

  // One connection: inside an audited change, the same parts are already on its transaction.
  const changes: StorageChanges = {
    catalogue,
    relays,
    importFixture: async (content, now) => importFixture(db, store(), content, now),
  };

  return {
    kind: 'sqlite',
    where: db.name,
    ...changes,
    reader: {
      historique: async (filter) => saleReader().historique(filter),
      statistiques: async (boutiqueId, now, fuseau) => saleReader().statistiques(boutiqueId, now, fuseau),
      recentVentes: async (boutiqueId, limit) => saleReader().recentVentes(boutiqueId, limit),
      stockNegatif: async (boutiqueId) => saleReader().stockNegatif(boutiqueId),
      rapport: async (boutiqueId, jour, now) => rapportReader().rapport(boutiqueId, jour, now),
    },
    reconciliation: {
      cached: async (boutiqueId, serial, jour) => reconciliation().cached(boutiqueId, serial, jour),
      day: async (boutiqueId, serial, jour) => reconciliation().day(boutiqueId, serial, jour),
      page: async (boutiqueId, serial, jour, apres, limit) => reconciliation().page(boutiqueId, serial, jour, apres, limit),
    },
    writes: {
      sales: (terminal, items, receivedAt, writeOptions, bytes) =>
        groupCommit().submit(
          items.length,
          bytes,
          () => saleWriter().writeSalesInSavepoint(terminal, items, receivedAt, writeOptions),
          (outcome) => outcome.creees.length,
        ),
      retours: (terminal, items, receivedAt, bytes) =>
        groupCommit().submit(
          items.length,
          bytes,
          () => retourWriter().writeRetoursInSavepoint(terminal, items, receivedAt),
          (outcome) => outcome.crees.length,
        ),
      stats: () => groupCommit().stats(),
      queued: () => groupCommit().queued(),
      onCommit(listener) {
        commitListener = listener;
      },
    },
    signatures: {
      accept: async (signature, nowSeconds) => {
        signatureNow = nowSeconds;
        return replays().accept(signature);
      },
    },
    audit: {
      list: async (options) => auditLog().list(options),
    },
    // BEGIN IMMEDIATE … COMMIT around an async change: each call of `tx` runs synchronously
    // (settled promises), so the whole change runs in microtasks, before any group commit's
    // turn (setImmediate) could find the transaction open. The modules' own transactions
    // become savepoints of it (better-sqlite3 nests them).
    async audited(source, change, describe) {
      const s = statements();
      s.begin.run();
      try {
        const result = await change(changes);
        const said = describe(result);
        if (said !== null) auditLog().record(source, said, new Date());
        s.commit.run();
        return result;
      } catch (error) {
        if (db.inTransaction) s.rollback.run();
        throw error;
      }
    },
    health: {
      diskFile: db.name === ':memory:' || db.name === '' ? null : db.name,
      ping: async () => {
        statements().ping.get();
      },
      // Fresh space on the database's disk (a probe file), then SQLite's own allocation of a
      // page (a table created and rolled back, so nothing stays).
      probeWrite: async () => {
        if (db.name !== ':memory:' && db.name !== '') probeDiskWrite(db.name);
        probeSqliteWrite(db);
      },
      sizeBytes: async () => (statements().pageCount.get() as number) * (statements().pageSize.get() as number),
    },
    async close() {
      // Requests already queued are written (each group in its own turn) before the close.
      while (groupCommit.made() && groupCommit().queued() > 0) await new Promise((resolve) => setImmediate(resolve));
      if (db.open) db.close();
    },
  };
}
