import { DAEMON_BUSY_TIMEOUT_MS } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createSqliteStorage } from '../src/storage/sqlite-storage.js';
import { STORAGE_UNAVAILABLE, type Storage } from '../src/storage/storage.js';
import { openTestDb, SERIAL, SYNC, tempDir, testApp, vente } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('a database another process is writing', () => {
  it('a sync waits only briefly, then gets 503 with Retry-After and nothing written; /health still answers; once free the sync goes through', async () => {
    const file = join(tmp.dir, 'busy.db');
    const t = await testApp({ file });
    const other = new Database(file);
    try {
      // The server's own wait for a lock is short: the wait freezes every request.
      expect(t.db.pragma('busy_timeout', { simple: true })).toBe(DAEMON_BUSY_TIMEOUT_MS);

      other.prepare('BEGIN IMMEDIATE').run();
      const busy = await t.sync([vente('OCCUPE-1', [{ article_id: 6 }])]);
      expect(busy.statusCode).toBe(503);
      expect(busy.headers['retry-after']).toMatch(/^\d+$/);
      expect(busy.json()).toEqual({ code: 'SERVICE_UNAVAILABLE', error: expect.stringContaining('occupée') });
      expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
      other.prepare('ROLLBACK').run();

      expect(t.venteCount()).toBe(0);
      expect((await t.sync([vente('OCCUPE-1', [{ article_id: 6 }])])).statusCode).toBe(201);
      expect(t.venteCount()).toBe(1);
    } finally {
      other.close();
      await t.close();
    }
  });
});

describe('the OpenAPI document', () => {
  it('is served as JSON, the same bytes every time', async () => {
    const t = await testApp();
    try {
      const first = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      const second = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(first.statusCode).toBe(200);
      expect(first.headers['content-type']).toMatch(/^application\/json/);
      expect(first.json()).toMatchObject({ openapi: '3.1.0' });
      expect(second.body).toBe(first.body);
    } finally {
      await t.close();
    }
  });
});

describe('a storage that cannot reach its database for now (STORAGE_UNAVAILABLE)', () => {
  it('a sync gets 503 with Retry-After, never a 500; the next one, the database back, goes through', async () => {
    const file = join(tmp.dir, 'distante.db');
    const db = openTestDb(file);
    const sqlite = createSqliteStorage(db);
    let reachable = false;
    // A PostgreSQL restarting, as the interface tells it (storage.ts).
    const gone = () => Promise.reject(Object.assign(new Error('connexion perdue'), { code: STORAGE_UNAVAILABLE }));
    const storage: Storage = {
      ...sqlite,
      writes: { ...sqlite.writes, sales: (...args) => (reachable ? sqlite.writes.sales(...args) : gone()) },
    };
    const app = await buildApp({ storage, logger: false });
    try {
      const send = (numero: string) =>
        app.inject({
          method: 'POST',
          url: SYNC,
          headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
          payload: JSON.stringify([vente(numero, [{ article_id: 6 }])]),
        });
      const refused = await send('V-1');
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBeDefined();
      expect(refused.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', error: expect.any(String) });
      reachable = true;
      expect((await send('V-1')).statusCode).toBe(201);
    } finally {
      await app.close();
      db.close();
    }
  });
});
