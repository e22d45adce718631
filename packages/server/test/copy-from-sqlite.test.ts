import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { join } from 'node:path';
import { openDatabase } from '../src/db/open-database.js';
import { copySqliteToPg, COPIED_TABLES } from '../src/postgres/copy-from-sqlite.js';
import { openPgPool } from '../src/postgres/pg-connect.js';
import { migratePg } from '../src/postgres/pg-migrations.js';
import { SERIAL, tempDir, testApp, vente } from './helpers.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';

const enabled = pgSuiteEnabled();

describe.skipIf(!enabled)('migrate: a SQLite database copied into PostgreSQL', () => {
  let cluster: PgCluster;
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  beforeAll(async () => {
    cluster = await startPgCluster();
    dir = tempDir();
    file = join(dir.dir, 'source.db');
    // A day of a shop: sales (one past 2^53 centimes in the day's total is not needed: amounts
    // are exact BIGINT both sides), a return, a delivery.
    const t = await testApp({ file });
    expect((await t.sync([vente('F-1', [{ article_id: 6, quantite: 2 }]), vente('F-2', [{ article_id: 9, quantite: 3 }], { mode_paiement: 'CARTE' })])).statusCode).toBe(201);
    const retour = await t.app.inject({
      method: 'POST',
      url: '/api/v2/simple/ventes/retours/',
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      payload: JSON.stringify([{ numero_retour: 'R-1', numero_facture: 'F-1', lignes: [{ article_id: 6, quantite: 1 }] }]),
    });
    expect(retour.statusCode).toBe(201);
    await t.close();
  });
  afterAll(async () => {
    await cluster?.stop();
    dir?.cleanup();
  });

  async function withTarget<T>(fn: (pool: pg.Pool, where: string) => Promise<T>): Promise<T> {
    const { pool, where } = await openPgPool(await cluster.createDatabase());
    try {
      await migratePg(pool, where);
      return await fn(pool, where);
    } finally {
      await pool.end();
    }
  }

  it('copies every table whole, counts equal, amounts and stock the same, and new ids follow the copied ones', async () => {
    const source = openDatabase(file);
    try {
      await withTarget(async (pool, where) => {
        const result = await copySqliteToPg(source, pool, where);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.counts.map((c) => c.table)).toEqual([...COPIED_TABLES]);
        for (const c of result.counts) {
          const n = Number(source.prepare(`SELECT COUNT(*) FROM ${c.table}`).pluck().get());
          expect(c, c.table).toEqual({ table: c.table, sqlite: n, postgres: n });
        }
        const ventes = await pool.query('SELECT numero_facture, montant_total::text AS m, paye, date_vente FROM ventes ORDER BY id');
        expect(ventes.rows).toEqual(
          source
            .prepare('SELECT numero_facture, montant_total, paye, date_vente FROM ventes ORDER BY id')
            .all()
            .map((r) => {
              const row = r as { numero_facture: string; montant_total: number; paye: number; date_vente: string };
              return { numero_facture: row.numero_facture, m: String(row.montant_total), paye: row.paye, date_vente: row.date_vente };
            }),
        );
        const stock = await pool.query('SELECT id::int AS id, quantite_stock::int AS q FROM articles ORDER BY id');
        expect(stock.rows).toEqual(source.prepare('SELECT id, quantite_stock AS q FROM articles ORDER BY id').all());
        // The next boutique gets the id after the largest copied one, not 1 (a conflict).
        const maxId = Number(source.prepare('SELECT MAX(id) FROM boutiques').pluck().get());
        const next = await pool.query<{ id: string }>("INSERT INTO boutiques (nom) VALUES ('Nouvelle') RETURNING id::text AS id");
        expect(Number(next.rows[0]!.id)).toBe(maxId + 1);
      });
    } finally {
      source.close();
    }
  });

  it('refuses a PostgreSQL database that already holds data, and changes nothing there', async () => {
    const source = openDatabase(file);
    try {
      await withTarget(async (pool, where) => {
        await pool.query("INSERT INTO boutiques (id, nom) VALUES (99, 'Déjà là')");
        const result = await copySqliteToPg(source, pool, where);
        expect(result).toMatchObject({ ok: false, code: 'TARGET_NOT_EMPTY' });
        const rows = await pool.query('SELECT id::int AS id FROM boutiques');
        expect(rows.rows).toEqual([{ id: 99 }]);
        expect((await pool.query('SELECT count(*)::int AS n FROM ventes')).rows[0]).toEqual({ n: 0 });
      });
    } finally {
      source.close();
    }
  });

  it('two copies started at once into one database: one copies, the other is refused as not empty', async () => {
    const url = await cluster.createDatabase();
    const sources = [openDatabase(file), openDatabase(file)];
    const pools = await Promise.all([openPgPool(url), openPgPool(url)]);
    try {
      await migratePg(pools[0]!.pool, pools[0]!.where);
      const results = await Promise.all(pools.map((p, i) => copySqliteToPg(sources[i]!, p.pool, p.where)));
      expect(results.map((r) => (r.ok ? 'ok' : r.code)).sort()).toEqual(['TARGET_NOT_EMPTY', 'ok']);
      const n = Number(sources[0]!.prepare('SELECT COUNT(*) FROM ventes').pluck().get());
      expect((await pools[0]!.pool.query('SELECT count(*)::int AS n FROM ventes')).rows[0]).toEqual({ n });
    } finally {
      for (const s of sources) s.close();
      await Promise.all(pools.map((p) => p.pool.end()));
    }
  });

  it('a copy that fails half way leaves PostgreSQL empty', async () => {
    const source = openDatabase(file);
    try {
      await withTarget(async (pool, where) => {
        // A constraint PostgreSQL holds and this SQLite file breaks: a line of sale whose quantity is 0.
        source.pragma('ignore_check_constraints = ON');
        source.prepare('UPDATE lignes_vente SET quantite = 0 WHERE id = (SELECT MAX(id) FROM lignes_vente)').run();
        try {
          await expect(copySqliteToPg(source, pool, where)).rejects.toThrow(/lignes_vente/);
        } finally {
          source.prepare('UPDATE lignes_vente SET quantite = 3 WHERE id = (SELECT MAX(id) FROM lignes_vente)').run();
          source.pragma('ignore_check_constraints = OFF');
        }
        for (const table of COPIED_TABLES) {
          expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0], table).toEqual({ n: 0 });
        }
      });
    } finally {
      source.close();
    }
  });
});
