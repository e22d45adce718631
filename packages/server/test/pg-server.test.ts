import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type ChildServer, runCliAsync, startServer } from './child-server.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from './pg-cluster.js';
import { SYNC, vente } from './helpers.js';

const SERIAL = 'caisse-pg-01';

// The real server process on PostgreSQL (`serve --db postgres://…`), as a chain runs it.
describe.skipIf(!pgSuiteEnabled())('the server on PostgreSQL', () => {
  let cluster: PgCluster;
  let url: string;
  let server: ChildServer | undefined;
  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase();
    for (const args of [
      ['boutique', 'add', 'Gombe', '--id', '1'],
      ['terminal', 'add', SERIAL, 'Caisse 1', '--boutique', '1'],
      ['article', 'add', 'Riz', '--boutique', '1', '--prix', '450.00', '--stock', '10'],
    ]) {
      const run = await runCliAsync([...args, '--db', url]);
      expect(run.code, run.stderr).toBe(0);
    }
    server = await startServer(url);
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  const sync = (numero: string) =>
    fetch(`${server!.url}${SYNC}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      body: JSON.stringify([vente(numero, [{ article_id: 1, quantite: 1 }])]),
    });

  it('PostgreSQL stopped while serving: sales are answered 503 with Retry-After, then taken again once it is back', async () => {
    expect((await sync('F-1')).status).toBe(201);
    cluster.pause();
    try {
      const refused = await sync('F-2');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(await refused.json()).toMatchObject({ code: 'DATABASE_FAILING', error: expect.stringMatching(/^Base de données PostgreSQL \(127\.0\.0\.1:\d+\) momentanément injoignable/) });
      const health = await fetch(`${server!.url}/health`);
      expect(health.status).toBe(503);
    } finally {
      cluster.resume();
    }
    // Back: the pool reconnects by itself; the till sends F-2 again and it is written once.
    let status = 0;
    const deadline = Date.now() + 15_000;
    while (status !== 201 && Date.now() < deadline) status = (await sync('F-2')).status;
    expect(status).toBe(201);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const rows = (await client.query('SELECT numero_facture, (SELECT quantite_stock::int FROM articles WHERE id = 1) AS stock FROM ventes ORDER BY id')).rows;
      expect(rows).toEqual([
        { numero_facture: 'F-1', stock: 8 },
        { numero_facture: 'F-2', stock: 8 },
      ]);
    } finally {
      await client.end();
    }
    expect(server!.child.exitCode).toBeNull();
  });
});
