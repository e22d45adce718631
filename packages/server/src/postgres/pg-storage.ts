import type pg from 'pg';
import type { ReaderStorage, ReconciliationStorage, Storage, StorageChanges, WriteStorage } from '../storage/storage.js';
import { createPgAuditLog } from './pg-audit.js';
import { createPgCatalogue } from './pg-catalogue.js';
import { openPgPool, type PgConnection } from './pg-connect.js';
import { importPgFixture } from './pg-fixture-import.js';
import { createPgHealth } from './pg-health.js';
import { migratePg } from './pg-migrations.js';
import { createPgRelays, newTerminalsVersionCache } from './pg-relays.js';
import { createPgReader, createPgReconciliation } from './pg-sale-reads.js';
import { createPgWrites } from './pg-writes.js';
import { type PgRunner, poolRunner } from './pg-runner.js';
import { createPgReplayGuard } from './pg-signatures.js';

/**
 * The server's storage on PostgreSQL (storage.ts): connects (a refusal is a PgConnectError in
 * French naming host:port), applies the migrations, and assembles the parts: the catalogue,
 * relays, audit, replay guard, import and health here; the write path and the heavy reads
 * from pg-writes.ts and pg-sale-reads.ts.
 */

/** The write path and the reads of sales (pg-writes.ts, pg-sale-reads.ts). */
export interface PgSaleParts {
  writes: WriteStorage;
  reader: ReaderStorage;
  reconciliation: ReconciliationStorage;
}

export function createPgSaleParts(pool: pg.Pool, where: string): PgSaleParts {
  return {
    writes: createPgWrites(pool, where),
    reader: createPgReader(pool, where),
    reconciliation: createPgReconciliation(pool, where),
  };
}

/** The changes the CLI makes, on one runner: the pool, or an audited change's transaction. */
function changesOn(db: PgRunner, cache = newTerminalsVersionCache()): StorageChanges {
  return {
    catalogue: createPgCatalogue(db),
    relays: createPgRelays(db, cache),
    importFixture: (content, now) => importPgFixture(db, content, now),
  };
}

/** The storage on a connection already open and migrated (tests give theirs). */
export function assemblePgStorage(connection: Pick<PgConnection, 'pool' | 'where'>, parts: PgSaleParts): Storage {
  const { pool, where } = connection;
  const db = poolRunner(pool, where);
  const changes = changesOn(db);
  const replays = createPgReplayGuard(db);
  let closed = false;
  return {
    kind: 'postgres',
    where,
    ...changes,
    reader: parts.reader,
    reconciliation: parts.reconciliation,
    writes: parts.writes,
    signatures: { accept: (signature, nowSeconds) => replays.accept(signature, nowSeconds) },
    audit: { list: (options) => createPgAuditLog(db).list(options) },
    /**
     * The change and its audit row in one transaction (retried whole after a deadlock): the
     * parts given to `change` run on that transaction's connection.
     */
    audited: (source, change, describe) =>
      db.transaction(async (tx) => {
        const result = await change(changesOn(tx));
        const said = describe(result);
        if (said !== null) await createPgAuditLog(tx).record(source, said, new Date());
        return result;
      }),
    health: createPgHealth(pool, where),
    async close() {
      if (closed) return;
      closed = true;
      // Requests already queued are written before the pool closes.
      while (parts.writes.queued() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      await pool.end();
    },
  };
}

/**
 * The storage on PostgreSQL, for open-storage.ts: connects, applies the versioned migrations;
 * rejects with a PgConnectError (French, naming the host) when the database cannot be opened.
 * An idle connection dropped by PostgreSQL (a restart) is replaced on the next query; the
 * requests that meet the outage are answered 503.
 */
export async function createPgStorage(url: string): Promise<Storage> {
  const connection = await openPgPool(url);
  try {
    await migratePg(connection.pool, connection.where);
    return assemblePgStorage(connection, createPgSaleParts(connection.pool, connection.where));
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}

