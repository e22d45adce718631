import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPgPool, PgConnectError } from '../src/postgres/pg-connect.js';
import { IDENTITY_TABLES, migratePg, PG_MIGRATION_LOCK_KEY, PG_MIGRATIONS, schemaVersionOf, syncIdentitySequences } from '../src/postgres/pg-migrations.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';

const enabled = pgSuiteEnabled();

describe.skipIf(!enabled)('PostgreSQL schema migrations', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function withPool<T>(url: string, fn: (pool: pg.Pool, where: string) => Promise<T>): Promise<T> {
    const { pool, where } = await openPgPool(url);
    try {
      return await fn(pool, where);
    } finally {
      await pool.end();
    }
  }

  const tablesOf = (pool: pg.Pool) =>
    pool
      .query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
      .then((r) => r.rows.map((row) => row.table_name));

  it('a fresh database gets the whole schema at once, and a second start changes nothing', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      expect(await migratePg(pool, where)).toEqual({ from: 0, to: PG_MIGRATIONS.length });
      expect(await tablesOf(pool)).toEqual([
        'articles', 'audit', 'boutiques', 'chiffres_jour', 'lignes_retour', 'lignes_vente', 'mouvements_stock', 'relais',
        'relais_boutiques', 'relais_rapports', 'retours', 'schema_version', 'signatures_vues', 'terminaux', 'ventes', 'version_terminaux',
      ]);
      expect(await migratePg(pool, where)).toEqual({ from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length });
      expect(await schemaVersionOf(pool)).toBe(PG_MIGRATIONS.length);
    });
  });

  it('two servers starting at once on an empty database: one migrates, the other finds it done', async () => {
    const url = await cluster.createDatabase();
    const [a, b] = await Promise.all([openPgPool(url), openPgPool(url)]);
    try {
      const outcomes = await Promise.all([migratePg(a.pool, a.where), migratePg(b.pool, b.where)]);
      expect(outcomes.map((o) => o.from).sort()).toEqual([0, PG_MIGRATIONS.length]);
      expect(await schemaVersionOf(a.pool)).toBe(PG_MIGRATIONS.length);
    } finally {
      await Promise.all([a.pool.end(), b.pool.end()]);
    }
  });

  it('a database from a newer version is refused with a clear message, and left exactly as it was', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      await migratePg(pool, where);
      await pool.query('UPDATE schema_version SET version = $1', [PG_MIGRATIONS.length + 1]);
      await pool.query("CREATE TABLE plus_recente (x INTEGER)");
      const before = await tablesOf(pool);
      const refusal = await migratePg(pool, where).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(PgConnectError);
      expect(refusal).toMatchObject({ code: 'DATABASE_SCHEMA_TOO_NEW' });
      expect((refusal as Error).message).toMatch(/schéma \d+, plus récent que ce programme.*mettez ventesync-server à jour. Rien n’a été modifié/);
      expect((refusal as Error).message).toContain(`127.0.0.1:${cluster.port}`);
      expect((refusal as Error).message).not.toContain('vs-test-motdepasse');
      expect(await tablesOf(pool)).toEqual(before);
      expect(await schemaVersionOf(pool)).toBe(PG_MIGRATIONS.length + 1);
    });
  });

  it('a migration that fails leaves nothing half applied: no table, no version', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      const refusal = await migratePg(pool, where, [...PG_MIGRATIONS, 'CREATE TABLE bonne (x INTEGER); SELECT 1/0;']).catch((e: unknown) => e);
      expect(refusal).toMatchObject({ code: 'DATABASE_MIGRATION_FAILED' });
      expect((refusal as Error).message).toMatch(/vers la version 2 impossible : division by zero\. Rien n’a été modifié/);
      expect(await tablesOf(pool)).toEqual([]);
      expect(await schemaVersionOf(pool)).toBe(0);
    });
  });

  it('the migration’s connection killed by a DBA while it waits: refused as "database failing", nothing applied, no crash', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      // Another session holds the migration lock: the migration waits on it, inside its transaction.
      const holder = await pool.connect();
      holder.on('error', () => {});
      try {
        await holder.query('BEGIN');
        await holder.query(`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK_KEY})`);
        const migrating = migratePg(pool, where).then(
          () => null,
          (error: unknown) => error,
        );
        const deadline = Date.now() + 20_000;
        let pid: number | undefined;
        while (pid === undefined && Date.now() < deadline) {
          pid = (
            await pool.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            )
          ).rows[0]?.pid;
        }
        expect(pid).toBeDefined();
        await holder.query('SELECT pg_terminate_backend($1)', [pid]);
        // Without a listener on the migration's connection, the connection's end was an uncaught
        // 'error' event: the process (the server starting) crashed with a stack.
        expect(await migrating).toMatchObject({ ventesyncCode: 'DATABASE_FAILING' });
        await holder.query('COMMIT');
      } finally {
        holder.release();
      }
      expect(await tablesOf(pool)).toEqual([]);
      expect(await migratePg(pool, where)).toEqual({ from: 0, to: PG_MIGRATIONS.length });
    });
  });

  it('rows copied in with their ids (migrate from SQLite): the next row made gets the id after the highest', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      await migratePg(pool, where);
      const identities = await pool.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES' ORDER BY table_name",
      );
      expect(identities.rows.map((r) => r.table_name)).toEqual([...IDENTITY_TABLES].sort());
      await pool.query("INSERT INTO boutiques (id, nom) VALUES (7, 'A'), (3, 'B')");
      await pool.query("INSERT INTO relais (id, nom, secret) VALUES (2, 'R', 's')");
      const client = await pool.connect();
      try {
        await syncIdentitySequences(client);
        await syncIdentitySequences(client);
      } finally {
        client.release();
      }
      expect((await pool.query("INSERT INTO boutiques (nom) VALUES ('C') RETURNING id::int AS id")).rows).toEqual([{ id: 8 }]);
      expect((await pool.query("INSERT INTO relais (nom, secret) VALUES ('R2', 's') RETURNING id::int AS id")).rows).toEqual([{ id: 3 }]);
      expect((await pool.query("INSERT INTO audit (le, utilisateur, commande, changement) VALUES ('x', 'u', 'c', 'd') RETURNING id::int AS id")).rows).toEqual([{ id: 1 }]);
    });
  });

  it('the schema keeps the rules of SQLite: numero unique per boutique, no negative price, dates compared as bytes', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool, where) => {
      await migratePg(pool, where);
      await pool.query("INSERT INTO boutiques (id, nom) VALUES (1, 'A'), (2, 'B')");
      await pool.query("INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('T1', 'Caisse', 1), ('T2', 'Caisse', 2)");
      const vente = (boutique: number, serial: string, numero: string) =>
        pool.query(
          `INSERT INTO ventes (boutique_id, numero_facture, terminal_serial, date_vente, date_reception, mode_paiement, paye, montant_total, empreinte)
           VALUES ($1, $2, $3, '2026-11-25T10:00:00.000Z', '2026-11-25T10:00:01.000Z', 'CASH', 1, 100, 'x')`,
          [boutique, numero, serial],
        );
      await vente(1, 'T1', 'F-1');
      await vente(2, 'T2', 'F-1');
      await expect(vente(1, 'T1', 'F-1')).rejects.toMatchObject({ code: '23505' });
      await expect(pool.query("INSERT INTO articles (boutique_id, nom, prix_vente) VALUES (1, 'x', -1)")).rejects.toMatchObject({ code: '23514' });
      await expect(pool.query("UPDATE terminaux SET actif = 2 WHERE serial = 'T1'")).rejects.toMatchObject({ code: '23514' });
      // Byte order, as SQLite, whatever the database's locale: every text column says COLLATE "C".
      const notBytewise = await pool.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'",
      );
      expect(notBytewise.rows).toEqual([]);
    });
  });
});
