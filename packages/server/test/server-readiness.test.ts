import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createSqliteStorage } from '../src/storage/sqlite-storage.js';
import { READY_WRITE_PROBE_INTERVAL_MS } from '@ventesync/runtime/metrics';
import { openTestDb, tempDir } from './helpers.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let tmp: ReturnType<typeof tempDir>;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  tmp.cleanup();
});

async function readyApp(lowDiskWarnBytes = 0) {
  let clock = Date.parse('2026-11-25T10:00:00Z');
  const db = openTestDb(join(tmp.dir, 'serveur.db'));
  const app = await buildApp({ db, logger: false, now: () => new Date(clock), lowDiskWarnBytes });
  cleanups.push(async () => {
    await app.close();
    db.close();
  });
  const ready = () => app.inject({ method: 'GET', url: '/ready' });
  return { app, db, ready, advance: (ms: number) => (clock += ms) };
}

describe('server /ready', () => {
  it('a sound server passes, with its version and uptime; /health keeps its answer', async () => {
    const { app, ready, advance } = await readyApp();
    advance(90_000);
    const res = await ready();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'pass',
      checks: {
        database: { status: 'pass', message: 'écriture possible' },
        disk: { status: 'pass', message: expect.stringContaining('libres'), free_bytes: expect.any(Number) },
      },
      version: VERSION,
      uptime_s: 90,
    });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
  });

  it('a full disk fails, 503, and says so', async () => {
    const { db, ready } = await readyApp();
    // The database may not grow by a single page: SQLite answers SQLITE_FULL, as on a full disk.
    // Free pages first (a migration that rebuilt a table leaves some): a write would take them.
    db.exec('VACUUM');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'fail',
      checks: { database: { status: 'fail', message: expect.stringContaining('disque plein'), code: 'SQLITE_FULL' } },
    });
  });

  it('a read-only database fails, 503', async () => {
    const { db, ready } = await readyApp();
    db.pragma('query_only = ON');
    const res = await ready();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'fail', checks: { database: { status: 'fail', message: expect.stringContaining('lecture seule') } } });
  });

  it('asked again and again, the real write is tried once per interval; a change shows at the next one', async () => {
    const { db, ready, advance } = await readyApp();
    for (let i = 0; i < 100; i++) expect((await ready()).statusCode).toBe(200);
    db.pragma('query_only = ON');
    // Within the interval: the last probe's verdict, no new write.
    advance(READY_WRITE_PROBE_INTERVAL_MS - 1);
    expect((await ready()).statusCode).toBe(200);
    advance(1);
    expect((await ready()).statusCode).toBe(503);
    db.pragma('query_only = OFF');
    advance(READY_WRITE_PROBE_INTERVAL_MS);
    expect((await ready()).json()).toMatchObject({ status: 'pass' });
  });

  it('little free disk space warns, still 200: the server works', async () => {
    const { ready } = await readyApp(Number.MAX_SAFE_INTEGER);
    const res = await ready();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'warn', checks: { database: { status: 'pass' }, disk: { status: 'warn', message: expect.stringContaining('peu de place') } } });
  });

  it('a database on another server (PostgreSQL) has no local disk to watch: /ready says so, and a database that stops answering fails', async () => {
    const db = openTestDb(join(tmp.dir, 'serveur.db'));
    const sqlite = createSqliteStorage(db);
    let answering = true;
    const gone = () => Promise.reject(Object.assign(new Error('connexion perdue'), { code: 'STORAGE_UNAVAILABLE' }));
    // The same storage as seen from elsewhere: no file of its own here.
    const remote = {
      ...sqlite,
      health: {
        ...sqlite.health,
        diskFile: null,
        ping: () => (answering ? sqlite.health.ping() : gone()),
        probeWrite: () => (answering ? sqlite.health.probeWrite() : gone()),
      },
    };
    const app = await buildApp({ storage: remote, logger: false, lowDiskWarnBytes: Number.MAX_SAFE_INTEGER });
    cleanups.push(async () => {
      await app.close();
      db.close();
    });
    const first = await app.inject({ method: 'GET', url: '/ready' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'pass', checks: { database: { status: 'pass' }, disk: { status: 'pass', message: expect.stringContaining('autre serveur') } } });
    answering = false;
    const down = await app.inject({ method: 'GET', url: '/ready' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ checks: { database: { status: 'fail', message: expect.stringContaining('ne répond pas') } } });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
  });
});
