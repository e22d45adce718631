import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PgConnectError } from '../src/postgres/pg-connect.js';
import { PG_MIGRATIONS } from '../src/postgres/pg-migrations.js';
import { createPgStorage } from '../src/postgres/pg-storage.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';

const NOW = new Date('2026-11-25T10:00:00.000Z');

describe.skipIf(!pgSuiteEnabled())('opening the PostgreSQL storage as the server does', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const admin = async <T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  it('a wrong password refuses to start with the French message, and no stack or password in it', async () => {
    const refusal = await createPgStorage(`postgres://postgres:faux@127.0.0.1:${cluster.port}/ventesync_test`).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(PgConnectError);
    expect(refusal).toMatchObject({ code: 'DATABASE_AUTH_FAILED', message: expect.stringContaining(`127.0.0.1:${cluster.port}`) });
    expect((refusal as Error).message).not.toMatch(/faux|\n\s+at /);
  });

  it('two instances starting at once on an empty database: both open, the schema is made once', async () => {
    const url = await cluster.createDatabase();
    const both = await Promise.all([createPgStorage(url), createPgStorage(url)]);
    try {
      await both[0].catalogue.addBoutique('Gombe', 'CDF', 1);
      expect(await both[1].catalogue.listBoutiques()).toHaveLength(1);
      expect(await admin(url, async (c) => (await c.query('SELECT version FROM schema_version')).rows)).toEqual([{ version: PG_MIGRATIONS.length }]);
    } finally {
      await Promise.all(both.map((s) => s.close()));
    }
  });

  it('a database of a newer version: refused at start, clearly, its rows and version untouched', async () => {
    const url = await cluster.createDatabase();
    const first = await createPgStorage(url);
    await first.catalogue.addBoutique('Gombe', 'CDF', 1);
    await first.close();
    await admin(url, (c) => c.query('UPDATE schema_version SET version = version + 1'));
    const refusal = await createPgStorage(url).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'DATABASE_SCHEMA_TOO_NEW' });
    expect((refusal as Error).message).toBe(
      `La base PostgreSQL postgres://postgres@127.0.0.1:${cluster.port}/${new URL(url).pathname.slice(1)} est au schéma ${PG_MIGRATIONS.length + 1}, ` +
        `plus récent que ce programme (schéma ${PG_MIGRATIONS.length}) : mettez ventesync-server à jour. Rien n’a été modifié.`,
    );
    expect(await admin(url, async (c) => (await c.query('SELECT version, (SELECT count(*)::int FROM boutiques) AS n FROM schema_version')).rows)).toEqual([
      { version: PG_MIGRATIONS.length + 1, n: 1 },
    ]);
  });

  it('PostgreSQL restarted while serving: a request meeting the outage is a 503 to retry, then the next ones are served', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      await storage.catalogue.addTerminal('caisse-01', 'Caisse 1', 1);
      // Kill the server's connections as a restart does, the pool unaware: the next query meets a dead one or reconnects.
      await admin(cluster.urlOf('postgres'), (c) =>
        c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [new URL(url).pathname.slice(1)]),
      );
      let found: unknown;
      const deadline = Date.now() + 10_000;
      while (found === undefined && Date.now() < deadline) {
        try {
          found = await storage.catalogue.findActiveTerminal('caisse-01');
        } catch (error) {
          expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', ventesyncCode: 'DATABASE_FAILING', retryAfterSeconds: 2 });
        }
      }
      expect(found).toMatchObject({ serial: 'caisse-01', boutique_id: 1 });
    } finally {
      await storage.close();
    }
  });

  it('a stock change while PostgreSQL is down: refused as unavailable, nothing half written once it is back', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    try {
      await storage.catalogue.addBoutique('Gombe', 'CDF', 1);
      await storage.catalogue.addArticle({ id: 1, boutique_id: 1, nom: 'Riz', prix_vente: 100, stock: 5 }, NOW);
      // Every connection killed while the change's transaction runs: its movement and its stock go together or not at all.
      const killer = setImmediate(() => {
        void admin(cluster.urlOf('postgres'), (c) =>
          c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [new URL(url).pathname.slice(1)]),
        );
      });
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => storage.catalogue.addStock(1, 1, NOW)));
      clearImmediate(killer);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
      const done = results.filter((r) => r.status === 'fulfilled').length;
      let article: Awaited<ReturnType<typeof storage.catalogue.getArticle>>;
      const deadline = Date.now() + 10_000;
      while (article === undefined && Date.now() < deadline) {
        article = await storage.catalogue.getArticle(1).catch(() => undefined); // the pool reconnects
      }
      const moves = await storage.catalogue.listMouvements(1, 100);
      // Every movement kept has its stock, every stock its movement (the ENTREE of 5 at creation included).
      expect(article!.quantite_stock).toBe(5 + moves.length - 1);
      expect(moves.length - 1).toBeGreaterThanOrEqual(done);
    } finally {
      await storage.close();
    }
  });

  it('monitoring: ping and a write probe pass; a database turned read-only fails the probe, the ping still answers', async () => {
    const url = await cluster.createDatabase();
    const storage = await createPgStorage(url);
    try {
      expect(storage.health.diskFile).toBeNull();
      await storage.health.ping();
      await storage.health.probeWrite();
      expect(await storage.health.sizeBytes()).toBeGreaterThan(1_000_000);
      const name = new URL(url).pathname.slice(1);
      await admin(cluster.urlOf('postgres'), (c) => c.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`));
      await admin(cluster.urlOf('postgres'), (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]));
      const probe = async () => {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          try {
            await storage.health.probeWrite();
            return 'écrit';
          } catch (error) {
            if ((error as { code?: unknown }).code !== 'STORAGE_UNAVAILABLE') return (error as { code?: unknown }).code;
          }
        }
        return 'toujours injoignable';
      };
      expect(await probe()).toBe('25006'); // read_only_sql_transaction
      await storage.health.ping();
    } finally {
      await storage.close();
    }
  });
});
