import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliSync } from '../../../test-support/cli-process.js';
import { audited, createAuditLog } from '@ventesync/runtime/sqlite';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;
let db: string;
const relay = (...args: string[]) => runCliSync(RELAY_CLI, [...args, '--db', db]);

interface Row {
  le: string;
  utilisateur: string;
  commande: string;
  changement: string;
}
function read<T>(sql: string): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare(sql).all() as T[];
  } finally {
    conn.close();
  }
}
const auditRows = () => read<Row>('SELECT le, utilisateur, commande, changement FROM audit ORDER BY id');
const statuts = () => Object.fromEntries(read<{ numero_facture: string; statut: string }>('SELECT numero_facture, statut FROM ventes').map((r) => [r.numero_facture, r.statut]));

/** Sales A, B, C rejected by the server, D synchronised long ago: what staff decide on. */
function prepare() {
  const database = openDatabase(db);
  const store = createRelayStore(database);
  createSaleIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    ['A', 'B', 'C', 'D'].map((n) => ({ numero_facture: n, lignes: [{ article_id: 6, prix_unitaire: 10 }] })),
    new Date('2025-10-01T08:00:00Z'),
  );
  for (const n of ['A', 'B', 'C']) store.markRejected(store.byNumero(n)[0]!.id, 'ARTICLE_NOT_FOUND', "l'article 6 n'existe pas");
  store.markSynced(store.byNumero('D')[0]!.id, '10.00', new Date('2025-10-01T09:00:00Z'));
  database.close();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-relay-audit-'));
  db = join(dir, 'relay.db');
  prepare();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('relay audit: who decided what on held sales', () => {
  it('retry, discard and purge each leave a row: OS user, the command as typed, what changed', () => {
    expect(relay('retry', 'A').code).toBe(0);
    expect(relay('discard', 'B', '--reason', 'client remboursé').code).toBe(0);
    expect(relay('retry', '--all').code).toBe(0);
    expect(relay('purge', '--older-than', '30d').code).toBe(0);
    const rows = auditRows();
    expect(rows.map((r) => r.changement.replace(/avant le \S+/, 'avant le …'))).toEqual([
      '1 vente(s) remise(s) en attente : A',
      'Vente B abandonnée : client remboursé',
      '1 vente(s) rejetée(s) ou en attente de stock remise(s) en attente (--all)',
      '1 vente(s) synchronisée(s) avant le … effacée(s)',
    ]);
    expect(rows[1]!.commande).toBe(`ventesync-relay discard B --reason 'client remboursé' --db ${db}`);
    expect(new Set(rows.map((r) => r.utilisateur))).toEqual(new Set([userInfo().username]));
    expect(statuts()).toEqual({ A: 'EN_ATTENTE', B: 'ABANDONNEE', C: 'EN_ATTENTE' });
  });

  it('a decision that changes nothing (unknown numero, nothing old enough to purge) leaves no row', () => {
    expect(relay('retry', 'ZZZ').code).toBe(1);
    expect(relay('discard', 'ZZZ', '--reason', 'x').code).toBe(1);
    expect(relay('purge', '--older-than', '36500d').code).toBe(0);
    expect(auditRows()).toEqual([]);
  });

  it('an audit row that cannot be written takes the decision with it: the sale stays rejected', () => {
    const conn = new Database(db);
    conn.exec(`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit indisponible'); END`);
    conn.close();
    expect(relay('discard', 'A', '--reason', 'erreur de caisse').code).not.toBe(0);
    expect(relay('retry', 'B').code).not.toBe(0);
    expect(statuts()).toMatchObject({ A: 'REJETEE', B: 'REJETEE' });
  });

  it('audited(): a decision that fails after writing keeps neither the write nor a row', () => {
    const database = openDatabase(db);
    const store = createRelayStore(database);
    const source = { utilisateur: 'marie', commande: 'ventesync-relay retry A' };
    expect(() =>
      audited(database, source, () => {
        store.retry(['A']);
        throw new Error('coupure');
      }, () => 'jamais'),
    ).toThrow('coupure');
    expect(store.byNumero('A')[0]!.statut).toBe('REJETEE');
    expect(createAuditLog(database).list({ depuis: null, limit: 10 })).toEqual([]);
    database.close();
  });

  it('audit lists the newest first, in 80 columns or as JSON, with --limit', () => {
    relay('retry', 'A');
    relay('discard', 'B', '--reason', `${'très long motif '.repeat(20)}`);
    const text = relay('audit').stdout;
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(text.indexOf('Vente B abandonnée')).toBeLessThan(text.indexOf('remise(s) en attente : A'));
    expect(text).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2} {2}\S+/);
    const last = JSON.parse(relay('audit', '--limit', '1', '--json').stdout) as Row[];
    expect(last).toHaveLength(1);
    expect(last[0]!.changement).toMatch(/^Vente B abandonnée/);
    expect(relay('audit', '--limit', '0').code).toBe(1);
  });
});
