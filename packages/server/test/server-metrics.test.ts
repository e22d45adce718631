import { SYNC_PATH } from '@ventesync/shared';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { runCli, startServer } from './child-server.js';
import { parsePrometheusText, sampleValue } from '../../../test-support/prometheus-text.js';
import { OTHER_SERIAL, openTestDb, SERIAL, SYNC, tempDir, vente } from './helpers.js';

const TOKEN = 'jeton-des-metriques-0123456789';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function metricsApp(options: { metricsToken?: string } = { metricsToken: TOKEN }) {
  const db = openTestDb();
  const app = await buildApp({ db, logger: false, ...options });
  cleanups.push(async () => {
    await app.close();
    db.close();
  });
  const sync = (body: unknown, serial = SERIAL) =>
    app.inject({ method: 'POST', url: SYNC, headers: { 'content-type': 'application/json', 'x-device-serial': serial }, payload: JSON.stringify(body) });
  const scrape = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    const families = parsePrometheusText(res.body);
    return (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels) ?? 0;
  };
  return { app, db, sync, scrape };
}

describe('server metrics', () => {
  it('the counters move as sales flow: created, duplicate, rejected by code, per boutique, batch sizes and commits', async () => {
    const { db, sync, scrape } = await metricsApp();
    const before = await scrape();
    expect(before('ventesync_sales_received_total', { outcome: 'created' })).toBe(0);
    expect(before('ventesync_build_info', { version: '0.1.0' })).toBe(1);

    expect((await sync([vente('M-1', [{ article_id: 6 }]), vente('M-2', [{ article_id: 7 }])])).statusCode).toBe(201);
    const second = await sync([
      vente('M-1', [{ article_id: 6 }]), // the same sale again: DUPLICATE
      vente('M-3', [{ article_id: 9 }]),
      vente('M-4', [{ article_id: 10, quantite: 50 }]), // 2 in stock: INSUFFICIENT_STOCK
      vente('M-5', [{ article_id: 8 }]), // boutique 3's article: ARTICLE_NOT_FOUND
    ]);
    expect(second.statusCode).toBe(201);
    expect((await sync([vente('G-1', [{ article_id: 8 }])], OTHER_SERIAL)).statusCode).toBe(201);

    const after = await scrape();
    expect(after('ventesync_sales_received_total', { outcome: 'created' })).toBe(4);
    expect(after('ventesync_sales_received_total', { outcome: 'duplicate', code: 'DUPLICATE' })).toBe(1);
    expect(after('ventesync_sales_received_total', { outcome: 'rejected', code: 'INSUFFICIENT_STOCK' })).toBe(1);
    expect(after('ventesync_sales_received_total', { outcome: 'rejected', code: 'ARTICLE_NOT_FOUND' })).toBe(1);
    expect(after('ventesync_boutique_sales_total', { boutique: '2' })).toBe(3);
    expect(after('ventesync_boutique_sales_total', { boutique: '3' })).toBe(1);
    // What the counters say is what the database holds.
    expect(db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(4);

    expect(after('ventesync_sync_batch_sales_count')).toBe(3);
    expect(after('ventesync_sync_batch_sales_sum')).toBe(7);
    expect(after('ventesync_sync_batch_sales_bucket', { le: '2' })).toBe(2);
    // Three requests, one after the other: three groups, each committed.
    expect(after('ventesync_commit_duration_seconds_count')).toBe(3);
    expect(after('ventesync_commit_duration_seconds_sum')).toBeGreaterThan(0);
    // The route's pattern, not the URL as sent.
    expect(after('ventesync_http_request_duration_seconds_count', { method: 'POST', route: SYNC_PATH, status: '201' })).toBe(3);
  });

  it('the database size is read when scraped: page_count × page_size', async () => {
    const { db, sync, scrape } = await metricsApp();
    const size = () => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    expect((await scrape())('ventesync_database_size_bytes')).toBe(size());
    const big = Array.from({ length: 200 }, (_, i) => vente(`TAILLE-${i}`, [{ article_id: 9 }]));
    expect((await sync(big)).statusCode).toBe(201);
    const grown = (await scrape())('ventesync_database_size_bytes');
    expect(grown).toBe(size());
    expect(grown).toBeGreaterThan(0);
  });

  it('without a token, the server has no /metrics at all', async () => {
    const { app } = await metricsApp({});
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('over real HTTP: curl with the token gets valid exposition text, without it 403', async () => {
    const { app, sync } = await metricsApp();
    await sync([vente('HTTP-1', [{ article_id: 6 }])]);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const refused = await request(`${url}/metrics`);
    expect(refused.statusCode).toBe(403);
    await refused.body.dump();
    const res = await request(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    const families = parsePrometheusText(await res.body.text());
    expect(sampleValue(families, 'ventesync_sales_received_total', { outcome: 'created' })).toBe(1);
    expect(sampleValue(families, 'ventesync_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('scraped 100 times: every answer valid and the same series each time (no growth)', async () => {
    const { sync, app } = await metricsApp();
    await sync([vente('BOUCLE-1', [{ article_id: 6 }])]);
    const scrapeText = async () => {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(200);
      return parsePrometheusText(res.body);
    };
    await scrapeText();
    const seriesOf = (families: Awaited<ReturnType<typeof scrapeText>>) =>
      [...families.values()].flatMap((f) => f.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`)).sort();
    const first = seriesOf(await scrapeText());
    for (let i = 0; i < 100; i++) await scrapeText();
    expect(seriesOf(await scrapeText())).toEqual(first);
  });
});

describe('serve --metrics-token-file', () => {
  it('serves /metrics to the token in the file; a token too short stops the start with the reason', async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.cleanup());
    const db = join(tmp.dir, 'serveur.db');
    writeFileSync(join(tmp.dir, 'court'), 'abc\n');
    writeFileSync(join(tmp.dir, 'jeton'), `${TOKEN}\n`);

    const refused = runCli(['serve', '--db', db, '--port', '0', '--host', '127.0.0.1', '--metrics-token-file', join(tmp.dir, 'court')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('jeton des métriques trop court');

    const server = await startServer(db, ['--demo', '--metrics-token-file', join(tmp.dir, 'jeton')]);
    cleanups.push(() => server.stop());
    const res = await request(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(sampleValue(parsePrometheusText(await res.body.text()), 'ventesync_build_info', { version: '0.1.0' })).toBe(1);
    const anonymous = await request(`${server.url}/metrics`);
    expect(anonymous.statusCode).toBe(403);
    await anonymous.body.dump();
  });
});
