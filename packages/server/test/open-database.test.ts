import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
