import { describe, expect, it } from 'vitest';
import { createApiServer } from '../src/http/index.js';
import {
  bearerMatches,
  cachedProbe,
  type Check,
  Counter,
  createMetricsRegistry,
  diskSpaceCheck,
  Histogram,
  readMetricsToken,
  registerHttpMetrics,
  registerMetricsRoute,
  registerReadyRoute,
  UNMATCHED_ROUTE,
  worstOf,
  writeProbeCheck,
} from '../src/metrics/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrometheusText, sampleValue, seriesCount } from '../../../test-support/prometheus-text.js';

const TOKEN = 'jeton-de-test-0123456789';

async function appWithMetrics(token?: string) {
  const app = createApiServer(false);
  const registry = createMetricsRegistry('1.2.3');
  registerHttpMetrics(app, registry);
  registerMetricsRoute(app, registry, token === undefined ? {} : { token });
  app.get('/articles/:id', async () => ({ ok: true }));
  await app.ready();
  const scrape = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: token ? { authorization: `Bearer ${token}` } : {} });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(res.body);
  };
  return { app, registry, scrape };
}

describe('the exposition text reader used by the tests', () => {
  it('reads what prom-client writes, every type, and refuses what a scraper would', async () => {
    const registry = createMetricsRegistry('1.0.0');
    new Counter({ name: 'ventesync_t_total', help: 'h', labelNames: ['code'], registers: [registry] }).inc({ code: 'a"b\\c\nd' }, 2);
    new Histogram({ name: 'ventesync_t_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
    const families = parsePrometheusText(await registry.metrics());
    expect(sampleValue(families, 'ventesync_t_total', { code: 'a"b\\c\nd' })).toBe(2);
    expect(sampleValue(families, 'ventesync_t_seconds_bucket', { le: '0.1' })).toBe(0);
    expect(sampleValue(families, 'ventesync_t_seconds_bucket', { le: '+Inf' })).toBe(1);
    expect(sampleValue(families, 'ventesync_build_info', { version: '1.0.0' })).toBe(1);

    expect(() => parsePrometheusText('x 1')).toThrow(/saut de ligne/);
    expect(() => parsePrometheusText('x{a="1} 1\n')).toThrow();
    expect(() => parsePrometheusText('x{a=1} 1\n')).toThrow(/guillemet/);
    expect(() => parsePrometheusText('x un\n')).toThrow(/valeur/);
    expect(() => parsePrometheusText('x 1\nx 2\n')).toThrow(/double/);
    expect(() => parsePrometheusText('x 1\ny 1\nx{a="b"} 1\n')).toThrow(/morceaux/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n')).toThrow(/\+Inf/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n')).toThrow(/cumulés/);
    expect(() => parsePrometheusText('# un commentaire\n')).toThrow(/commentaire/);
  });
});

describe('GET /metrics', () => {
  it('counts requests by route pattern and status, never by the URL as sent', async () => {
    const { app, scrape } = await appWithMetrics();
    try {
      await app.inject({ method: 'GET', url: '/articles/6?x=1' });
      await app.inject({ method: 'GET', url: '/articles/7' });
      await app.inject({ method: 'GET', url: '/nulle-part/123' });
      const families = await scrape();
      const family = families.get('ventesync_http_request_duration_seconds')!;
      expect(family.type).toBe('histogram');
      expect(sampleValue(families, 'ventesync_http_request_duration_seconds_count', { route: '/articles/:id', status: '200', method: 'GET' })).toBe(2);
      expect(sampleValue(families, 'ventesync_http_request_duration_seconds_count', { route: UNMATCHED_ROUTE, status: '404' })).toBe(1);
      const routes = new Set(family.samples.map((s) => s.labels.route));
      expect([...routes].sort()).toEqual(['/articles/:id', UNMATCHED_ROUTE].sort());
    } finally {
      await app.close();
    }
  });

  it('scraped 100 times in a row: every answer valid, and the registry holds no more series than after the first', async () => {
    const { app, registry, scrape } = await appWithMetrics();
    try {
      await scrape();
      const first = seriesCount(await scrape());
      const registered = (await registry.getMetricsAsJSON()).reduce((n, m) => n + m.values.length, 0);
      for (let i = 0; i < 100; i++) await scrape();
      const last = await scrape();
      expect(seriesCount(last)).toBe(first);
      expect((await registry.getMetricsAsJSON()).reduce((n, m) => n + m.values.length, 0)).toBe(registered);
      // The scrapes themselves are counted, in their one series (a scrape is counted once answered).
      expect(sampleValue(last, 'ventesync_http_request_duration_seconds_count', { route: '/metrics', status: '200' })).toBe(102);
    } finally {
      await app.close();
    }
  });

  it('behind a token: answered only to a scraper sending it as a bearer token', async () => {
    const { app, scrape } = await appWithMetrics(TOKEN);
    try {
      for (const authorization of [undefined, 'Bearer mauvais-jeton-0123456789', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
        const res = await app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
        expect(res.statusCode).toBe(403);
        expect(res.json()).toEqual({ code: 'FORBIDDEN', error: expect.stringContaining('jeton') });
      }
      await scrape();
    } finally {
      await app.close();
    }
    expect(bearerMatches(`bearer  ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });

  it('the token is read from a file, and a short or missing one is refused with its reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ventesync-token-'));
    try {
      writeFileSync(join(dir, 'ok'), `${TOKEN}\n`);
      writeFileSync(join(dir, 'court'), 'abc\n');
      expect(readMetricsToken(join(dir, 'ok'))).toEqual({ ok: true, token: TOKEN });
      expect(readMetricsToken(join(dir, 'court'))).toEqual({ ok: false, erreur: expect.stringContaining('trop court') });
      expect(readMetricsToken(join(dir, 'absent'))).toEqual({ ok: false, erreur: expect.stringContaining('ENOENT') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readiness', () => {
  const pass: Check = { status: 'pass', message: 'ok' };
  const warn: Check = { status: 'warn', message: 'bof' };
  const fail: Check = { status: 'fail', message: 'non' };

  it('the worst check decides: fail over warn over pass', () => {
    expect(worstOf({})).toBe('pass');
    expect(worstOf({ a: pass, b: warn })).toBe('warn');
    expect(worstOf({ a: warn, b: fail, c: pass })).toBe('fail');
  });

  it('a write probe runs at most once per interval, however often it is asked', () => {
    let clock = 0;
    let writes = 0;
    const probe = cachedProbe(() => {
      writes++;
      return pass;
    }, () => clock, 5_000);
    for (let i = 0; i < 100; i++) probe();
    expect(writes).toBe(1);
    clock += 4_999;
    probe();
    expect(writes).toBe(1);
    clock += 1;
    probe();
    expect(writes).toBe(2);
  });

  it('a write that fails says why: full disk and read-only file fail, a lock held elsewhere only warns', () => {
    const failing = (code: string) => () => {
      throw Object.assign(new Error(code), { code });
    };
    expect(writeProbeCheck(() => {})).toMatchObject({ status: 'pass' });
    expect(writeProbeCheck(failing('SQLITE_BUSY'))).toMatchObject({ status: 'warn', message: expect.stringContaining('occupée') });
    expect(writeProbeCheck(failing('SQLITE_FULL'))).toMatchObject({ status: 'fail', message: expect.stringContaining('disque plein') });
    expect(writeProbeCheck(failing('ENOSPC'))).toMatchObject({ status: 'fail', message: expect.stringContaining('disque plein') });
    expect(writeProbeCheck(failing('SQLITE_READONLY'))).toMatchObject({ status: 'fail', message: expect.stringContaining('lecture seule') });
    expect(writeProbeCheck(failing('SQLITE_IOERR_WRITE'))).toMatchObject({ status: 'fail', message: expect.stringContaining('entrée-sortie') });
  });

  it('free disk space warns under the threshold', () => {
    const file = join(tmpdir(), 'x.db');
    expect(diskSpaceCheck(file, 0)).toMatchObject({ status: 'pass', free_bytes: expect.any(Number) });
    expect(diskSpaceCheck(file, Number.MAX_SAFE_INTEGER)).toMatchObject({ status: 'warn', message: expect.stringContaining('peu de place') });
    expect(diskSpaceCheck(':memory:')).toMatchObject({ status: 'pass' });
  });

  it('GET /ready: 503 when a check fails, 200 with a warning, version and uptime included', async () => {
    const app = createApiServer(false);
    let checks: Record<string, Check> = { a: pass, b: warn };
    let clock = 1_000;
    registerReadyRoute(app, { version: '9.9.9', startedAt: 1_000, now: () => clock, checks: () => checks });
    try {
      clock += 42_500;
      const ok = await app.inject({ method: 'GET', url: '/ready' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ status: 'warn', checks: { a: pass, b: warn }, version: '9.9.9', uptime_s: 42 });
      checks = { a: pass, b: fail };
      const down = await app.inject({ method: 'GET', url: '/ready' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toMatchObject({ status: 'fail', checks: { b: fail } });
    } finally {
      await app.close();
    }
  });
});
