import type pg from 'pg';
import type { HealthStorage } from '../storage/storage.js';
import { refusedNowReason, storageErrorOf, withTransaction } from './pg-connect.js';

/**
 * `/health`, `/ready` and `/metrics` on PostgreSQL. The data is on the database server's disks:
 * no file to watch here (diskFile null); a write that PostgreSQL refuses (disk full there, a
 * read-only standby, default_transaction_read_only) shows in probeWrite.
 */
export function createPgHealth(pool: pg.Pool, where: string): HealthStorage {
  const query = async (text: string) => {
    try {
      return await pool.query(text);
    } catch (error) {
      throw storageErrorOf(error, where);
    }
  };
  return {
    diskFile: null,
    async ping() {
      await query('SELECT 1');
    },
    // A transaction id assigned and a table made, then rolled back: nothing stays, and a
    // database that cannot write says so (a standby refuses the xid, a full disk the table).
    probeWrite: () =>
      withTransaction(pool, where, async (client) => {
        await client.query('SELECT pg_current_xact_id()');
        await client.query('CREATE TABLE sonde_ecriture (x INTEGER)');
        throw ROLLED_BACK;
      }).catch((error: unknown) => {
        if (error === ROLLED_BACK) return;
        // A refusal (read-only, disk full) is told by PostgreSQL's own SQLSTATE, which /ready
        // words for people ("base en lecture seule"); the requests get it as a 503 to resend.
        const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
        if (refusedNowReason(cause) !== null) throw Object.assign(new Error(String(cause?.message)), { code: cause?.code });
        throw error;
      }),
    sizeBytes: async () => Number((await query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
  };
}

/** Thrown to end the probe's transaction with a rollback. */
const ROLLED_BACK = new Error('sonde annulée');
