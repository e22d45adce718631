import Database from 'better-sqlite3';
import { pino } from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type RealServer, SERIAL, startRealServer } from './real-server.js';

const SYNC = '/api/v2/simple/ventes/sync/';
const quiet = { info() {}, warn() {}, error() {} };

/** The real central server, in this process; faults are made on its own database. */
let server: RealServer | null;
let store: RelayStore;
let relayDb: Database.Database;
let forwarder: ReturnType<typeof createForwarder>;
let app: Awaited<ReturnType<typeof buildRelayApp>>;
let agent: ReturnType<typeof createAgent>;
let upstreamUrl: string;

async function build(url: string) {
  agent = createAgent({ connectMs: 500, headersMs: 2_000, bodyMs: 2_000 });
  const upstream = createUpstream(url, agent);
  // Timers off: these tests look at what the relay holds, not at forwarding.
  forwarder = createForwarder({ store, upstream, config: { ...DEFAULT_FORWARDER_CONFIG, debounceMs: 60_000 }, logger: quiet });
  const now = () => new Date('2025-10-29T02:45:00Z');
  const directory = createTerminalDirectory(store, upstream, now);
  app = await buildRelayApp({ store, upstream, forwarder, directory, logger: false, now });
}

const post = (body: unknown, serial: string | null = SERIAL) =>
  app.inject({
    method: 'POST',
    url: SYNC,
    headers: { 'content-type': 'application/json', ...(serial === null ? {} : { 'x-device-serial': serial }) },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** The server goes away; its port then refuses connections. */
async function stopServer() {
  await server?.close();
  server = null;
}

beforeEach(async () => {
  server = await startRealServer();
  upstreamUrl = server.url;
  relayDb = openDatabase(':memory:');
  store = createRelayStore(relayDb);
  await build(upstreamUrl);
});
afterEach(async () => {
  await app.close();
  await agent.close();
  await stopServer();
});

describe('relay: the till side speaks the server protocol', () => {
  it("accepts the guide's example with 201 in the guide's shape, each sale EN_ATTENTE, priced from the catalogue", async () => {
    const res = await post([{ numero_facture: 'TEST-001', mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 6, quantite: 1 }] }]);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      success: true,
      message: '1 vente(s) synchronisée(s) avec succès',
      boutique_id: 2,
      boutique_nom: 'Ma Boutique',
      // The till's name, as the server would say it, from the very first answer (learned when
      // the relay checked the till with the server).
      terminal: 'Terminal messie vanza',
      statistiques: { total_envoyees: 1, reussies: 1, erreurs: 0 },
      ventes_creees: [
        {
          numero_facture: 'TEST-001',
          montant_total: '40000.00',
          lignes: [{ article_nom: 'Samsung S24', quantite: 1, prix_unitaire: '40000.00', sous_total: '40000.00' }],
          statut: 'EN_ATTENTE',
        },
      ],
      ventes_erreurs: null,
    });
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(1);
  });

  it.each([
    ['no serial', () => post([], null), 400, 'MISSING_SERIAL'],
    ['broken JSON', () => post('[{'), 400, 'INVALID_JSON'],
    ['an object', () => post({ lignes: [] }), 400, 'INVALID_FORMAT'],
    ['501 sales', () => post(Array.from({ length: 501 }, () => ({ lignes: [{ article_id: 6 }] }))), 413, 'BATCH_TOO_LARGE'],
  ])('%s gets the same request-level error as the server, and nothing is held', async (_label, send, status, code) => {
    const res = await send();
    expect(res.statusCode).toBe(status);
    expect(res.json().code).toBe(code);
    expect(store.summary()).toEqual([]);
  });

  it('a body over 5 MiB is 413 naming what to send in batches: sales on the sales endpoint, returns on the returns one', async () => {
    const padding = 'x'.repeat(5 * 1024 * 1024);
    const tooBig = (url: string) =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL }, payload: JSON.stringify([{ padding }]) });
    const ventes = await tooBig(SYNC);
    expect([ventes.statusCode, ventes.json().code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(ventes.json().error).toContain('Envoyez les ventes par lots.');
    const retours = await tooBig('/api/v2/simple/ventes/retours/');
    expect([retours.statusCode, retours.json().code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(retours.json().error).toContain('Envoyez les retours par lots.');
    expect(store.summary()).toEqual([]);
    expect(store.retours.summary().en_attente).toBe(0);
  });

  it('a terminal the server does not know is 404 TERMINAL_NOT_FOUND', async () => {
    const res = await post([{ lignes: [{ article_id: 6 }] }], 'inconnu');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' });
    expect(store.summary()).toEqual([]);
  });

  it('validates each sale like the server: a bad one is INVALID_SALE with its 1-based index, the others are held', async () => {
    const res = await post([{ lignes: [{ article_id: 6, quantite: 0 }] }, { numero_facture: 'OK-2', lignes: [{ article_id: 6 }] }]);
    expect(res.statusCode).toBe(201);
    expect(res.json().ventes_erreurs).toEqual([
      { index: 1, numero_facture: null, erreur: expect.stringContaining('quantite'), code: 'INVALID_SALE' },
    ]);
    expect(store.byStatut('EN_ATTENTE').map((v) => v.numero_facture)).toEqual(['OK-2']);
  });

  it('gives a sale without numero a stable numero before storing it, carried in the stored sale', async () => {
    const res = await post([{ lignes: [{ article_id: 6 }] }]);
    const numero = res.json().ventes_creees[0].numero_facture as string;
    expect(numero).toMatch(/^VENTE-2-20251029024500-0-R[0-9a-f]{6}$/);
    const [held] = store.byStatut('EN_ATTENTE');
    expect(JSON.parse(held!.contenu)).toMatchObject({ numero_facture: numero, date_vente: '2025-10-29T02:45:00.000Z' });
  });

  it('a numero the relay already holds for the boutique is a DUPLICATE, identique when the content is the same', async () => {
    const sale = { numero_facture: 'D-1', lignes: [{ article_id: 6, quantite: 2 }] };
    await post([sale]);
    const same = await post([sale]);
    expect(same.statusCode).toBe(200);
    expect(same.json().ventes_erreurs[0]).toMatchObject({ index: 1, code: 'DUPLICATE', identique: true, vente_existante: { numero_facture: 'D-1' } });
    const other = await post([{ ...sale, lignes: [{ article_id: 6, quantite: 3 }] }]);
    expect(other.json().ventes_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    const inRequest = await post([{ numero_facture: 'D-2', lignes: [{ article_id: 6 }] }, { numero_facture: 'D-2', lignes: [{ article_id: 6 }] }]);
    expect(inRequest.json().statistiques).toEqual({ total_envoyees: 2, reussies: 1, erreurs: 1 });
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(2);
  });

  it('keeps taking sales when the server is down, trusting a new till until the server can judge it', async () => {
    await stopServer();
    const res = await post([{ numero_facture: 'OFF-1', lignes: [{ article_id: 6, prix_unitaire: 100 }] }], 'caisse-neuve');
    expect(res.statusCode).toBe(201);
    expect(res.json().ventes_creees[0]).toMatchObject({ numero_facture: 'OFF-1', montant_total: '100.00', statut: 'EN_ATTENTE' });
    expect(store.terminal('caisse-neuve')?.statut).toBe('NON_VERIFIE');
  });
});

describe('relay: read endpoints', () => {
  it('forwards GET articles and caches the catalogue; when the server is away it serves the cache, marked as such', async () => {
    const live = await app.inject({ method: 'GET', url: '/api/v2/simple/articles/', headers: { 'x-device-serial': SERIAL } });
    expect(live.statusCode).toBe(200);
    expect(live.json().source).toBeUndefined();
    await stopServer();
    const cached = await app.inject({ method: 'GET', url: '/api/v2/simple/articles/', headers: { 'x-device-serial': SERIAL } });
    expect(cached.statusCode).toBe(200);
    expect(cached.json()).toMatchObject({
      success: true,
      boutique_id: 2,
      articles: [
        { id: 6, nom: 'Samsung S24', prix_vente: '40000.00', quantite_stock: 1_000_000 },
        { id: 7, nom: 'Écouteurs Bluetooth', prix_vente: '25000.00', quantite_stock: 100 },
      ],
      source: 'cache',
      cache_mis_a_jour: expect.any(String),
    });
    const stats = await app.inject({ method: 'GET', url: '/api/v2/simple/statistiques/', headers: { 'x-device-serial': SERIAL } });
    expect(stats.statusCode).toBe(503);
    expect(stats.json().code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it("a read the relay answers 503 with a wait (its signer out of seconds) gives the till that Retry-After", async () => {
    await app.close();
    const real = createUpstream(upstreamUrl, agent);
    const upstream = {
      ...real,
      get: async () => ({ kind: 'response' as const, status: 503, body: { code: 'SERVICE_UNAVAILABLE', error: 'Relais occupé' }, retryAfterMs: 1_000 }),
    };
    const now = () => new Date('2025-10-29T02:45:00Z');
    app = await buildRelayApp({ store, upstream, forwarder, directory: createTerminalDirectory(store, real, now), logger: false, now });
    const res = await app.inject({ method: 'GET', url: '/api/v2/simple/statistiques/', headers: { 'x-device-serial': SERIAL } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().code).toBe('SERVICE_UNAVAILABLE');
  });

  it('without a cached catalogue and without the server, articles is a clear 503', async () => {
    await stopServer();
    const res = await app.inject({ method: 'GET', url: '/api/v2/simple/articles/', headers: { 'x-device-serial': 'jamais-vu' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', error: expect.stringContaining('injoignable') });
  });

  it("refreshes every boutique's cached catalogue from one of its tills", async () => {
    await post([{ numero_facture: 'CAT-1', lignes: [{ article_id: 6 }] }]);
    store.replaceCatalogue(2, [], new Date('2020-01-01T00:00:00Z'), () => 0);
    expect(store.catalogue(2)).toEqual([]);
    await createTerminalDirectory(store, createUpstream(upstreamUrl, agent)).refreshCatalogues();
    expect(store.catalogue(2)).toEqual([
      { article_id: 6, nom: 'Samsung S24', prix_vente: 4_000_000, quantite_stock: 1_000_000 },
      { article_id: 7, nom: 'Écouteurs Bluetooth', prix_vente: 2_500_000, quantite_stock: 100 },
    ]);
    expect(store.catalogueUpdated(2)).not.toBe('2020-01-01T00:00:00.000Z');
  });

  it('POST /relay/sync is for this machine only', async () => {
    const local = await app.inject({ method: 'POST', url: '/relay/sync', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
    const remote = await app.inject({ method: 'POST', url: '/relay/sync', remoteAddress: '192.0.2.50' });
    expect(remote.statusCode).toBe(403);
  });
});

describe('relay: a busy relay file never costs a till its sale or a 500', () => {
  let dir: string;
  let file: string;
  let other: Database.Database;

  beforeEach(async () => {
    await app.close();
    dir = mkdtempSync(join(tmpdir(), 'ventesync-relay-app-'));
    file = join(dir, 'relay.db');
    relayDb = openDatabase(file);
    store = createRelayStore(relayDb);
    await build(upstreamUrl);
    // Another program on the same file (the staff CLI): it never waits, so a conflict shows at once.
    other = new Database(file);
    other.pragma('busy_timeout = 0');
  });
  afterEach(() => {
    other.close();
    relayDb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the sale when another connection writes between intake's reads and its write", async () => {
    const insert = store.insertVente;
    let otherCommitted: boolean | null = null;
    store.insertVente = (v) => {
      // What `retry` or `discard` does from the CLI, right at the worst moment.
      try {
        other.prepare("INSERT INTO etat (cle, valeur) VALUES ('cli', 'x') ON CONFLICT (cle) DO UPDATE SET valeur = 'y'").run();
        otherCommitted = true;
      } catch {
        otherCommitted = false;
      }
      return insert(v);
    };
    const res = await post([{ numero_facture: 'BUSY-1', lignes: [{ article_id: 6 }] }]);
    expect(res.statusCode).toBe(201);
    expect(otherCommitted).toBe(false);
    expect(store.byNumero('BUSY-1')).toHaveLength(1);
  });

  it('while another connection holds the write lock, the till gets 503 with Retry-After, and nothing is half-written', async () => {
    relayDb.pragma('busy_timeout = 50');
    other.exec('BEGIN IMMEDIATE');
    const res = await post([{ numero_facture: 'LOCK-1', lignes: [{ article_id: 6 }] }]);
    other.exec('ROLLBACK');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.json()).toMatchObject({ code: expect.any(String), error: expect.any(String) });
    expect(store.byNumero('LOCK-1')).toEqual([]);
    const again = await post([{ numero_facture: 'LOCK-1', lignes: [{ article_id: 6 }] }]);
    expect(again.statusCode).toBe(201);
  });
});

describe('relay: storage trouble is said to the till with its own status, never a 500', () => {
  it.each([
    ['SQLITE_BUSY_SNAPSHOT', 503],
    ['SQLITE_BUSY_RECOVERY', 503],
    ['SQLITE_FULL', 507],
  ])('%s → %i with Retry-After, nothing held', async (code, status) => {
    store.insertVente = () => {
      throw Object.assign(new Error(code), { code });
    };
    const res = await post([{ numero_facture: 'ERR-1', lignes: [{ article_id: 6 }] }]);
    expect(res.statusCode).toBe(status);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.json()).toEqual({ error: expect.any(String), code: expect.any(String) });
    expect(store.byNumero('ERR-1')).toEqual([]);
  });

  it("a full disk is the shop computer's, not the central server's: the 507 says so", async () => {
    store.insertVente = () => {
      throw Object.assign(new Error('SQLITE_FULL'), { code: 'SQLITE_FULL' });
    };
    const res = await post([{ numero_facture: 'ERR-2', lignes: [{ article_id: 6 }] }]);
    expect(res.statusCode).toBe(507);
    expect(res.json().error).toMatch(/^Le disque de l'ordinateur du relais, en boutique, est plein/);
    expect(res.json().error).toContain('prévenez le responsable de la boutique');
    expect(res.json().error).not.toContain('du serveur');
  });
});

describe('relay: a till the server has disabled', () => {
  it("gets the server's 404 for its new sales once the relay knows; the sales it already holds keep waiting", async () => {
    expect((await post([{ numero_facture: 'HELD-1', lignes: [{ article_id: 6 }] }])).statusCode).toBe(201);
    server!.db.prepare('UPDATE terminaux SET actif = 0 WHERE serial = ?').run(SERIAL);
    await forwarder.runOnce();
    expect(store.terminal(SERIAL)?.statut).toBe('INCONNU');
    const refused = await post([{ numero_facture: 'NEW-1', lignes: [{ article_id: 6 }] }]);
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toEqual({ error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' });
    expect(store.byNumero('NEW-1')).toEqual([]);
    expect(store.byNumero('HELD-1')[0]).toMatchObject({ statut: 'EN_ATTENTE' });
  });
});

describe('relay: what staff commands ask the daemon', () => {
  it('GET /relay/status names the relay file it serves, for this machine only', async () => {
    const local = await app.inject({ method: 'GET', url: '/relay/status', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
    expect(local.json()).toMatchObject({ relais_id: store.relayId(), pid: process.pid });
    const remote = await app.inject({ method: 'GET', url: '/relay/status', remoteAddress: '192.0.2.50' });
    expect(remote.statusCode).toBe(403);
  });

  it("status's question is not written in the shop's log; a person's sync is", async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    await app.close();
    const upstream = createUpstream(upstreamUrl, agent);
    app = await buildRelayApp({ store, upstream, forwarder, directory: createTerminalDirectory(store, upstream), logger });
    await app.inject({ method: 'GET', url: '/relay/status', remoteAddress: '127.0.0.1' });
    await app.inject({ method: 'POST', url: '/relay/sync', remoteAddress: '127.0.0.1' });
    expect(lines.filter((l) => l.includes('/relay/status'))).toEqual([]);
    expect(lines.filter((l) => l.includes('/relay/sync'))).toHaveLength(1);
  });

  it('records the address it really listens on, IPv6 in brackets', async () => {
    await app.listen({ host: '::1', port: 0 });
    const { port } = app.server.address() as { port: number };
    expect(store.getEtat('daemon_url')).toBe(`http://[::1]:${port}`);
  });

  it('sync sends at once the sales waiting out a stock refusal', async () => {
    server!.setStock(6, 0);
    await post([{ numero_facture: 'STOCK-1', lignes: [{ article_id: 6 }] }]);
    await forwarder.runOnce();
    expect(store.byNumero('STOCK-1')[0]).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: 'INSUFFICIENT_STOCK', prochaine_tentative: expect.any(String) });
    server!.setStock(6, 10);
    const res = await app.inject({ method: 'POST', url: '/relay/sync', remoteAddress: '127.0.0.1' });
    expect(res.json()).toMatchObject({ synchronisees: 1 });
    expect(store.byNumero('STOCK-1')[0]!.statut).toBe('SYNCHRONISEE');
  });

  it('the log says which sales a batch brought back refused, and why', async () => {
    const lines: string[] = [];
    const logger = { info: (_o: object, m: string) => lines.push(m), warn: (_o: object, m: string) => lines.push(m), error() {} };
    const loud = createForwarder({ store, upstream: createUpstream(upstreamUrl, agent), config: DEFAULT_FORWARDER_CONFIG, logger });
    await post([
      { numero_facture: 'LOG-1', lignes: [{ article_id: 6 }] },
      { numero_facture: 'LOG-2', lignes: [{ article_id: 404 }] },
    ]);
    await loud.runOnce();
    expect(lines.find((l) => l.startsWith('Lot de 2'))).toMatch(/1 synchronisée.*1 refusée.*LOG-2 \(ARTICLE_NOT_FOUND\) : .*404/);
  });
});
