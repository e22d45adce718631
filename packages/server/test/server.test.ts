import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCliProcess } from '../../../test-support/cli-process.js';
import { type ChildServer, CLI, runCli, runCliAsync, startServer } from './child-server.js';
import { INACTIVE_SERIAL, SECOND_SERIAL, SERIAL, SYNC, TEST_FIXTURE, tempDir, vente } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let server: ChildServer | undefined;
let dbFile: string;

beforeEach(() => {
  tmp = tempDir();
  dbFile = join(tmp.dir, 'server.db');
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  tmp.cleanup();
});

async function post(url: string, body: unknown, serial = SERIAL) {
  const res = await request(`${url}${SYNC}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-device-serial': serial },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
}

describe('a real listening server', () => {
  it('serve --demo answers the guide curl example over HTTP, and GET /health', async () => {
    server = await startServer(dbFile, ['--demo']);
    const res = await post(server.url, [vente('TEST-001', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }])]);
    expect(res.status).toBe(201);
    expect(res.body.ventes_creees[0]).toEqual({
      numero_facture: 'TEST-001',
      montant_total: '40000.00',
      lignes: [{ article_nom: 'Samsung S24', quantite: 1, prix_unitaire: '40000.00', sous_total: '40000.00' }],
    });
    const health = await request(`${server.url}/health`);
    expect(health.statusCode).toBe(200);
    expect(await health.body.json()).toEqual({ status: 'ok' });
    // The guide's start line at info; each created sale's line is at debug (CONTRACT §2 Logs).
    await server.waitForLine(/Synchronisation ventes pour boutique: Ma Boutique \(Terminal: Terminal messie vanza\)/);
  });

  it('--demo leaves a database that already has data alone', async () => {
    server = await startServer(dbFile, ['--demo']);
    await post(server.url, [vente('KEEP', [{ article_id: 6 }])]);
    await server.stop();
    server = await startServer(dbFile, ['--demo']);
    const articles = await request(`${server.url}/api/v2/simple/articles/`, { headers: { 'x-device-serial': SERIAL } });
    const body = (await articles.body.json()) as { articles: Array<{ id: number; quantite_stock: number }> };
    expect(body.articles.find((a) => a.id === 6)!.quantite_stock).toBe(99);
  });

  // A smoke test only: one process serialises its writes anyway. The two-process test below is the proof.
  it('smoke: many concurrent requests to one process sell exactly the stock there is', async () => {
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    expect(runCli(['stock', 'set', '10', '25', '--db', dbFile]).code).toBe(0);
    server = await startServer(dbFile);
    const url = server.url;

    const serials = [SERIAL, SECOND_SERIAL];
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        post(url, [vente(`CONC-${i}`, [{ article_id: 10, quantite: 1 }])], serials[i % serials.length]),
      ),
    );
    const created = results.filter((r) => r.status === 201).length;
    const refused = results.filter((r) => r.status === 200 && r.body.ventes_erreurs[0].code === 'INSUFFICIENT_STOCK').length;
    expect(created).toBe(25);
    expect(refused).toBe(55);

    await server.stop();
    server = undefined;
    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 10').pluck().get()).toBe(0);
    expect(db.prepare("SELECT COUNT(*) FROM mouvements_stock WHERE article_id = 10 AND type = 'SORTIE'").pluck().get()).toBe(25);
    expect(db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(25);
    db.close();
  });

  it('two server processes on the same database file never oversell either', async () => {
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    expect(runCli(['stock', 'set', '10', '30', '--db', dbFile]).code).toBe(0);
    server = await startServer(dbFile);
    const second = await startServer(dbFile);
    try {
      const urls = [server.url, second.url];
      const results = await Promise.all(
        Array.from({ length: 90 }, (_, i) => post(urls[i % 2]!, [vente(`DUO-${i}`, [{ article_id: 10 }])], i % 3 ? SERIAL : SECOND_SERIAL)),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(30);
      expect(results.every((r) => r.status === 201 || r.body.ventes_erreurs?.[0]?.code === 'INSUFFICIENT_STOCK')).toBe(true);
    } finally {
      await second.stop();
    }
    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 10').pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(30);
    db.close();
  });

  it('stock add from the CLI while the server sells loses no update: stock = initial + added − sold, movements add up', async () => {
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    // Enough that the tills never run out while the 16 deliveries run, however fast the server writes.
    const initial = 10_000_000;
    for (const id of ['6', '7']) expect(runCli(['stock', 'set', id, String(initial), '--db', dbFile]).code).toBe(0);
    server = await startServer(dbFile);
    const url = server.url;

    // Two tills keep the server's write lock busy with batches selling 1 × article 6 and 2 × article 7 each.
    const sold = { 6: 0, 7: 0 };
    let deliveriesDone = false;
    let batchNo = 0;
    const sell = async (serial: string) => {
      while (!deliveriesDone) {
        const n = batchNo++;
        const batch = Array.from({ length: 50 }, (_, i) => vente(`ST-${n}-${i}`, [{ article_id: 6 }, { article_id: 7, quantite: 2 }]));
        const res = await post(url, batch, serial);
        expect(res.status, JSON.stringify(res.body).slice(0, 600)).toBe(201);
        sold[6] += res.body.ventes_creees.length;
        sold[7] += 2 * res.body.ventes_creees.length;
      }
    };
    const added = { 6: 0, 7: 0 };
    const deliver = async () => {
      try {
        for (let i = 0; i < 16; i++) {
          const id = i % 2 === 0 ? 6 : 7;
          const out = await runCliAsync(['stock', 'add', String(id), '10', '--db', dbFile]);
          expect(out.code, out.stderr).toBe(0);
          added[id] += 10;
        }
      } finally {
        deliveriesDone = true;
      }
    };
    await Promise.all([sell(SERIAL), sell(SECOND_SERIAL), deliver()]);
    await server.stop();
    server = undefined;

    const db = new Database(dbFile, { readonly: true });
    for (const id of [6, 7] as const) {
      expect(sold[id]).toBeGreaterThan(0);
      const stock = db.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(id);
      expect(stock, `article ${id}`).toBe(initial + added[id] - sold[id]);
      const mouvements = db
        .prepare('SELECT type, quantite, stock_avant, stock_apres FROM mouvements_stock WHERE article_id = ? ORDER BY id')
        .all(id) as Array<{ type: string; quantite: number; stock_avant: number; stock_apres: number }>;
      // Each movement starts where the one before ended, and they add up to the stock.
      let running = 0;
      for (const m of mouvements) {
        expect(m.stock_avant).toBe(running);
        running += m.type === 'SORTIE' ? -m.quantite : m.quantite;
        expect(m.stock_apres).toBe(running);
      }
      expect(running).toBe(stock);
    }
    db.close();
  });

  it('kill -9 in the middle of a large batch leaves no half-written sale, and answered sales survive', async () => {
    server = await startServer(dbFile, ['--demo']);
    const first = await post(server.url, [vente('BEFORE-CRASH', [{ article_id: 6, quantite: 2 }])]);
    expect(first.status).toBe(201);

    // 500 sales of 500 lines (250,000 stock updates): long enough for the kill to land inside
    // the write transaction, still under the 5 MiB body limit.
    const lines = Array.from({ length: 500 }, () => ({ article_id: 7 }));
    const big = Array.from({ length: 500 }, (_, i) => vente(`CRASH-${i}`, lines));
    const db0 = new Database(dbFile);
    db0.prepare('UPDATE articles SET quantite_stock = 1000000 WHERE id = 7').run();
    db0.close();

    // The kill must land inside the write transaction: the WAL grows while the uncommitted
    // batch spills its pages, long before the commit (log lines are async, so no use here).
    const walFile = `${dbFile}-wal`;
    const walBefore = statSync(walFile).size;
    let answered = false;
    const pending = post(server.url, big)
      .catch((error: unknown) => error)
      .finally(() => (answered = true));
    const deadline = Date.now() + 20_000;
    while (statSync(walFile).size < walBefore + 4 * 1024 * 1024) {
      if (answered || Date.now() > deadline) throw new Error('the batch never spilled into the WAL: the kill would not land inside it');
      await sleep(2);
    }
    // Still in flight when the kill lands: no answer came back before it.
    expect(answered).toBe(false);
    server.child.kill('SIGKILL');
    expect(await pending).toBeInstanceOf(Error);
    await server.stop();
    server = undefined;

    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture = 'BEFORE-CRASH'").pluck().get()).toBe(1);
    // The batch is one transaction: a crash inside it leaves none of it, so never half a sale.
    expect(db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture LIKE 'CRASH-%'").pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM lignes_vente').pluck().get()).toBe(1);
    expect(db.prepare("SELECT COUNT(*) FROM mouvements_stock WHERE type = 'SORTIE'").pluck().get()).toBe(1);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 7').pluck().get()).toBe(1_000_000);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 6').pluck().get()).toBe(98);
    db.close();
  });

  it('every request leaves one info line with its status and serial, a refused till included', async () => {
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    server = await startServer(dbFile);
    for (let i = 0; i < 3; i++) await post(server.url, [vente(`DIS-${i}`, [{ article_id: 6 }])], INACTIVE_SERIAL);
    await post(server.url, [vente('OK-1', [{ article_id: 6 }])]);
    await server.waitForLine(/"status":201/);
    const access = server.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'status' in l && 'duration_ms' in l);
    expect(access).toHaveLength(4);
    for (const line of access.slice(0, 3)) {
      expect(line).toMatchObject({ level: 30, method: 'POST', route: SYNC, status: 404, serial: INACTIVE_SERIAL, reqId: expect.any(String) });
    }
    expect(access[3]).toMatchObject({ level: 30, method: 'POST', route: SYNC, status: 201, serial: SERIAL });
  });

  it('serve makes its database file and its -wal/-shm 0600 whatever the umask; an existing file more open is named in the log with the command to close it', async () => {
    // `umask` is the child's own: through a shell, as an operator with the usual 022 would start it.
    const child = spawn(
      'sh',
      ['-c', 'umask 022 && exec "$0" "$@"', process.execPath, CLI, 'serve', '--db', dbFile, '--demo', '--host', '127.0.0.1', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buffer = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const line = buffer.split('\n').find((l) => l.includes("à l'écoute sur"));
          if (line) resolve((JSON.parse(line) as { url: string }).url);
        });
        child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
      });
      expect((await post(url, [vente('PRIVE-1', [{ article_id: 6 }])])).status).toBe(201);
      for (const path of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }

    chmodSync(dbFile, 0o644);
    server = await startServer(dbFile, ['--demo']);
    const warning = await server.waitForLine(/chmod 600/);
    expect(warning).toContain(dbFile);
    expect(warning).toContain('644');
    expect(statSync(dbFile).mode & 0o777).toBe(0o644); // said, not changed behind the operator's back
  });

  it('1,000 idle connections do not keep /health from answering, even under a 256 file limit', async () => {
    const fileLimit = 256;
    // `ulimit` is the only way to lower a child's file limit from here: through a shell.
    const child = spawn(
      'sh',
      ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, CLI, 'serve', '--db', dbFile, '--demo', '--host', '127.0.0.1', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buffer = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const line = buffer.split('\n').find((l) => l.includes("à l'écoute sur"));
          if (line) resolve((JSON.parse(line) as { url: string }).url);
        });
        child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
      });
      const port = Number(new URL(url).port);
      const sockets = Array.from({ length: 1_000 }, () => {
        const socket = connect(port, '127.0.0.1');
        const state = { settled: false, socket };
        socket.once('connect', () => (state.settled = true));
        socket.once('close', () => (state.settled = true));
        socket.on('error', () => {});
        return state;
      });
      const deadline = Date.now() + 20_000;
      while (!sockets.every((s) => s.settled)) {
        if (Date.now() > deadline) throw new Error('the 1,000 connections were neither accepted nor refused');
        await sleep(20);
      }
      // Well within the 10 s header timeout: the idle sockets have not timed out, they made room.
      const health = await request(`${url}/health`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
      expect(health.statusCode).toBe(200);
      expect(await health.body.json()).toEqual({ status: 'ok' });
      for (const s of sockets) s.socket.destroy();
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('serve --demo listens on this machine only unless --host says otherwise; without --demo on every interface', async () => {
    const listeningHost = (s: ChildServer) => (JSON.parse(s.lines.find((l) => l.includes("à l'écoute sur"))!) as { host: string }).host;
    // An address of this machine other than loopback, if it has one: the demo must not answer there.
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    const reachable = (host: string, port: number) =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, host);
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });

    server = await startCliProcess(CLI, ['serve', '--demo', '--db', dbFile, '--port', '0']);
    expect(listeningHost(server)).toBe('127.0.0.1');
    const port = Number(new URL(server.url).port);
    expect(await reachable('127.0.0.1', port)).toBe(true);
    if (lan) expect(await reachable(lan, port)).toBe(false);
    await server.stop();

    server = await startCliProcess(CLI, ['serve', '--demo', '--host', '0.0.0.0', '--db', dbFile, '--port', '0']);
    expect(listeningHost(server)).toBe('0.0.0.0');
    if (lan) expect(await reachable(lan, Number(new URL(server.url).port))).toBe(true);
    await server.stop();

    server = await startCliProcess(CLI, ['serve', '--db', dbFile, '--port', '0']);
    expect(listeningHost(server)).toBe('0.0.0.0');
  });
});
