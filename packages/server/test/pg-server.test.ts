import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type ChildServer, runCliAsync, startServer } from './child-server.js';
import { type PgCluster, pgSuiteEnabled, startPgCluster } from '../src/postgres/throwaway-cluster.js';
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

  it('the operators’ commands work on PostgreSQL, and the audit never keeps the URL’s password', async () => {
    const cli = async (...args: string[]) => {
      const run = await runCliAsync([...args, '--db', url]);
      expect(run.code, `${args.join(' ')} : ${run.stderr}`).toBe(0);
      return run.stdout;
    };
    expect((await sync('W-1')).status).toBe(201);
    expect(await cli('stock', 'add', '1', '5')).toMatch(/Stock de Riz : \d+ → \d+ \(ENTREE \+5\)/);
    expect(await cli('ventes', 'list')).toContain('W-1');
    expect(await cli('mouvements', 'list')).toMatch(/ENTREE/);
    expect(JSON.parse(await cli('rapport', '--boutique', '1', '--json'))).toMatchObject({ boutique_id: 1 });
    expect(await cli('relais', 'add', 'Relais Gombe', '--boutique', '1')).toMatch(/Relais 1 « Relais Gombe » enregistré/);
    expect(await cli('relais', 'list')).toContain('Relais Gombe');
    const audit = await cli('audit', 'list');
    expect(audit).toContain('stock add 1 5');
    expect(audit).not.toContain(new URL(url).password);
    expect(audit).toContain('postgres://postgres:***@');
  });

  it('two server processes on one database: the last unit goes to one sale only, one numero is created once', async () => {
    const second = await startServer(url);
    try {
      const post = (base: string, body: unknown) =>
        fetch(`${base}${SYNC}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL }, body: JSON.stringify(body) }).then(
          async (r) => {
            const body = (await r.json()) as { ventes_creees: unknown[]; ventes_erreurs: Array<{ code: string; identique?: boolean }> | null };
            return { status: r.status, creees: body.ventes_creees, erreurs: body.ventes_erreurs ?? [] };
          },
        );
      for (let round = 1; round <= 5; round++) {
        const id = 100 + round;
        const added = await runCliAsync(['article', 'add', `Dernier ${round}`, '--id', String(id), '--boutique', '1', '--prix', '10.00', '--stock', '1', '--db', url]);
        expect(added.code, added.stderr).toBe(0);
        const [a, b] = await Promise.all([
          post(server!.url, [vente(`D-${round}-a`, [{ article_id: id, quantite: 1 }])]),
          post(second.url, [vente(`D-${round}-b`, [{ article_id: id, quantite: 1 }])]),
        ]);
        expect([a.creees.length, b.creees.length].sort()).toEqual([0, 1]);
        expect([...a.erreurs, ...b.erreurs].map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
      }
      const [a, b] = await Promise.all([post(server!.url, [vente('MEME-1', [{ article_id: 1 }])]), post(second.url, [vente('MEME-1', [{ article_id: 1 }])])]);
      expect(a.creees.length + b.creees.length).toBe(1);
      expect([...a.erreurs, ...b.erreurs]).toEqual([expect.objectContaining({ code: 'DUPLICATE', identique: true })]);
    } finally {
      await second.stop();
    }
  });

  it('PostgreSQL stopped while serving: sales are answered 503 with Retry-After, then taken again once it is back', async () => {
    const stock = async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query('SELECT quantite_stock::int AS n FROM articles WHERE id = 1')).rows[0].n as number;
      } finally {
        await client.end();
      }
    };
    const before = await stock();
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
    // Each sale once, the stock down by one each: nothing of the refused attempt was kept.
    expect((await sync('F-2')).status).toBe(200);
    expect(await stock()).toBe(before - 2);
    expect(server!.child.exitCode).toBeNull();
  });
});
