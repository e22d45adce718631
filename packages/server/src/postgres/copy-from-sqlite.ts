import type pg from 'pg';
import type { Db } from '../db/open-database.js';
import { withTransaction } from './pg-connect.js';
import { PG_MIGRATION_LOCK_KEY, syncIdentitySequences } from './pg-migrations.js';

/**
 * `ventesync-server migrate --from FILE --to URL`: a SQLite database copied into an empty
 * PostgreSQL one, all or nothing. Both schemas have the same tables and columns
 * (pg-migrations.ts), so the copy is table by table, in an order where every row's references
 * are already there.
 */
export const COPIED_TABLES = [
  'boutiques',
  'terminaux',
  'articles',
  'ventes',
  'lignes_vente',
  'mouvements_stock',
  'chiffres_jour',
  'retours',
  'lignes_retour',
  'relais',
  'relais_boutiques',
  'relais_rapports',
  'signatures_vues',
  'audit',
] as const;

export type CopiedTable = (typeof COPIED_TABLES)[number];

/**
 * PostgreSQL takes at most 65,535 parameters in one statement; rows are sent in chunks below
 * it (a row of `ventes` has 11 columns: 5,000 rows a statement).
 */
export const MAX_COPY_PARAMETERS = 60_000;

export interface CopyCount {
  table: CopiedTable;
  sqlite: number;
  postgres: number;
}

export type CopyResult =
  | { ok: true; counts: CopyCount[] }
  | { ok: false; code: 'TARGET_NOT_EMPTY' | 'COUNTS_DIFFER'; erreur: string; counts: CopyCount[] };

/** The value as PostgreSQL's driver takes it: SQLite's 64-bit integers are read as bigints, sent as text (exact). */
function param(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

async function countsOf(client: pg.PoolClient): Promise<Map<CopiedTable, number>> {
  const counts = new Map<CopiedTable, number>();
  for (const table of COPIED_TABLES) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    counts.set(table, Number(rows[0]!.n));
  }
  return counts;
}

async function insertChunk(client: pg.PoolClient, table: CopiedTable, columns: readonly string[], rows: unknown[][]): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const placeholders = row.map((value) => {
      values.push(param(value));
      return `$${values.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  try {
    await client.query(`INSERT INTO ${table} (${columns.join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`, values);
  } catch (error) {
    // PostgreSQL's words name neither the table nor the row: the operator must find the line.
    if (typeof (error as { code?: unknown }).code !== 'string' || (error as { code: string }).code.startsWith('08')) throw error;
    throw new CopyRefused(table, rows[0]?.[0], (error as Error).message);
  }
}

/** A row PostgreSQL refuses (a NUL in a text, a broken constraint): named, so that it can be mended in the file. */
export class CopyRefused extends Error {
  constructor(
    readonly table: CopiedTable,
    firstKey: unknown,
    reason: string,
  ) {
    super(`Copie annulée : PostgreSQL refuse une ligne de la table ${table} (lot commençant à ${String(firstKey)}) : ${reason}. Aucune donnée n'a été copiée.`);
    this.name = 'CopyRefused';
  }
}

/**
 * Copies every row of `source` into `pool`'s database, which must hold no row yet (its schema
 * already applied). One PostgreSQL transaction: the counts of both sides are compared before
 * COMMIT, and any difference or error leaves PostgreSQL as it was. SQLite is read inside one
 * read transaction, so a server still writing to the file gives a consistent picture (the
 * writes made after it started are not copied: stop the tills' server first, see README).
 */
export async function copySqliteToPg(source: Db, pool: pg.Pool, where: string): Promise<CopyResult> {
  return withTransaction<CopyResult>(pool, where, async (client) => {
    // Two copies started at once: the second waits here, then finds the first one's rows and is
    // refused as "not empty", instead of failing on a duplicate key.
    await client.query(`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK_KEY})`);
    const before = await countsOf(client);
    const filled = COPIED_TABLES.filter((t) => before.get(t)! > 0);
    if (filled.length > 0) {
      return {
        ok: false,
        code: 'TARGET_NOT_EMPTY',
        erreur: `La base PostgreSQL ${where} contient déjà des données (${filled.join(', ')}) : la copie se fait dans une base vide. Rien n'a été modifié.`,
        counts: [],
      };
    }
    const sqliteCounts = new Map<CopiedTable, number>();
    source.exec('BEGIN');
    try {
      for (const table of COPIED_TABLES) {
        const columns = source.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[];
        const perChunk = Math.max(1, Math.floor(MAX_COPY_PARAMETERS / columns.length));
        const rows = source.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).raw(true).safeIntegers(true);
        let chunk: unknown[][] = [];
        let copied = 0;
        for (const row of rows.iterate() as IterableIterator<unknown[]>) {
          chunk.push(row);
          if (chunk.length === perChunk) {
            await insertChunk(client, table, columns, chunk);
            copied += chunk.length;
            chunk = [];
          }
        }
        if (chunk.length > 0) await insertChunk(client, table, columns, chunk);
        sqliteCounts.set(table, copied + chunk.length);
      }
    } finally {
      source.exec('COMMIT');
    }
    // The next id given after the copy follows the largest copied.
    await syncIdentitySequences(client);
    const after = await countsOf(client);
    const counts = COPIED_TABLES.map((table) => ({ table, sqlite: sqliteCounts.get(table)!, postgres: after.get(table)! }));
    const differ = counts.filter((c) => c.sqlite !== c.postgres);
    if (differ.length > 0) {
      // Thrown so that withTransaction rolls back; turned into the answer below.
      throw new CountsDiffer(counts, differ.map((c) => `${c.table} : ${c.sqlite} dans SQLite, ${c.postgres} dans PostgreSQL`).join(' ; '));
    }
    return { ok: true, counts };
  }).catch((error: unknown): CopyResult => {
    if (!(error instanceof CountsDiffer)) throw error;
    return { ok: false, code: 'COUNTS_DIFFER', erreur: `Copie annulée, les nombres de lignes diffèrent : ${error.message}. Rien n'a été modifié.`, counts: error.counts };
  });
}

class CountsDiffer extends Error {
  constructor(
    readonly counts: CopyCount[],
    message: string,
  ) {
    super(message);
  }
}
