import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeTarget, isPostgresUrl, openStorage } from '../src/storage/open-storage.js';
import { CLI, runCli } from './child-server.js';
import { tempDir } from './helpers.js';

// Port 1 on this machine: nothing listens there, the connection is refused at once.
const UNREACHABLE = 'postgres://caisse:motdepasse-secret@127.0.0.1:1/ventesync';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('openStorage', () => {
  it('a file path opens SQLite (made if absent), named as given', async () => {
    const file = join(tmp.dir, 'nouvelle.db');
    const opened = await openStorage(file);
    if (!opened.ok) throw new Error(opened.erreur);
    expect([opened.storage.kind, opened.storage.where]).toEqual(['sqlite', file]);
    expect(await opened.storage.catalogue.isEmpty()).toBe(true);
    await opened.storage.close();
  });

  it('postgres:// and postgresql:// select PostgreSQL, whatever their case; anything else is a file', () => {
    expect(['postgres://h/b', 'postgresql://h/b', 'POSTGRES://h/b', ' postgres://h/b'].map(isPostgresUrl)).toEqual([true, true, true, true]);
    expect(['./data/ventesync.db', '/var/lib/postgres.db', 'postgres.db', ':memory:'].map(isPostgresUrl)).toEqual([false, false, false, false]);
  });

  it('a PostgreSQL URL is shown without its password', () => {
    expect(describeTarget(UNREACHABLE)).toBe('postgres://caisse:***@127.0.0.1:1/ventesync');
    expect(describeTarget('postgres://caisse@db.interne:5432/ventes')).toBe('postgres://caisse@db.interne:5432/ventes');
    expect(describeTarget('postgres://[pas-une-adresse')).toBeNull();
  });

  it('an unreachable PostgreSQL is a French refusal naming the host, never the password', async () => {
    const opened = await openStorage(UNREACHABLE);
    expect(opened.ok).toBe(false);
    if (opened.ok) return;
    expect(opened.code).toBe('DATABASE_UNREACHABLE');
    expect(opened.erreur).toContain('127.0.0.1');
    expect(opened.erreur).toMatch(/PostgreSQL/);
    expect(opened.erreur).not.toContain('motdepasse-secret');
  });

  it('a URL that does not parse is refused as such', async () => {
    expect(await openStorage('postgres://[pas-une-adresse')).toMatchObject({ ok: false, code: 'INVALID_DATABASE_URL' });
  });

  it('a file that is not a database is a refusal naming the file, nothing changed in it', async () => {
    const file = join(tmp.dir, 'notes.txt');
    writeFileSync(file, 'ceci n’est pas une base, juste des notes assez longues pour ressembler à un en-tête de fichier'.repeat(20));
    const opened = await openStorage(file);
    expect(opened).toMatchObject({ ok: false, code: 'STORAGE_OPEN_FAILED' });
    if (!opened.ok) expect(opened.erreur).toContain(file);
  });
});

describe('the CLI on a database it cannot open', () => {
  it('every command answers a French error naming the host, exit 1, no stack, no password', () => {
    for (const args of [['boutique', 'list'], ['rapport', '--boutique', '2'], ['serve', '--port', '0']]) {
      const out = runCli([...args, '--db', UNREACHABLE]);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/^Erreur : .*PostgreSQL.*127\.0\.0\.1/);
      expect(out.stderr).not.toContain('motdepasse-secret');
      expect(out.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });

  it('the help shows VENTESYNC_DB as the default without its password', () => {
    const out = runCliWithEnv(['boutique', 'list', '--help'], { VENTESYNC_DB: UNREACHABLE });
    expect(out.stdout).toContain('postgres://caisse:***@127.0.0.1:1/ventesync');
    expect(out.stdout).not.toContain('motdepasse-secret');
  });

  it('VENTESYNC_DB selects the database when --db is not given', () => {
    const out = runCliWithEnv(['boutique', 'list'], { VENTESYNC_DB: UNREACHABLE });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^Erreur : .*127\.0\.0\.1/);
  });
});

function runCliWithEnv(args: string[], env: Record<string, string>) {
  const out = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: out.status ?? 1, stdout: out.stdout, stderr: out.stderr };
}
