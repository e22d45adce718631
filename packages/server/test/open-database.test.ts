import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { openDatabase } from '../src/db/open-database.js';
import { MIGRATIONS } from '../src/db/migrations.js';
import { tempDir } from './helpers.js';

describe('openDatabase', () => {
  it('writes with synchronous=FULL in WAL mode: an answered sale survives a power loss', () => {
    const tmp = tempDir();
    const db = openDatabase(join(tmp.dir, 'v.db'));
    expect([db.pragma('journal_mode', { simple: true }), db.pragma('synchronous', { simple: true })]).toEqual(['wal', 2]);
    db.close();
    tmp.cleanup();
  });

  it('an upgrade keeps the signatures seen in the window: a request accepted just before it is still a replay after', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'before.db');
    const old = new Database(file);
    const version = MIGRATIONS.findIndex((m) => m.includes('signatures_vues_v2'));
    for (const sql of MIGRATIONS.slice(0, version)) old.exec(sql);
    old.pragma(`user_version = ${version}`);
    const v1 = 'ab'.repeat(32);
    old.prepare('INSERT INTO signatures_vues (v1, t) VALUES (?, ?)').run(v1, 1_700_000_000);
    old.close();
    const db = openDatabase(file);
    const insert = db.prepare('INSERT INTO signatures_vues (t, v1) VALUES (?, ?) ON CONFLICT DO NOTHING');
    expect(insert.run(1_700_000_000, Buffer.from(v1, 'hex')).changes).toBe(0);
    expect(insert.run(1_700_000_001, Buffer.from(v1, 'hex')).changes).toBe(1);
    db.close();
    tmp.cleanup();
  });

  it('two processes opening a new file at the same moment: the second does not apply the schema again over the first', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'new.db');
    const first = new Database(file);
    const second = new Database(file);
    // The second read the version (0) before the first applied every version.
    let reads = 0;
    const stale = {
      pragma: (source: string, options?: { simple?: boolean }) =>
        source === 'user_version' && reads++ === 0 ? 0 : second.pragma(source, options),
      exec: (source: string) => second.exec(source),
      transaction: (fn: () => void) => second.transaction(fn),
    };
    prepareDatabase(first, MIGRATIONS);
    expect(() => prepareDatabase(stale, MIGRATIONS)).not.toThrow();
    expect(second.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    first.close();
    second.close();
    tmp.cleanup();
  });

  it('refuses a database from a newer version of the program, and leaves it untouched', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'newer.db');
    const newer = new Database(file);
    newer.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    newer.close();
    expect(() => openDatabase(file)).toThrow(/plus récent que ce programme/);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
    expect(check.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").pluck().get()).toBe(0);
    check.close();
    tmp.cleanup();
  });
});
