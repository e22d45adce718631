import Database from 'better-sqlite3';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, runCliSync, startCliProcess } from '../../../test-support/cli-process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startFaultProxy } from './fault-proxy.js';

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

function relayRows<T>(sql: string): T[] {
  const db = new Database(relayDb, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
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
    // The relay tried, found the server away, and says why; the sales wait.
    await until(
      () => /ECONNREFUSED/.test(relayRows<{ e: string | null }>(`SELECT derniere_erreur AS e FROM terminaux WHERE serial = '${SERIAL}'`)[0]?.e ?? ''),
      'the refused connection recorded as the reason',
    );
    expect(relayStatus().totaux.en_attente).toBe(2);
    const held = relayRows<{ statut: string; tentatives: number }>('SELECT statut, tentatives FROM ventes');
    expect(held.map((v) => v.statut)).toEqual(['EN_ATTENTE', 'EN_ATTENTE']);
    expect(held.every((v) => v.tentatives >= 1)).toBe(true);

    await startServer(port);
    expect(relay('sync').code).toBe(0);
    await until(() => relayStatus().totaux.en_attente === 0, 'relay drained');
    expect(relayStatus().totaux.synchronisees).toBe(2);
    const rows = serverRows<{ numero_facture: string }>('SELECT numero_facture FROM ventes ORDER BY id');
    expect(rows.map((row) => row.numero_facture)).toEqual(numeros);
  });

  it('kill -9 of the relay after the server committed a batch but before the relay heard: after a restart, every sale on the server exactly once, none rejected', async () => {
    const port = await freePort();
    const s = await startServer(port);
    expect(server('stock', 'set', '6', '100000').code).toBe(0);
    const proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
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

    // Towards the live server, through a proxy: the 5th batch is committed by the server and
    // its answer held back; the relay is killed in that very window.
    proxy.script.push({ kind: 'pass' }, { kind: 'pass' }, { kind: 'pass' }, { kind: 'pass' }, { kind: 'hold-after-commit' });
    r = await startRelay(proxy.port, ['--batch-size', '10']);
    await proxy.until(() => proxy.heldCount() === 1);
    const exited = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGKILL');
    await exited;
    proxy.releaseHeld();
    const held = proxy.requests[4]!.numeros;
    expect(serverRows<{ n: number }>('SELECT COUNT(*) AS n FROM ventes')[0]!.n).toBe(50);
    const heldStates = relayRows<{ statut: string }>(`SELECT statut FROM ventes WHERE numero_facture IN (${held.map((n) => `'${n}'`).join(',')})`);
    expect(heldStates.map((v) => v.statut)).toEqual(Array(10).fill('EN_ATTENTE'));

    await startRelay(proxy.port, ['--batch-size', '10']);
    await until(() => relayStatus().totaux.en_attente === 0, 'relay drained after restart');
    expect(relayStatus().totaux).toMatchObject({ synchronisees: 1000, rejetees: 0 });
    const stored = serverRows<{ numero_facture: string }>('SELECT numero_facture FROM ventes');
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((row) => row.numero_facture))).toEqual(new Set(numeros));
    expect(serverRows<{ q: number }>('SELECT quantite_stock AS q FROM articles WHERE id = 6')[0]!.q).toBe(100000 - 1000);
    expect(serverRows<{ n: number }>("SELECT COUNT(*) AS n FROM mouvements_stock WHERE type = 'SORTIE'")[0]!.n).toBe(1000);
    // The held batch was sent again after the restart, and the server recognised it.
    expect(proxy.requests.filter((req) => req.numeros.includes(held[0]!)).length).toBe(2);
    await proxy.close();
    await s.stop();
  });

  it('a second relay on a file already in use refuses to start, in French, and the first keeps running', async () => {
    const port = await freePort();
    const first = await startRelay(port);
    const second = spawnSync(
      process.execPath,
      [RELAY_CLI, 'start', '--upstream', `http://127.0.0.1:${port}`, '--db', relayDb, '--host', '127.0.0.1', '--port', '0'],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/un autre relais utilise déjà le fichier/);
    const res = await postToRelay(first.url, [{ numero_facture: 'LOCK-1', lignes: [{ article_id: 6 }] }]);
    expect(res.status).toBe(201);
    // The file still points the CLI at the first relay.
    expect(new URL(relayRows<{ v: string }>("SELECT valeur AS v FROM etat WHERE cle = 'daemon_url'")[0]!.v).port).toBe(new URL(first.url).port);
  });

  it('restarted towards another server while sales wait: the log says loudly that they will go there, and it is recorded for status', async () => {
    const oldPort = await freePort();
    let r = await startRelay(oldPort);
    expect((await postToRelay(r.url, [{ numero_facture: 'MV-1', lignes: [{ article_id: 6 }] }, { numero_facture: 'MV-2', lignes: [{ article_id: 6 }] }])).status).toBe(201);
    await r.stop();
    const newPort = await freePort();
    r = await startRelay(newPort);
    const line = await r.waitForLine(/serveur central changé/);
    expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${oldPort} → http://127\\.0\\.0\\.1:${newPort}.*2 vente\\(s\\) en attente seront envoyées au nouveau serveur`));
    const recorded = JSON.parse(relayRows<{ v: string }>("SELECT valeur AS v FROM etat WHERE cle = 'changement_serveur'")[0]!.v);
    expect(recorded).toMatchObject({ ancien: `http://127.0.0.1:${oldPort}`, nouveau: `http://127.0.0.1:${newPort}`, en_attente: 2 });
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
    expect(JSON.parse(relay('status', '--json').stdout).relais).toMatchObject({ en_marche: false, url: null });
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
