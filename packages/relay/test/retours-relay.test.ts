import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { buildApp } from '@ventesync/server';
import { MIGRATIONS as SERVER_MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import type { RelayCredentials } from '../src/relay-credentials.js';
import { createRelayStore } from '../src/relay-store.js';
import { createRelayTrust } from '../src/relay-trust.js';
import { createRequestSigner } from '../src/request-signer.js';
import { discardSale, retrySales } from '../src/sale-decisions.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream, DEFAULT_TIMEOUTS } from '../src/upstream.js';

// Issue 10 point 4, the relay's part: returns are queued and forwarded like sales (offline
// too), each after the sale it refers to, against a real server.

const SYNC = '/api/v2/simple/ventes/sync/';
const RETOURS = '/api/v2/simple/ventes/retours/';
const TILL = 'caisse-boutique';
const OTHER_TILL = 'caisse-comptoir';
const CHARGEUR = 10;
const STOCK = 20;

let dir: string;
let serverDb: string;
let relay: RelayCredentials;
const cleanup: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-retours-relay-'));
  serverDb = join(dir, 'server.db');
  const db = new Database(serverDb);
  prepareDatabase(db, SERVER_MIGRATIONS);
  db.exec(`
    INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique');
    INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('${TILL}', 'Caisse 1', 2), ('${OTHER_TILL}', 'Caisse 2', 2);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (${CHARGEUR}, 2, 'Chargeur', 500000, ${STOCK});
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

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

async function startServer(port = 0) {
  const db = new Database(serverDb);
  prepareDatabase(db, SERVER_MIGRATIONS);
  const app = await buildApp({ db, logger: false });
  const url = await app.listen({ host: '127.0.0.1', port });
  cleanup.push(async () => {
    await app.close();
    db.close();
  });
  const stock = () => db.prepare<[number], number>('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(CHARGEUR)!;
  const retours = () =>
    db.prepare('SELECT r.numero_retour, v.numero_facture, r.montant_total FROM retours r JOIN ventes v ON v.id = r.vente_id ORDER BY r.id').all();
  const mouvements = () => db.prepare('SELECT type, quantite, reference FROM mouvements_stock ORDER BY id').all();
  return { url, db, stock, retours, mouvements };
}

/** A relay on the shared file; `stop` is the end of the process (claims and all left as they are). */
async function startRelay(upstreamUrl: string, credentials: RelayCredentials | null) {
  const db = openDatabase(join(dir, 'relay.db'));
  const store = createRelayStore(db);
  store.releaseAllClaims();
  const agent = createAgent(DEFAULT_TIMEOUTS);
  const signer = credentials ? createRequestSigner(credentials, () => Date.now()) : null;
  let trust: ReturnType<typeof createRelayTrust> | undefined;
  const upstream = createUpstream(upstreamUrl, agent, {
    ...(signer ? { signer, onTerminalsVersion: (v: string) => trust?.noteVersion(v) } : {}),
  });
  trust = createRelayTrust({ db, store, upstream, credentials, logger: pino({ level: 'silent' }), nowMs: signer ? signer.serverNowMs : () => Date.now() });
  const forwarder = createForwarder({
    store,
    upstream,
    config: { ...DEFAULT_FORWARDER_CONFIG, intervalMs: 60_000, debounceMs: 10, debounceMaxMs: 50 },
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  const directory = createTerminalDirectory(store, upstream);
  const app = await buildRelayApp({ store, upstream, forwarder, directory, logger: false, trust });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  forwarder.start();
  if (credentials) await trust.refresh();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await forwarder.stop();
    await app.close();
    await agent.close();
    db.close();
  };
  cleanup.push(stop);
  const post = async (path: string, body: unknown, serial = TILL) => {
    const res = await request(`${url}${path}`, {
      method: 'POST',
      headers: { 'x-device-serial': serial, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
  };
  return { store, db, post, stop, forwarder, url, retour: (numero: string) => store.retours.byNumero(numero)[0], vente: (numero: string) => store.byNumero(numero)[0] };
}

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
const retour = (numero: string, facture: string, quantite: number) => ({
  numero_retour: numero,
  numero_facture: facture,
  lignes: [{ article_id: CHARGEUR, quantite }],
  motif: 'défaut',
});

describe('returns through the relay (issue 10 point 4)', () => {
  it('a sale and its return taken while the server is down survive a relay restart and reach the server in order, stock right', async () => {
    const port = await freePort();
    const first = await startRelay(`http://127.0.0.1:${port}`, null);
    expect((await first.post(SYNC, [sale('V-1', 3)])).status).toBe(201);
    const taken = await first.post(RETOURS, [retour('R-1', 'V-1', 1)]);
    // Answered as the server would, waiting on the relay, priced at the held sale's price.
    expect(taken.status).toBe(201);
    expect(taken.json.retours_crees).toEqual([
      { numero_retour: 'R-1', numero_facture: 'V-1', montant_total: '5000.00', lignes: [expect.objectContaining({ quantite: 1, prix_unitaire: '5000.00' })], statut: 'EN_ATTENTE' },
    ]);
    // A resend from the till is the same return.
    const again = await first.post(RETOURS, [retour('R-1', 'V-1', 1)]);
    expect(again.json.retours_erreurs).toEqual([expect.objectContaining({ code: 'DUPLICATE', identique: true })]);
    await until(() => first.vente('V-1')?.tentatives ?? 0, (n) => n > 0);
    expect(first.retour('R-1')).toMatchObject({ statut: 'EN_ATTENTE', tentatives: 0 });
    await first.stop();

    const server = await startServer(port);
    const second = await startRelay(server.url, null);
    await until(() => second.retour('R-1')?.statut, (s) => s === 'SYNCHRONISEE');
    expect(second.vente('V-1')?.statut).toBe('SYNCHRONISEE');
    expect(second.retour('R-1')?.montant_serveur).toBe('5000.00');
    expect(server.retours()).toEqual([{ numero_retour: 'R-1', numero_facture: 'V-1', montant_total: 500000 }]);
    expect(server.stock()).toBe(STOCK - 3 + 1);
    expect(server.mouvements()).toEqual([
      { type: 'SORTIE', quantite: 3, reference: 'V-1' },
      { type: 'RETOUR', quantite: 1, reference: 'R-1' },
    ]);
  });

  it('a return sent again after its answer was lost is identique on the server: synced, counted once', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    await shop.post(SYNC, [sale('V-2', 2)]);
    await shop.post(RETOURS, [retour('R-2', 'V-2', 2)]);
    await until(() => shop.retour('R-2')?.statut, (s) => s === 'SYNCHRONISEE');
    // As if the answer had been lost: the relay still thinks it must send it.
    shop.db.prepare("UPDATE retours SET statut = 'EN_ATTENTE', synchronisee_le = NULL WHERE numero_retour = 'R-2'").run();
    await shop.forwarder.syncNow();
    expect(shop.retour('R-2')).toMatchObject({ statut: 'SYNCHRONISEE', tentatives: 2 });
    expect(server.retours()).toHaveLength(1);
    expect(server.stock()).toBe(STOCK);
  });

  it('a return exceeding the sale the relay holds is refused at the relay with RETURN_EXCEEDS_SALE, all returns together', async () => {
    const port = await freePort();
    const shop = await startRelay(`http://127.0.0.1:${port}`, null);
    await shop.post(SYNC, [sale('V-3', 3)]);
    const answer = await shop.post(RETOURS, [retour('R-3a', 'V-3', 2), retour('R-3b', 'V-3', 2), retour('R-3c', 'V-3', 1)]);
    expect(answer.status).toBe(201);
    expect(answer.json.retours_crees.map((r: { numero_retour: string }) => r.numero_retour)).toEqual(['R-3a', 'R-3c']);
    expect(answer.json.retours_erreurs).toEqual([
      expect.objectContaining({ index: 2, numero_retour: 'R-3b', code: 'RETURN_EXCEEDS_SALE', erreur: expect.stringContaining('reste 1') }),
    ]);
    expect(shop.retour('R-3b')).toBeUndefined();
    const more = await shop.post(RETOURS, [retour('R-3d', 'V-3', 1)]);
    expect(more.status).toBe(200);
    expect(more.json.retours_erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE' })]);
  });

  it('a return for a sale the relay does not hold is forwarded, signed; the server\'s SALE_NOT_FOUND makes it REJETEE with the reason', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    const taken = await shop.post(RETOURS, [retour('R-4', 'INCONNUE-1', 1)]);
    expect(taken.status).toBe(201);
    const rejected = await until(() => shop.retour('R-4'), (r) => r?.statut === 'REJETEE');
    expect(rejected).toMatchObject({ code_erreur: 'SALE_NOT_FOUND', erreur: expect.stringContaining('INCONNUE-1') });
    expect(server.retours()).toEqual([]);
    expect(server.stock()).toBe(STOCK);
  });

  it('a bad return is refused at the relay with INVALID_RETURN, nothing held', async () => {
    const port = await freePort();
    const shop = await startRelay(`http://127.0.0.1:${port}`, null);
    const answer = await shop.post(RETOURS, [{ numero_retour: 'R-5', numero_facture: 'V-5', lignes: [] }]);
    expect(answer.status).toBe(200);
    expect(answer.json.retours_erreurs).toEqual([expect.objectContaining({ index: 1, numero_retour: 'R-5', code: 'INVALID_RETURN' })]);
    expect(shop.retour('R-5')).toBeUndefined();
    expect((await shop.post(RETOURS, { pas: 'un tableau' })).status).toBe(400);
  });

  it('a return taken at another till of the shop, both tills new while the server was away, is checked against the sale the relay holds and sent after it', async () => {
    const port = await freePort();
    const first = await startRelay(`http://127.0.0.1:${port}`, null);
    expect((await first.post(SYNC, [sale('V-20', 3)])).status).toBe(201);
    // Neither till has met the server: the relay knows no boutique for them.
    expect(first.store.terminal(OTHER_TILL)).toBeUndefined();
    const tooMany = await first.post(RETOURS, [retour('R-20a', 'V-20', 4)], OTHER_TILL);
    expect(tooMany.status).toBe(200);
    expect(tooMany.json.retours_erreurs).toEqual([expect.objectContaining({ numero_retour: 'R-20a', code: 'RETURN_EXCEEDS_SALE', erreur: expect.stringContaining('reste 3') })]);
    const taken = await first.post(RETOURS, [retour('R-20b', 'V-20', 2)], OTHER_TILL);
    expect(taken.status).toBe(201);
    // Priced at the held sale's price, though this till has no catalogue.
    expect(taken.json.retours_crees).toEqual([expect.objectContaining({ numero_retour: 'R-20b', montant_total: '10000.00', statut: 'EN_ATTENTE' })]);
    expect(first.store.terminal(OTHER_TILL)).toMatchObject({ statut: 'NON_VERIFIE', boutique_id: null });
    expect(first.retour('R-20a')).toBeUndefined();
    // Waiting behind its sale, though taken at another till whose boutique is unknown.
    expect(first.store.retours.summary()).toMatchObject({ en_attente: 1, attendent_la_vente: 1 });
    expect(first.store.retours.serialsDue()).toEqual([]);
    await first.stop();

    const server = await startServer(port);
    const second = await startRelay(server.url, null);
    await until(() => second.retour('R-20b')?.statut, (s) => s === 'SYNCHRONISEE');
    expect(second.vente('V-20')?.statut).toBe('SYNCHRONISEE');
    expect(server.retours()).toEqual([{ numero_retour: 'R-20b', numero_facture: 'V-20', montant_total: 1000000 }]);
    expect(server.stock()).toBe(STOCK - 3 + 2);
    // The returns' answer named the till: known now, with its boutique, as after a sale.
    expect(second.store.terminal(OTHER_TILL)).toMatchObject({ statut: 'CONNU', boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 2' });
    expect(second.retour('R-20b')).toMatchObject({ boutique_id: 2, montant_serveur: '10000.00' });
  });

  it('a doubled X-Device-Serial (a proxy adding its own) is refused at the door with the server\'s 400 MISSING_SERIAL, sales and returns alike, nothing kept', async () => {
    const doubled = async (url: string, path: string, body: unknown) => {
      // Node joins a header sent twice into "caisse-boutique, caisse-comptoir".
      const res = await request(`${url}${path}`, {
        method: 'POST',
        headers: ['x-device-serial', TILL, 'x-device-serial', OTHER_TILL, 'content-type', 'application/json'],
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
    };
    const port = await freePort();
    const away = await startRelay(`http://127.0.0.1:${port}`, null);
    const sync = await doubled(away.url, SYNC, [sale('V-30', 1)]);
    const retours = await doubled(away.url, RETOURS, [retour('R-30', 'V-30', 1)]);
    expect(sync).toEqual({ status: 400, json: expect.objectContaining({ code: 'MISSING_SERIAL', header_required: 'X-Device-Serial' }) });
    expect(retours).toEqual(sync);
    expect(away.store.terminaux()).toEqual([]);
    expect(away.store.summary()).toEqual([]);
    expect(away.store.retours.summary()).toMatchObject({ en_attente: 0 });
    await away.stop();

    // The server answers the same; so does a registered relay, before asking its list.
    const server = await startServer(port);
    expect(await doubled(server.url, SYNC, [sale('V-30', 1)])).toEqual(sync);
    expect(await doubled(server.url, RETOURS, [retour('R-30', 'V-30', 1)])).toEqual(sync);
    const shop = await startRelay(server.url, relay);
    expect(await doubled(shop.url, RETOURS, [retour('R-30', 'V-30', 1)])).toEqual(sync);
    expect(server.retours()).toEqual([]);
  });

  it('retrying a sale puts back its return the server refused SALE_NOT_FOUND: both reach the server, the return after its sale', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, null);
    // A sale of an article the server does not know yet: refused, and its return waits for a decision.
    await shop.post(SYNC, [{ numero_facture: 'V-40', mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 99, quantite: 2, prix_unitaire: 1000 }] }]);
    await until(() => shop.vente('V-40')?.statut, (s) => s === 'REJETEE');
    await shop.post(RETOURS, [{ numero_retour: 'R-40', numero_facture: 'V-40', lignes: [{ article_id: 99, quantite: 1 }] }]);
    // Someone discards the sale first: the return goes alone and the server does not know its sale.
    expect(discardSale(shop.store, 'V-40', 'article inconnu', new Date())).toEqual({ ok: true });
    await shop.forwarder.syncNow();
    await until(() => shop.retour('R-40'), (r) => r?.statut === 'REJETEE');
    expect(shop.retour('R-40')).toMatchObject({ code_erreur: 'SALE_NOT_FOUND' });

    // The article is added on the server; the sale is retried: its return goes with it, after it.
    server.db.prepare("INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (99, 2, 'Housse', 100000, 5)").run();
    expect(retrySales(shop.store, ['V-40'])).toMatchObject({ count: 1, retours: ['R-40'] });
    expect(shop.retour('R-40')).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null });
    await shop.forwarder.syncNow();
    await until(() => shop.retour('R-40')?.statut, (s) => s === 'SYNCHRONISEE');
    expect(shop.vente('V-40')?.statut).toBe('SYNCHRONISEE');
    expect(server.retours()).toEqual([{ numero_retour: 'R-40', numero_facture: 'V-40', montant_total: 100000 }]);
  });
});
