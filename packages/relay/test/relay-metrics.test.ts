import { pino } from 'pino';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCliProcess } from '../../../test-support/cli-process.js';
import { parsePrometheusText, sampleValue } from '../../../test-support/prometheus-text.js';
import { buildRelayApp } from '../src/app.js';
import { type Db, openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG, type Forwarder } from '../src/forwarder.js';
import { createRelayMetrics } from '../src/relay-metrics.js';
import { BACKLOG_WARN_AGE_S } from '../src/relay-readiness.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type RealServer, SERIAL, startRealServer } from './real-server.js';

const SYNC = '/api/v2/simple/ventes/sync/';
const quiet = { info() {}, warn() {}, error() {} };

let server: RealServer | null;
let dir: string;
let db: Db;
let store: RelayStore;
let forwarder: Forwarder;
let app: Awaited<ReturnType<typeof buildRelayApp>>;
let agent: ReturnType<typeof createAgent>;
let clock: number;
let logLines: Array<Record<string, unknown>>;

const now = () => new Date(clock);

async function build(options: { forwarderOverride?: Partial<Forwarder>; lowDiskWarnBytes?: number; logged?: boolean } = {}) {
  const metrics = createRelayMetrics(db, store, { now, queueReadIntervalMs: 0 });
  agent = createAgent({ connectMs: 500, headersMs: 2_000, bodyMs: 2_000 });
  const upstream = metrics.instrument(createUpstream(server!.url, agent));
  // Timers off: the tests run the forwarder themselves.
  forwarder = createForwarder({
    store,
    upstream,
    config: { ...DEFAULT_FORWARDER_CONFIG, debounceMs: 60_000 },
    logger: quiet,
    now,
    onForwarded: (outcome) => metrics.forwarded(outcome),
  });
  const directory = createTerminalDirectory(store, upstream, now);
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  app = await buildRelayApp({
    store,
    upstream,
    forwarder: { ...forwarder, ...options.forwarderOverride },
    directory,
    logger: options.logged ? pino({ level: 'info' }, stream) : false,
    now,
    monitoring: { metrics, db, lowDiskWarnBytes: options.lowDiskWarnBytes ?? 0 },
  });
}

const post = (ventes: unknown[]) =>
  app.inject({ method: 'POST', url: SYNC, headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL }, payload: JSON.stringify(ventes) });
const vente = (numero: string, articleId = 6, quantite = 1) => ({ numero_facture: numero, mode_paiement: 'CASH', paye: true, lignes: [{ article_id: articleId, quantite }] });

async function scrape() {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  const families = parsePrometheusText(res.body);
  return (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels) ?? 0;
}
const ready = () => app.inject({ method: 'GET', url: '/ready' });

beforeEach(async () => {
  clock = Date.parse('2026-11-25T09:00:00Z');
  logLines = [];
  server = await startRealServer();
  dir = mkdtempSync(join(tmpdir(), 'ventesync-relay-metrics-'));
  db = openDatabase(join(dir, 'relais.db'));
  store = createRelayStore(db);
});
afterEach(async () => {
  await app.close();
  await agent.close();
  await server?.close();
  server = null;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('relay metrics', () => {
  it('the queue, the forwards and the last success move as sales flow', async () => {
    await build();
    const before = await scrape();
    expect(before('ventesync_relay_queue_sales', { state: 'en_attente' })).toBe(0);
    expect(before('ventesync_relay_forwards_total', { outcome: 'answered' })).toBe(0);
    expect(before('ventesync_relay_last_success_timestamp_seconds')).toBe(0);

    expect((await post([vente('R-1'), vente('R-2'), vente('R-3'), vente('R-4', 7, 500)])).statusCode).toBe(201);
    clock += 90_000;
    const held = await scrape();
    expect(held('ventesync_relay_queue_sales', { state: 'en_attente' })).toBe(4);
    expect(held('ventesync_relay_oldest_pending_age_seconds')).toBe(90);

    const report = await forwarder.runOnce();
    expect(report).toMatchObject({ synchronisees: 3, en_attente_stock: 1 });
    const after = await scrape();
    expect(after('ventesync_relay_forwards_total', { outcome: 'answered' })).toBe(1);
    expect(after('ventesync_relay_forwarded_sales_total', { outcome: 'synced' })).toBe(3);
    expect(after('ventesync_relay_forwarded_sales_total', { outcome: 'stock' })).toBe(1);
    // The one refused for stock still waits; the others are on the server.
    expect(after('ventesync_relay_queue_sales', { state: 'en_attente' })).toBe(1);
    expect(server!.numeros()).toEqual(['R-1', 'R-2', 'R-3']);
    expect(after('ventesync_relay_last_success_timestamp_seconds')).toBe(clock / 1000);
    expect(after('ventesync_relay_server_reachable')).toBe(1);
    expect(after('ventesync_relay_upstream_duration_seconds_count', { operation: 'sync', outcome: 'response' })).toBeGreaterThanOrEqual(1);
  });

  it('the server away: the forward is counted as retry and the request to it as a network error', async () => {
    await build();
    await server!.close();
    server = null;
    expect((await post([vente('LOIN-1')])).statusCode).toBe(201);
    await forwarder.runOnce();
    const m = await scrape();
    expect(m('ventesync_relay_forwards_total', { outcome: 'retry' })).toBe(1);
    expect(m('ventesync_relay_upstream_duration_seconds_count', { operation: 'sync', outcome: 'network_error' })).toBe(1);
    expect(m('ventesync_relay_server_reachable')).toBe(0);
    expect(m('ventesync_relay_queue_sales', { state: 'en_attente' })).toBe(1);
  });

  it('returns held by the relay are counted apart from sales, and the oldest waiting one ages the queue', async () => {
    await build();
    const give = (numero: string, facture: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v2/simple/ventes/retours/',
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        payload: JSON.stringify([{ numero_retour: numero, numero_facture: facture, lignes: [{ article_id: 6, quantite: 1 }] }]),
      });
    expect((await give('RM-1', 'JAMAIS-VENDUE')).statusCode).toBe(201);
    clock += 120_000;
    expect((await give('RM-2', 'JAMAIS-VENDUE-2')).statusCode).toBe(201);
    const held = await scrape();
    expect(held('ventesync_relay_queue_returns', { state: 'en_attente' })).toBe(2);
    expect(held('ventesync_relay_queue_sales', { state: 'en_attente' })).toBe(0);
    expect(held('ventesync_relay_oldest_pending_age_seconds')).toBe(120);

    // The server knows neither sale: both refused, for a person to decide.
    await forwarder.runOnce();
    const after = await scrape();
    expect(after('ventesync_relay_queue_returns', { state: 'rejetee' })).toBe(2);
    expect(after('ventesync_relay_queue_returns', { state: 'en_attente' })).toBe(0);
    expect(after('ventesync_relay_oldest_pending_age_seconds')).toBe(0);
    expect(after('ventesync_relay_upstream_duration_seconds_count', { operation: 'retours', outcome: 'response' })).toBeGreaterThanOrEqual(1);
    expect(store.retours.summary()).toMatchObject({ rejetes: 2 });
  });

  it('scraped 100 times: valid every time, the same series', async () => {
    await build();
    await post([vente('S-1')]);
    const series = async () => {
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      return [...parsePrometheusText(res.body).values()].flatMap((f) => f.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`)).sort();
    };
    await series();
    const first = await series();
    for (let i = 0; i < 100; i++) await series();
    expect(await series()).toEqual(first);
  });

  it('the queue is read from the file at most once per interval, however often it is scraped', async () => {
    await build();
    let t = 0;
    const metrics = createRelayMetrics(db, store, { now, monotonic: () => t, queueReadIntervalMs: 1_000 });
    expect(metrics.queue().en_attente).toBe(0);
    await post([vente('Q-1')]);
    expect(metrics.queue().en_attente).toBe(0);
    t += 1_000;
    expect(metrics.queue().en_attente).toBe(1);
  });
});

describe('relay /ready', () => {
  it('a sound relay with the server there passes, version and uptime included', async () => {
    await build();
    await post([vente('OK-1')]);
    await forwarder.runOnce();
    const res = await ready();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'pass',
      checks: {
        database: { status: 'pass' },
        disk: { status: 'pass' },
        serveur: { status: 'pass', message: expect.stringContaining('joignable') },
        backlog: { status: 'pass', en_attente: 0 },
      },
      version: '0.1.0',
      uptime_s: 0,
    });
  });

  it('the server away and sales waiting long: warn, still 200 (the relay is there for that)', async () => {
    await build();
    await server!.close();
    server = null;
    await post([vente('ATTENTE-1')]);
    await forwarder.runOnce();
    clock += (BACKLOG_WARN_AGE_S + 60) * 1000;
    const res = await ready();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'warn',
      checks: {
        database: { status: 'pass' },
        serveur: { status: 'warn', message: expect.stringContaining('injoignable') },
        backlog: { status: 'warn', en_attente: 1, message: expect.stringContaining('depuis 16 min') },
      },
    });
  });

  it('a full disk fails, 503', async () => {
    await build();
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'fail', checks: { database: { status: 'fail', message: expect.stringContaining('disque plein') } } });
  });

  it("a till's sale refused for a full disk: /ready fails, the page is red and says so; a sale written again clears it", async () => {
    await build();
    expect((await post([vente('AVANT-1')])).statusCode).toBe(201);
    // No free page left to absorb the next sale: the file is full for it.
    db.exec('VACUUM');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const refused = await post(Array.from({ length: 40 }, (_, i) => vente(`PLEIN-${i}`)));
    expect(refused.statusCode).toBe(507);
    expect(store.byStatut('EN_ATTENTE', null, 100).map((v) => v.numero_facture)).toEqual(['AVANT-1']);
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ checks: { database: { status: 'fail', message: expect.stringContaining('Le disque de ce PC est plein') } } });
    const page = (await app.inject({ method: 'GET', url: '/etat' })).json() as { feu: string; raisons: string[] };
    expect(page.feu).toBe('rouge');
    expect(page.raisons.join(' ')).toContain('Le disque de ce PC est plein : les ventes ne sont plus enregistrées');

    db.pragma('max_page_count = 1073741823');
    expect((await post([vente('APRES-1')])).statusCode).toBe(201);
    expect((await ready()).json()).toMatchObject({ checks: { database: { status: 'pass' } } });
    expect(store.getEtat('ecriture_impossible')).toBeNull();
    // The page reuses its view for a moment: no longer red within a few seconds (the sales may already be sent).
    const deadline = Date.now() + 10_000;
    let feu = '';
    while ((feu = ((await app.inject({ method: 'GET', url: '/etat' })).json() as { feu: string }).feu) === 'rouge' && Date.now() < deadline) await sleep(50);
    expect(feu).not.toBe('rouge');
  });

  it('a server answering but failing every sale (the forwarder says it broken) is not reachable: /ready warns, the gauge is 0, /health says so', async () => {
    await build();
    store.recordServerAnswered(true, now());
    expect((await scrape())('ventesync_relay_server_reachable')).toBe(1);
    store.setEtat('serveur_en_panne', JSON.stringify({ depuis: now().toISOString(), raison: 'HTTP 502' }));
    expect((await ready()).json()).toMatchObject({
      checks: { serveur: { status: 'warn', message: expect.stringContaining('répond mais refuse toutes les ventes') } },
    });
    expect((await scrape())('ventesync_relay_server_reachable')).toBe(0);
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ serveur_joignable: false });
  });

  it('a read-only relay file fails, 503', async () => {
    await build();
    db.pragma('query_only = ON');
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'fail', checks: { database: { status: 'fail', message: expect.stringContaining('lecture seule') } } });
  });

  it('the forwarder could not write its results (disk full): fail, with its words', async () => {
    const since = new Date('2026-11-25T08:00:00Z');
    await build({ forwarderOverride: { writeTrouble: () => ({ since, message: 'Disque plein : le relais ne peut plus rien écrire' }) } });
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ checks: { database: { status: 'fail', message: expect.stringContaining('Disque plein') } } });
  });
});

describe('relay request log', () => {
  it('one line per till request, as on the server: method, route, status, duration, serial, and the sync counts', async () => {
    await build({ logged: true });
    expect((await post([vente('LOG-1'), vente('LOG-2')])).statusCode).toBe(201);
    expect((await post([vente('LOG-1')])).statusCode).toBe(200);
    const lines = logLines.filter((l) => l.route === SYNC);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, method: 'POST', status: 201, serial: SERIAL, recues: 2, gardees: 2, doublons: 0, refusees: 0, duration_ms: expect.any(Number) });
    expect(lines[0]!.msg).toMatch(/2 vente\(s\) gardée\(s\) par le relais/);
    expect(lines[1]).toMatchObject({ status: 200, recues: 1, gardees: 0, doublons: 1 });
    // The duplicate is also said at warn, like the server says it.
    expect(logLines.some((l) => l.level === 40 && l.numero_facture === 'LOG-1' && l.code === 'DUPLICATE')).toBe(true);
    // A request to the relay's other routes gets its line too.
    await app.inject({ method: 'GET', url: '/health' });
    expect(logLines.filter((l) => l.route === '/health' && l.status === 200)).toHaveLength(1);
  });
});

describe('the relay daemon', () => {
  it('serves /metrics and /ready; its forwards are counted as the sales reach the server', async () => {
    await build();
    const serverCli = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
    const relayCli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const central = await startCliProcess(serverCli, ['serve', '--demo', '--db', join(dir, 'serveur.db'), '--host', '127.0.0.1', '--port', '0']);
    const relay = await startCliProcess(relayCli, [
      'start', '--upstream', central.url, '--db', join(dir, 'daemon.db'), '--host', '127.0.0.1', '--port', '0', '--interval', '1s',
    ]);
    try {
      const res = await request(`${relay.url}${SYNC}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        body: JSON.stringify([vente('DAEMON-1'), vente('DAEMON-2')]),
      });
      expect(res.statusCode).toBe(201);
      await res.body.dump();
      const metric = async (name: string, labels: Record<string, string> = {}) => {
        const answer = await request(`${relay.url}/metrics`);
        expect(answer.statusCode).toBe(200);
        return sampleValue(parsePrometheusText(await answer.body.text()), name, labels) ?? 0;
      };
      const deadline = Date.now() + 20_000;
      // The queue is read from the file at most once a second: it shows empty soon after.
      const settled = async () =>
        (await metric('ventesync_relay_forwarded_sales_total', { outcome: 'synced' })) === 2 &&
        (await metric('ventesync_relay_queue_sales', { state: 'en_attente' })) === 0 &&
        (await metric('ventesync_relay_last_success_timestamp_seconds')) > 0;
      while (!(await settled())) {
        if (Date.now() > deadline) throw new Error('les 2 ventes ne sont pas comptées comme synchronisées, file vide');
        await sleep(100);
      }
      expect(await metric('ventesync_relay_upstream_duration_seconds_count', { operation: 'sync', outcome: 'response' })).toBeGreaterThanOrEqual(1);
      const readiness = await request(`${relay.url}/ready`);
      const body = (await readiness.body.json()) as { status: string; checks: Record<string, { status: string }> };
      expect(readiness.statusCode).toBe(200);
      // The machine's free space decides `disk`; the rest is the relay's own state.
      expect(body.checks).toMatchObject({ database: { status: 'pass' }, serveur: { status: 'pass' }, backlog: { status: 'pass' } });
    } finally {
      await relay.stop();
      await central.stop();
    }
  });
});
