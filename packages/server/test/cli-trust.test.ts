import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './child-server.js';
import { tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const cli = (...args: string[]) => runCli([...args, '--db', db]);
const json = (...args: string[]) => JSON.parse(cli(...args, '--json').stdout);
const storedSecret = (serial: string) => {
  const file = new Database(db, { readonly: true });
  try {
    return file.prepare('SELECT secret FROM terminaux WHERE serial = ?').pluck().get(serial) as string | null;
  } finally {
    file.close();
  }
};

beforeEach(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'trust.db');
  cli('boutique', 'add', 'Ma Boutique', '--id', '2');
  cli('terminal', 'add', 'caisse-1', 'Caisse 1', '--boutique', '2');
  cli('terminal', 'add', 'caisse-2', 'Caisse 2', '--boutique', '2');
});
afterEach(() => tmp.cleanup());

describe('ventesync-server terminal secret', () => {
  it('issues a 43-character base64url secret, printed once, and the list shows which tills sign, never the secret', () => {
    const issued = json('terminal', 'secret', 'caisse-1');
    expect(issued).toEqual({ serial: 'caisse-1', secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(storedSecret('caisse-1')).toBe(issued.secret);
    const list = json('terminal', 'list');
    expect(list).toEqual([
      expect.objectContaining({ serial: 'caisse-1', signe: true }),
      expect.objectContaining({ serial: 'caisse-2', signe: false }),
    ]);
    const table = cli('terminal', 'list').stdout;
    expect(table).toContain('non (pas de secret)');
    expect(JSON.stringify(list) + table).not.toContain(issued.secret);
  });

  it('prints the secret in words without --json', () => {
    const out = cli('terminal', 'secret', 'caisse-2');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(storedSecret('caisse-2')!);
    expect(out.stdout).toContain('une seule fois');
  });

  it('refuses to replace an existing secret without --rotate, and keeps it', () => {
    const first = json('terminal', 'secret', 'caisse-1').secret;
    const again = cli('terminal', 'secret', 'caisse-1');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--rotate');
    expect(again.stderr + again.stdout).not.toContain(first);
    expect(storedSecret('caisse-1')).toBe(first);
  });

  it('--rotate replaces the secret with a new one', () => {
    const first = json('terminal', 'secret', 'caisse-1').secret;
    const second = json('terminal', 'secret', 'caisse-1', '--rotate').secret;
    expect(second).not.toBe(first);
    expect(storedSecret('caisse-1')).toBe(second);
  });

  it('an unknown terminal is an error, nothing written', () => {
    const out = cli('terminal', 'secret', 'inconnu');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('introuvable');
  });
});
