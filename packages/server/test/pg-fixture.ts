import { parseMoney } from '@ventesync/shared';
import pg from 'pg';
import type { TerminalContext } from '../src/catalogue-store.js';
import { migratePg } from '../src/postgres/pg-migrations.js';
import type { PgCluster } from '../src/postgres/throwaway-cluster.js';
import { TEST_FIXTURE } from './helpers.js';

/**
 * A fresh database of the test cluster, migrated, holding the same boutiques, terminals and
 * articles as SQLite's openTestDb: the same batch can be sent to both and the answers compared.
 */
export async function openPgTestDb(cluster: PgCluster): Promise<{ pool: pg.Pool; url: string; where: string }> {
  const url = await cluster.createDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // A test that stops PostgreSQL or kills a session leaves idle connections that error: heard.
  pool.on('error', () => {});
  const where = url.replace(/:[^:@/]*@/, '@');
  await migratePg(pool, where);
  for (const b of TEST_FIXTURE.boutiques) {
    await pool.query('INSERT INTO boutiques (id, nom, devise) VALUES ($1, $2, $3)', [b.id, b.nom, b.devise]);
  }
  for (const t of TEST_FIXTURE.terminaux) {
    await pool.query('INSERT INTO terminaux (serial, nom, boutique_id, actif) VALUES ($1, $2, $3, $4)', [t.serial, t.nom, t.boutique_id, t.actif ? 1 : 0]);
  }
  for (const a of TEST_FIXTURE.articles) {
    await pool.query('INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES ($1, $2, $3, $4, $5)', [
      a.id,
      a.boutique_id,
      a.nom,
      parseMoney(a.prix_vente),
      a.stock,
    ]);
  }
  return { pool, url, where };
}

/** A terminal as the API hands it to the writers (catalogue-store's findActiveTerminal). */
export async function pgTerminal(pool: pg.Pool, serial: string): Promise<TerminalContext> {
  const row = (
    await pool.query(
      `SELECT t.serial, t.nom, t.boutique_id::int AS boutique_id, b.nom AS boutique_nom, b.devise, b.fuseau, b.stock_negatif, t.secret
       FROM terminaux t JOIN boutiques b ON b.id = t.boutique_id WHERE t.serial = $1`,
      [serial],
    )
  ).rows[0];
  if (!row) throw new Error(`terminal ${serial} absent`);
  return row as TerminalContext;
}

export async function pgValue<T = unknown>(pool: pg.Pool | pg.PoolClient, sql: string, values: unknown[] = []): Promise<T> {
  const row = (await pool.query(sql, values)).rows[0] as Record<string, unknown> | undefined;
  return (row ? Object.values(row)[0] : undefined) as T;
}

export async function pgRows<T = Record<string, unknown>>(pool: pg.Pool | pg.PoolClient, sql: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query(sql, values)).rows as T[];
}

/**
 * A session of the test's own (another program, a DBA) on one connection of `pool`. An error
 * event on it (its backend killed, the cluster stopped at the end of the file) is heard here,
 * never an uncaught exception; if `fn` fails the connection is dropped rather than returned,
 * so that a transaction it left open neither holds its locks nor keeps `pool.end()` waiting.
 */
export async function withPgSession<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/** Waits until `probe` says yes, or fails after `ms` (a busy machine is slow, never a fixed sleep). */
export async function waitFor(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`attendu en vain : ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
