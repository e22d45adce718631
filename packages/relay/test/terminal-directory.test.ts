import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type RealServer, SERIAL, startRealServer } from './real-server.js';

const quiet = { info() {}, warn() {}, error() {} };
let server: RealServer;
let proxy: FaultProxy;
let store: RelayStore;
const agent = createAgent({ connectMs: 500, headersMs: 2_000, bodyMs: 2_000 });

const isArticles = (path: string) => path.startsWith('/api/v2/simple/articles');
const GARBAGE = [
  { success: true, boutique_id: 2, articles: [{ id: 'six', nom: null, prix_vente: 'gratuit', quantite_stock: -1.5 }] },
  { success: true, boutique_id: '2', articles: [] },
  [1, 2, 3],
  null,
  '<html>portail captif</html>',
];

beforeEach(async () => {
  server = await startRealServer();
  proxy = await startFaultProxy(server.url);
  store = createRelayStore(openDatabase(':memory:'));
});
afterEach(async () => {
  await proxy.close();
  await server.close();
});

describe('terminal directory: the catalogue cache', () => {
  it.each(GARBAGE)('a catalogue answer that does not read (%j) is not cached: the last good copy stays', async (garbage) => {
    const directory = createTerminalDirectory(store, createUpstream(proxy.url, agent));
    expect(await directory.refresh(SERIAL)).toBe('known');
    const before = store.catalogue(2);
    const updated = store.catalogueUpdated(2);
    expect(before.map((a) => a.nom)).toEqual(['Samsung S24', 'Écouteurs Bluetooth']);

    proxy.readRules.push((path) => (isArticles(path) ? { kind: 'answer', status: 200, body: garbage } : null));
    expect(await directory.refresh(SERIAL)).toBe('unreachable');
    expect(store.catalogue(2)).toEqual(before);
    expect(store.catalogueUpdated(2)).toBe(updated);
  });

  it('a 404 with no JSON body is read as the server being unhelpful, not as a crash', async () => {
    proxy.readRules.push((path) => (isArticles(path) ? { kind: 'answer', status: 404, body: 'null' } : null));
    const directory = createTerminalDirectory(store, createUpstream(proxy.url, agent));
    expect(await directory.refresh(SERIAL)).toBe('unreachable');
  });

  it.each(GARBAGE)('a new till gets its 201 for a valid sale even when the catalogue answer is garbage (%j)', async (garbage) => {
    proxy.readRules.push((path) => (isArticles(path) ? { kind: 'answer', status: 200, body: garbage } : null));
    const upstream = createUpstream(proxy.url, agent);
    const forwarder = createForwarder({ store, upstream, config: { ...DEFAULT_FORWARDER_CONFIG, debounceMs: 60_000 }, logger: quiet });
    const app = await buildRelayApp({ store, upstream, forwarder, directory: createTerminalDirectory(store, upstream), logger: false });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v2/simple/ventes/sync/',
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        payload: JSON.stringify([{ numero_facture: 'CAT-1', lignes: [{ article_id: 6, quantite: 1 }] }]),
      });
      expect(res.statusCode).toBe(201);
      expect(store.byNumero('CAT-1')).toHaveLength(1);
      expect(store.catalogue(2)).toEqual([]);
    } finally {
      await app.close();
      await forwarder.stop();
    }
  });
});

describe('terminal directory: checking a new till with the server', () => {
  it('reads with serials the server does not know leave no till in the relay: answered 404, not listed', async () => {
    const upstream = createUpstream(proxy.url, agent);
    const forwarder = createForwarder({ store, upstream, config: { ...DEFAULT_FORWARDER_CONFIG, debounceMs: 60_000 }, logger: quiet });
    const app = await buildRelayApp({ store, upstream, forwarder, directory: createTerminalDirectory(store, upstream), logger: false });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await app.inject({ method: 'GET', url: '/api/v2/simple/articles/', headers: { 'x-device-serial': `junk-${i % 5}` } });
        expect(res.statusCode).toBe(404);
      }
      expect(store.terminaux()).toEqual([]);
      // A real till's read still makes it known, with its boutique.
      const real = await app.inject({ method: 'GET', url: '/api/v2/simple/articles/', headers: { 'x-device-serial': SERIAL } });
      expect(real.statusCode).toBe(200);
      expect(store.terminaux().map((t) => [t.serial, t.statut, t.boutique_id])).toEqual([[SERIAL, 'CONNU', 2]]);
    } finally {
      await app.close();
      await forwarder.stop();
    }
  });


  it('a till refused by the server is checked again after a minute, even if the wall clock was set back meanwhile', async () => {
    let wall = Date.parse('2026-03-10T12:00:00Z');
    const directory = createTerminalDirectory(store, createUpstream(proxy.url, agent), () => new Date(wall));
    proxy.readRules.push((path) => (isArticles(path) ? { kind: 'answer', status: 404, body: { error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' } } : null));
    expect(await directory.find(SERIAL)).toBeUndefined();
    proxy.readRules.length = 0;
    wall += 10_000;
    expect(await directory.find(SERIAL)).toBeUndefined();
    wall -= 24 * 3_600_000;
    expect(await directory.find(SERIAL)).toMatchObject({ serial: SERIAL, boutique_id: 2 });
  });
});
