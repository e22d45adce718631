import Database from 'better-sqlite3';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, runCliSync, startCliProcess } from '../../../test-support/cli-process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

// The real server, started from its built CLI: the relay never imports it.
const SERVER_CLI = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SERIAL = '0a1badae951f8473';

let dir: string;
let serverDb: string;
let relayDb: string;
const running: CliProcess[] = [];

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

async function startServer(port: number) {
  const p = await startCliProcess(SERVER_CLI, ['serve', '--demo', '--db', serverDb, '--host', '127.0.0.1', '--port', String(port)]);
  running.push(p);
  return p;
}

async function startRelay(upstreamPort: number, extra: string[] = []) {
  const p = await startCliProcess(RELAY_CLI, [
    'start', '--upstream', `http://127.0.0.1:${upstreamPort}`, '--db', relayDb, '--host', '127.0.0.1', '--port', '0', '--interval', '1s', ...extra,
  ]);
  running.push(p);
  return p;
}

const server = (...args: string[]) => runCliSync(SERVER_CLI, [...args, '--db', serverDb]);
const relay = (...args: string[]) => runCliSync(RELAY_CLI, [...args, '--db', relayDb]);
const relayStatus = () => JSON.parse(relay('status', '--json').stdout) as { totaux: { en_attente: number; synchronisees: number; rejetees: number } };

async function postToRelay(url: string, ventes: unknown[]) {
  const res = await request(`${url}/api/v2/simple/ventes/sync/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
    body: JSON.stringify(ventes),
  });
  return { status: res.statusCode, body: (await res.body.json()) as { ventes_creees: Array<{ numero_facture: string; statut: string }> } };
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

function serverRows<T>(sql: string): T[] {
  const db = new Database(serverDb, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-e2e-'));
  serverDb = join(dir, 'server.db');
  relayDb = join(dir, 'relay.db');
});
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  await sleep(50);
  rmSync(dir, { recursive: true, force: true });
});

describe('relay and server, as real processes', () => {
  it('sales posted to the relay while the server is down reach it once it starts, exactly once', async () => {
    const port = await freePort();
    const r = await startRelay(port);
    const sent = await postToRelay(r.url, [
      { numero_facture: 'TEST-001', mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }] },
      { lignes: [{ article_id: 7, quantite: 2 }] },
    ]);
    expect(sent.status).toBe(201);
    expect(sent.body.ventes_creees.map((v) => v.statut)).toEqual(['EN_ATTENTE', 'EN_ATTENTE']);
    const numeros = sent.body.ventes_creees.map((v) => v.numero_facture);
    await sleep(300);
    expect(relayStatus().totaux.en_attente).toBe(2);

    await startServer(port);
    expect(relay('sync').code).toBe(0);
    await until(() => relayStatus().totaux.en_attente === 0, 'relay drained');
    expect(relayStatus().totaux.synchronisees).toBe(2);
    const rows = serverRows<{ numero_facture: string }>('SELECT numero_facture FROM ventes ORDER BY id');
    expect(rows.map((row) => row.numero_facture)).toEqual(numeros);
  });

  it('kill -9 of the relay in the middle of forwarding, then a restart: every sale on the server exactly once', async () => {
    const port = await freePort();
    const s = await startServer(port);
    expect(server('stock', 'set', '6', '100000').code).toBe(0);
    const deadPort = await freePort();

    // Build a backlog while the relay cannot reach anything.
    let r = await startRelay(deadPort);
    const numeros: string[] = [];
    for (let b = 0; b < 10; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ numero_facture: `K-${b}-${i}`, lignes: [{ article_id: 6 }] }));
      const res = await postToRelay(r.url, batch);
      expect(res.status).toBe(201);
      numeros.push(...res.body.ventes_creees.map((v) => v.numero_facture));
    }
    await r.stop();

    // Point it at the live server with small batches, and kill it while it forwards.
    r = await startRelay(port, ['--batch-size', '10']);
    await until(() => serverRows<{ n: number }>('SELECT COUNT(*) AS n FROM ventes')[0]!.n > 0, 'first batches on the server', 15_000);
    r.child.kill('SIGKILL');
    const atKill = serverRows<{ n: number }>('SELECT COUNT(*) AS n FROM ventes')[0]!.n;
    expect(atKill).toBeLessThan(1000);

    await startRelay(port, ['--batch-size', '10']);
    await until(() => relayStatus().totaux.en_attente === 0, 'relay drained after restart');
    expect(relayStatus().totaux).toMatchObject({ synchronisees: 1000, rejetees: 0 });
    const stored = serverRows<{ numero_facture: string }>('SELECT numero_facture FROM ventes');
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((row) => row.numero_facture))).toEqual(new Set(numeros));
    expect(serverRows<{ q: number }>('SELECT quantite_stock AS q FROM articles WHERE id = 6')[0]!.q).toBe(100000 - 1000);
    expect(serverRows<{ n: number }>("SELECT COUNT(*) AS n FROM mouvements_stock WHERE type = 'SORTIE'")[0]!.n).toBe(1000);
    await s.stop();
  });

  it('a sale the relay answered is on disk: kill -9 right after the 201, restart, and it still reaches the server', async () => {
    const port = await freePort();
    const r = await startRelay(port);
    const sent = await postToRelay(r.url, [{ numero_facture: 'DUR-1', lignes: [{ article_id: 6 }] }]);
    expect(sent.status).toBe(201);
    r.child.kill('SIGKILL');
    await new Promise((resolve) => r.child.once('exit', resolve));
    expect(relayStatus().totaux.en_attente).toBe(1);

    await startServer(port);
    await startRelay(port);
    await until(() => relayStatus().totaux.synchronisees === 1, 'held sale delivered after the crash');
    expect(serverRows<{ numero_facture: string }>('SELECT numero_facture FROM ventes')).toEqual([{ numero_facture: 'DUR-1' }]);
  });

  it('SIGTERM stops the relay cleanly: exit code 0, and status shows it stopped', async () => {
    const port = await freePort();
    const r = await startRelay(port);
    expect(JSON.parse(relay('status', '--json').stdout).relais.en_marche).toBe(true);
    const exited = new Promise<number | null>((resolve) => r.child.once('exit', (code) => resolve(code)));
    r.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(JSON.parse(relay('status', '--json').stdout).relais).toEqual({ en_marche: false, url: null });
  });

  it('a sale rejected for stock goes through once the stock is delivered and a person retries it', async () => {
    const port = await freePort();
    await startServer(port);
    expect(server('stock', 'set', '7', '1').code).toBe(0);
    const r = await startRelay(port, ['--stock-retries', '1']);
    const sent = await postToRelay(r.url, [{ numero_facture: 'STOCK-1', lignes: [{ article_id: 7, quantite: 3 }] }]);
    expect(sent.status).toBe(201);

    await until(() => relayStatus().totaux.rejetees === 1, 'sale rejected for stock');
    const [rejected] = JSON.parse(relay('rejected', '--json').stdout) as Array<{ numero_facture: string; code_erreur: string; erreur: string }>;
    expect(rejected).toMatchObject({ numero_facture: 'STOCK-1', code_erreur: 'INSUFFICIENT_STOCK' });
    expect(rejected!.erreur).toContain('Stock insuffisant');

    expect(server('stock', 'add', '7', '10').code).toBe(0);
    expect(relay('retry', 'STOCK-1').stdout).toContain('1 vente(s) remise(s) en attente');
    await until(() => relayStatus().totaux.synchronisees === 1, 'sale synced after retry');
    expect(serverRows<{ q: number }>('SELECT quantite_stock AS q FROM articles WHERE id = 7')[0]!.q).toBe(8);
  });
});
