import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { buildApp } from '@ventesync/server';
import { MIGRATIONS as SERVER_MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { publicVente, renderReceipt } from '../src/receipt.js';
import type { RelayCredentials } from '../src/relay-credentials.js';
import { createRelayStore } from '../src/relay-store.js';
import { createRelayTrust } from '../src/relay-trust.js';
import { createRequestSigner } from '../src/request-signer.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream, DEFAULT_TIMEOUTS } from '../src/upstream.js';

// CONTRACT §7, offline sales and stock, end to end: a till's sale goes through a registered
// relay to a real server whose stock is short.

const SERVER_CLI = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
const SYNC = '/api/v2/simple/ventes/sync/';
const TILL = 'caisse-boutique';
const CHARGEUR = 10;

let dir: string;
let serverDb: string;
let relay: RelayCredentials;
const cleanup: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-offline-stock-'));
  serverDb = join(dir, 'server.db');
  const db = new Database(serverDb);
  prepareDatabase(db, SERVER_MIGRATIONS);
  // A boutique that refuses short stock for its direct tills (the default).
  db.exec(`
    INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique');
    INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('${TILL}', 'Caisse 1', 2);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (${CHARGEUR}, 2, 'Chargeur', 500000, 2);
  `);
  const secret = randomBytes(32).toString('base64url');
  const { id } = db.prepare("INSERT INTO relais (nom, secret) VALUES ('Relais Ma Boutique', ?) RETURNING id").get(secret) as { id: number };
  db.prepare('INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES (?, 2)').run(id);
  db.close();
  relay = { id, secret };
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

async function startServer() {
  const db = new Database(serverDb);
  prepareDatabase(db, SERVER_MIGRATIONS);
  const app = await buildApp({ db, logger: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanup.push(async () => {
    await app.close();
    db.close();
  });
  const stock = () => db.prepare<[number], number>('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(CHARGEUR)!;
  return { url, db, stock };
}

async function startRelay(upstreamUrl: string, credentials: RelayCredentials | null) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({ write: (chunk, _enc, done) => (String(chunk).split('\n').filter(Boolean).forEach((l) => logs.push(JSON.parse(l))), done()) }),
  );
  const db = openDatabase(join(dir, 'relay.db'));
  const store = createRelayStore(db);
  const agent = createAgent(DEFAULT_TIMEOUTS);
  const signer = credentials ? createRequestSigner(credentials, () => Date.now()) : null;
  let trust: ReturnType<typeof createRelayTrust> | undefined;
  const upstream = createUpstream(upstreamUrl, agent, {
    ...(signer ? { signer, onTerminalsVersion: (v: string) => trust?.noteVersion(v) } : {}),
  });
  trust = createRelayTrust({ db, store, upstream, credentials, logger, nowMs: signer ? signer.serverNowMs : () => Date.now() });
  const forwarder = createForwarder({
    store,
    upstream,
    config: { ...DEFAULT_FORWARDER_CONFIG, intervalMs: 60_000, debounceMs: 10, debounceMaxMs: 50 },
    logger,
  });
  const directory = createTerminalDirectory(store, upstream);
  const app = await buildRelayApp({ store, upstream, forwarder, directory, logger, trust });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  forwarder.start();
  await trust.refresh();
  cleanup.push(async () => {
    await forwarder.stop();
    await app.close();
    await agent.close();
    db.close();
  });
  const post = async (body: unknown) => {
    const res = await request(`${url}${SYNC}`, {
      method: 'POST',
      headers: { 'x-device-serial': TILL, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };
  const held = (numero: string) => store.byNumero(numero)[0];
  return { store, db, logs, post, held };
}

/** Waits for a condition, failing after the deadline with what was last seen. */
async function until<T>(probe: () => T, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = probe();
  }
  return last;
}

const sale = (numero: string, quantite: number) => ({
  numero_facture: numero,
  mode_paiement: 'CASH',
  paye: true,
  lignes: [{ article_id: CHARGEUR, quantite, prix_unitaire: 5000 }],
});

describe('offline sales against stock, through a registered relay (CONTRACT §7)', () => {
  it('a sale short of stock is created with its warning and the stock negative, synced on the relay with the warning shown; a delivery brings the stock back', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    expect((await shop.post([sale('HL-1', 5)])).status).toBe(201);

    const synced = await until(
      () => shop.held('HL-1'),
      (v) => v?.statut === 'SYNCHRONISEE',
    );
    // On the server: created, stock below zero, the SORTIE movement written.
    expect(server.stock()).toBe(-3);
    expect(server.db.prepare("SELECT quantite, stock_avant, stock_apres, reference FROM mouvements_stock WHERE type = 'SORTIE'").all()).toEqual([
      { quantite: 5, stock_avant: 2, stock_apres: -3, reference: 'HL-1' },
    ]);
    // On the relay: synced at once (one send, no stock retry), the warning kept and shown.
    expect(synced).toMatchObject({ tentatives: 1, tentatives_stock: 0, code_erreur: null, prochaine_tentative: null });
    expect(publicVente(synced!).avertissements).toEqual([{ code: 'STOCK_NEGATIF', article_id: CHARGEUR, manque: 3 }]);
    const receipt = renderReceipt(shop.store, synced!, { utc: true, now: new Date() }, { relay: 'ventesync-relay', server: 'ventesync-server' } as never, 100);
    expect(receipt).toContain('SYNCHRONISÉE');
    expect(receipt).toMatch(/Avertissement\s*: stock négatif : article n° 10, 3 unité\(s\) vendue\(s\) sans stock \(STOCK_NEGATIF\)/);
    expect(shop.logs.some((l) => l.level === 40 && String(l.msg).includes('avec avertissement'))).toBe(true);

    // The server lists it below zero; a delivery brings it back.
    const stats = await request(`${server.url}/api/v2/simple/statistiques/`, { headers: { 'x-device-serial': TILL } });
    expect(((await stats.body.json()) as { statistiques: { articles_stock_negatif: unknown } }).statistiques.articles_stock_negatif).toEqual([
      { id: CHARGEUR, nom: 'Chargeur', quantite_stock: -3 },
    ]);
    const delivery = execFileSync(process.execPath, [SERVER_CLI, 'stock', 'add', String(CHARGEUR), '10', '--db', serverDb], { encoding: 'utf8' });
    expect(delivery).toContain('-3 → 7');
    expect(server.stock()).toBe(7);
  });

  it('a relay without credentials is a direct till to the server: the short sale waits on stock, as before', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, null);
    expect((await shop.post([sale('HL-2', 5)])).status).toBe(201);
    const waiting = await until(
      () => shop.held('HL-2'),
      (v) => v?.code_erreur === 'INSUFFICIENT_STOCK',
    );
    expect(waiting).toMatchObject({ statut: 'EN_ATTENTE', tentatives_stock: 1, avertissements: null });
    expect(server.stock()).toBe(2);
  });
});
