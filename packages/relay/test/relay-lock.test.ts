import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { lockRelayFile } from '../src/relay-lock.js';
import { createRelayStore } from '../src/relay-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('one relay per file', () => {
  it('a second relay on a file in use is refused with a clear message; once the first stops, it may start', () => {
    const file = join(dir, 'relay.db');
    const first = lockRelayFile(file);
    expect(first.ok).toBe(true);
    const second = lockRelayFile(file);
    expect(second).toEqual({ ok: false, erreur: expect.stringMatching(/un autre relais utilise déjà le fichier .*relay\.db/) });
    if (first.ok) first.lock.release();
    const third = lockRelayFile(file);
    expect(third.ok).toBe(true);
    if (third.ok) third.lock.release();
  });

  it('the lock leaves the relay file itself readable and writable by the CLI while the daemon runs', () => {
    const file = join(dir, 'relay.db');
    const lock = lockRelayFile(file);
    const daemon = createRelayStore(openDatabase(file));
    daemon.setEtat('daemon_url', 'http://127.0.0.1:8001');
    const cli = createRelayStore(openDatabase(file));
    expect(cli.getEtat('daemon_url')).toBe('http://127.0.0.1:8001');
    cli.setEtat('note', 'écrit par la CLI');
    expect(daemon.getEtat('note')).toBe('écrit par la CLI');
    if (lock.ok) lock.lock.release();
  });

  it('two paths to one file (a symlink, a path through "..") share one lock: the second relay is refused', () => {
    const file = join(dir, 'data', 'relay.db');
    mkdirSync(join(dir, 'data'));
    const first = lockRelayFile(file);
    expect(first.ok).toBe(true);
    symlinkSync(file, join(dir, 'lien.db'));
    expect(lockRelayFile(join(dir, 'lien.db'))).toEqual({ ok: false, erreur: expect.stringMatching(/un autre relais utilise déjà/) });
    expect(lockRelayFile(join(dir, 'data', '..', 'data', 'relay.db')).ok).toBe(false);
    if (first.ok) first.lock.release();
  });

  it('a file that does not exist yet is created to be locked, and a symlink to it started second is refused', () => {
    const file = join(dir, 'neuf', 'relay.db');
    const first = lockRelayFile(file);
    expect(first.ok).toBe(true);
    symlinkSync(file, join(dir, 'autre.db'));
    expect(lockRelayFile(join(dir, 'autre.db')).ok).toBe(false);
    if (first.ok) first.lock.release();
  });

  it('another file is not locked', () => {
    const a = lockRelayFile(join(dir, 'a.db'));
    const b = lockRelayFile(join(dir, 'b.db'));
    expect([a.ok, b.ok]).toEqual([true, true]);
  });
});
