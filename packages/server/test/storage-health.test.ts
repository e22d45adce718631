import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChildServer, runCli, startServer } from './child-server.js';
import { createStorageHealth, WRITE_PROBE_INTERVAL_MS } from '../src/storage-health.js';
import { SERIAL, SYNC, TEST_FIXTURE, tempDir, testApp, vente } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** Every row of every table. */
function snapshot(db: Database.Database) {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  return Object.fromEntries(tables.map((table) => [table, db.prepare(`SELECT * FROM "${table}"`).all()]));
}

const bigBatch = (prefix: string) =>
  Array.from({ length: 40 }, (_, i) =>
    vente(`${prefix}-${i}`, [{ article_id: 6 }, { article_id: 7 }, { article_id: 9, quantite: 2 }]),
  );

describe('a full disk', () => {
  it('a sync that cannot be written is 507 STORAGE_FULL, nothing of it is kept, and /health says so until the database can write again, no sale needed', async () => {
    let clock = Date.parse('2025-10-29T10:00:00Z');
    const t = await testApp({ file: join(tmp.dir, 'full.db'), now: () => new Date(clock) });
    try {
      // The database may not grow by a single page: SQLite answers SQLITE_FULL, as on a full disk.
      // Free pages first (a migration that rebuilt a table leaves some): a write would take them.
      t.db.exec('VACUUM');
      const pages = t.db.pragma('page_count', { simple: true }) as number;
      t.db.pragma(`max_page_count = ${pages}`);
      const before = snapshot(t.db);

      const res = await t.sync(bigBatch('PLEIN'));
      expect(res.statusCode).toBe(507);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.json()).toEqual({ code: 'STORAGE_FULL', error: expect.stringContaining('disque du serveur est plein') });
      expect(snapshot(t.db)).toEqual(before);

      const health = () => t.app.inject({ method: 'GET', url: '/health' });
      const failing = await health();
      expect(failing.statusCode).toBe(503);
      expect(failing.json()).toEqual({ code: 'DATABASE_FAILING', error: expect.stringMatching(/^Base de données en échec : écriture impossible/) });

      // Still full when /health tries again: still failing, and the try left nothing behind.
      clock += WRITE_PROBE_INTERVAL_MS;
      expect((await health()).statusCode).toBe(503);
      expect(snapshot(t.db)).toEqual(before);

      // Space is back: the next try of /health sees it, with no sale sent.
      t.db.pragma('max_page_count = 1073741823');
      clock += WRITE_PROBE_INTERVAL_MS;
      expect((await health()).json()).toEqual({ status: 'ok' });
      expect(snapshot(t.db)).toEqual(before);
      expect((await t.sync(bigBatch('PLEIN'))).statusCode).toBe(201);
      expect(t.venteCount()).toBe(40);
    } finally {
      await t.close();
    }
  });

  it('a failing disk (I/O error) is reported on /health as such, not as a full disk', async () => {
    let clock = 0;
    const probe = { fails: true };
    const storage = createStorageHealth(':memory:', () => {
      if (probe.fails) throw Object.assign(new Error('I/O'), { code: 'EIO' });
    }, () => clock);
    storage.failed('SQLITE_IOERR_WRITE', 'io');
    expect(await storage.state()).toEqual({ ok: false, reason: expect.stringContaining("erreur d'entrée-sortie") });
    clock += WRITE_PROBE_INTERVAL_MS;
    expect((await storage.state()).ok).toBe(false);
    probe.fails = false;
    // Tried at most every WRITE_PROBE_INTERVAL_MS: not yet.
    expect((await storage.state()).ok).toBe(false);
    clock += WRITE_PROBE_INTERVAL_MS;
    expect(await storage.state()).toEqual({ ok: true });
  });
});

/** A real full disk needs a small file system of its own: root can mount one. */
function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const probe = join(tempDir().dir, 'probe');
const canMount = tryMountTmpfs(probe, '64k');
if (canMount) execFileSync('umount', [probe]);
rmSync(join(probe, '..'), { recursive: true, force: true });

describe.skipIf(!canMount)('a full disk, for real (a small tmpfs)', () => {
  let server: ChildServer | undefined;
  let mountDir: string;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    execFileSync('umount', [mountDir]);
  });

  it('the server process answers 507, writes none of the batch, reports it on /health, and recovers once space is freed', async () => {
    mountDir = join(tmp.dir, 'disk');
    expect(tryMountTmpfs(mountDir, '4m')).toBe(true);
    const dbFile = join(mountDir, 'ventesync.db');
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    server = await startServer(dbFile);
    const post = async (body: unknown) => {
      const res = await request(`${server!.url}${SYNC}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const health = async () => {
      const res = await request(`${server!.url}/health`);
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    expect((await post([vente('AVANT', [{ article_id: 6 }])])).status).toBe(201);

    // Fill what is left of the disk.
    const filler = join(mountDir, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {
      // dd stops with "no space left on device": that is the point.
    }

    const full = await post(bigBatch('DISQUE'));
    expect(full.status).toBe(507);
    expect(full.body).toMatchObject({ code: 'STORAGE_FULL', error: expect.stringContaining('plein') });
    const failing = await health();
    expect(failing.status).toBe(503);
    expect(failing.body).toEqual({ code: 'DATABASE_FAILING', error: expect.stringContaining('Base de données en échec') });

    rmSync(filler);
    // /health sees the space back by itself (it tries a write every few seconds), no sale needed.
    const deadline = Date.now() + 4 * WRITE_PROBE_INTERVAL_MS;
    let recovered = await health();
    while (recovered.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      recovered = await health();
    }
    expect(recovered).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await post([vente('APRES', [{ article_id: 6 }])])).status).toBe(201);
    await server.stop();
    server = undefined;

    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture LIKE 'DISQUE-%'").pluck().get()).toBe(0);
    expect(db.prepare('SELECT numero_facture FROM ventes ORDER BY id').pluck().all()).toEqual(['AVANT', 'APRES']);
    expect(db.prepare("SELECT COUNT(*) FROM mouvements_stock WHERE type = 'SORTIE'").pluck().get()).toBe(2);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 6').pluck().get()).toBe(98);
    expect(db.prepare('SELECT quantite_stock FROM articles WHERE id = 7').pluck().get()).toBe(100);
    db.close();
  });
});
