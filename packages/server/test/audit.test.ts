import { operatorName, typedCommand } from '@ventesync/runtime/cli';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audited, createAuditLog } from '@ventesync/runtime/sqlite';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';
import { runCli } from './child-server.js';
import { openTestDb, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const cli = (...args: string[]) => runCli([...args, '--db', db]);

interface Row {
  id: number;
  le: string;
  utilisateur: string;
  commande: string;
  changement: string;
}
const auditRows = (): Row[] => {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare('SELECT * FROM audit ORDER BY id').all() as Row[];
  } finally {
    conn.close();
  }
};
const stockOf = (articleId: number): number => {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(articleId) as number;
  } finally {
    conn.close();
  }
};
const source = { utilisateur: 'alice', commande: 'ventesync-server stock add 6 20' };

beforeEach(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'audit.db');
  cli('boutique', 'add', 'Boutique Gombe', '--id', '3');
  cli('article', 'add', 'Savon', '--boutique', '3', '--prix', '1000', '--stock', '10', '--id', '40');
});
afterEach(() => tmp.cleanup());

describe('server audit: who changed what from the CLI', () => {
  it('each writing command leaves one row: local OS user, the command as typed, what it changed', () => {
    expect(cli('stock', 'add', '40', '5', '--reference', 'BL 118').code).toBe(0);
    expect(cli('stock', 'set', '40', '12').code).toBe(0);
    expect(cli('terminal', 'add', 'serial-1', 'Caisse 1', '--boutique', '3').code).toBe(0);
    expect(cli('terminal', 'disable', 'serial-1').code).toBe(0);
    expect(cli('terminal', 'enable', 'serial-1').code).toBe(0);
    expect(cli('boutique', 'set', '3', '--fuseau', 'Africa/Kinshasa', '--stock-negatif', 'autoriser').code).toBe(0);
    const rows = auditRows();
    expect(rows.map((r) => r.changement)).toEqual([
      'Boutique 3 « Boutique Gombe » ajoutée (CDF, fuseau UTC, stock négatif refusé)',
      'Article 40 « Savon » ajouté à la boutique 3 : 1000.00, stock 10',
      'Stock de Savon (article 40) : 10 → 15 (ENTREE +5, réf. BL 118)',
      'Stock de Savon (article 40) : 15 → 12 (AJUSTEMENT -3, réf. inventaire)',
      'Terminal serial-1 « Caisse 1 » ajouté à la boutique 3',
      'Terminal serial-1 désactivé',
      'Terminal serial-1 activé',
      'Boutique 3 « Boutique Gombe » changée : fuseau Africa/Kinshasa (totaux par jour recalculés), stock négatif autorisé',
    ]);
    expect(rows[2]!.commande).toBe(`ventesync-server stock add 40 5 --reference 'BL 118' --db ${db}`);
    expect(new Set(rows.map((r) => r.utilisateur))).toEqual(new Set([userInfo().username]));
    for (const r of rows) expect(Math.abs(Date.parse(r.le) - Date.now())).toBeLessThan(10 * 60_000);
  });

  it('a command that changes nothing (enable an active terminal, disable twice, the same devise) leaves no row and says so', () => {
    expect(cli('terminal', 'add', 'serial-1', 'Caisse 1', '--boutique', '3').code).toBe(0);
    expect(cli('relais', 'add', 'Relais Gombe', '--boutique', '3').code).toBe(0);
    const before = auditRows().length;
    expect(cli('terminal', 'enable', 'serial-1').stdout).toBe('Terminal serial-1 déjà actif : rien n’a changé.\n');
    expect(cli('terminal', 'disable', 'serial-1').stdout).toBe('Terminal serial-1 désactivé.\n');
    expect(cli('terminal', 'disable', 'serial-1').stdout).toBe('Terminal serial-1 déjà désactivé : rien n’a changé.\n');
    expect(cli('relais', 'disable', '1').stdout).toBe('Relais 1 désactivé.\n');
    expect(cli('relais', 'disable', '1').stdout).toBe('Relais 1 déjà désactivé : rien n’a changé.\n');
    expect(cli('boutique', 'set', '3', '--devise', 'CDF').stdout).toContain('rien n’a changé');
    expect(auditRows().slice(before).map((r) => r.changement)).toEqual(['Terminal serial-1 désactivé', 'Relais 1 désactivé']);
    // Still refused when there is nothing to refer to.
    expect(cli('relais', 'disable', '99').code).not.toBe(0);
    expect(cli('terminal', 'enable', 'nope').code).not.toBe(0);
  });

  it('secrets issued by terminal secret, relais add and relais secret are printed once and never written to the audit', () => {
    cli('terminal', 'add', 'serial-1', 'Caisse 1', '--boutique', '3');
    const terminalSecret = JSON.parse(cli('terminal', 'secret', 'serial-1', '--json').stdout).secret as string;
    const relay = JSON.parse(cli('relais', 'add', 'Relais Gombe', '--boutique', '3', '--json').stdout) as { id: number; secret: string };
    const rotated = JSON.parse(cli('relais', 'secret', String(relay.id), '--rotate', '--json').stdout).secret as string;
    expect(cli('relais', 'disable', String(relay.id)).code).toBe(0);
    const rows = auditRows();
    expect(rows.slice(-4).map((r) => r.changement)).toEqual([
      'Secret du terminal serial-1 émis',
      `Relais ${relay.id} « Relais Gombe » enregistré (boutiques 3), secret émis`,
      `Secret du relais ${relay.id} remplacé (l’ancien ne marche plus)`,
      `Relais ${relay.id} désactivé`,
    ]);
    const everything = JSON.stringify(rows) + cli('audit', 'list').stdout + cli('audit', 'list', '--json').stdout;
    for (const secret of [terminalSecret, relay.secret, rotated]) expect(everything).not.toContain(secret);
  });

  it('an import is one row; an import refused as a whole changes nothing and leaves no row', () => {
    const good = join(tmp.dir, 'ok.json');
    writeFileSync(good, JSON.stringify({ boutiques: [{ id: 4, nom: 'Limete', devise: 'CDF' }], terminaux: [], articles: [] }));
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ boutiques: [], terminaux: [], articles: [{ id: 41, boutique_id: 99, nom: 'X', prix_vente: '1.00', stock: 1 }] }));
    expect(cli('import', good).code).toBe(0);
    expect(cli('import', bad).code).toBe(1);
    const rows = auditRows();
    expect(rows).toHaveLength(3);
    expect(rows[2]!.changement).toBe(`Import de ${good} : 1 boutique(s), 0 terminal(aux), 0 article(s) insérés ou mis à jour`);
  });

  it('a command refused (unknown article, stock below zero) writes neither the change nor a row', () => {
    expect(cli('stock', 'add', '999', '5').code).toBe(1);
    expect(cli('terminal', 'disable', 'nobody').code).toBe(1);
    expect(auditRows()).toHaveLength(2);
    expect(stockOf(40)).toBe(10);
  });

  it('an audit row that cannot be written takes its change with it: the stock stays as it was', () => {
    const conn = new Database(db);
    conn.exec(`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit indisponible'); END`);
    conn.close();
    const answer = cli('stock', 'add', '40', '5');
    expect(answer.code).toBe(1);
    expect(answer.stderr).toContain('audit indisponible');
    expect(stockOf(40)).toBe(10);
    const conn2 = new Database(db, { readonly: true });
    expect(conn2.prepare("SELECT COUNT(*) FROM mouvements_stock WHERE type = 'ENTREE' AND article_id = 40").pluck().get()).toBe(1);
    conn2.close();
  });

  it('audited(): a change that fails after writing keeps neither the write nor a row; one that succeeds keeps both', () => {
    const conn = openTestDb();
    const catalogue = createCatalogueStore(conn);
    const before = catalogue.requireArticle(6).quantite_stock;
    expect(() =>
      audited(conn, source, () => {
        catalogue.addStock(6, 20, new Date());
        throw new Error('coupure');
      }, () => 'jamais'),
    ).toThrow('coupure');
    expect(catalogue.requireArticle(6).quantite_stock).toBe(before);
    expect(createAuditLog(conn).list({ depuis: null, limit: 10 })).toEqual([]);

    audited(conn, source, () => catalogue.addStock(6, 20, new Date()), (m) => `+${m.quantite}`, () => new Date('2026-11-25T10:00:00Z'));
    expect(catalogue.requireArticle(6).quantite_stock).toBe(before + 20);
    expect(createAuditLog(conn).list({ depuis: null, limit: 10 })).toEqual([
      { id: 1, le: '2026-11-25T10:00:00.000Z', utilisateur: 'alice', commande: source.commande, changement: '+20' },
    ]);
    conn.close();
  });

  it('audit list: newest first, --limit, --depuis a local day, --json in UTC; an invalid date is refused', () => {
    db = join(tmp.dir, 'dates.db'); // only the two rows below
    const conn = openDatabase(db);
    const log = createAuditLog(conn);
    log.record(source, 'ancien', new Date(2026, 9, 31, 23, 59)); // local 31/10/2026 23:59
    log.record(source, 'récent', new Date(2026, 10, 1, 0, 1)); // local 01/11/2026 00:01
    conn.close();
    const all = JSON.parse(cli('audit', 'list', '--json').stdout) as Row[];
    expect(all.map((r) => r.changement)).toEqual(['récent', 'ancien']);
    expect(all[0]!.le).toBe(new Date(2026, 10, 1, 0, 1).toISOString());
    const since = JSON.parse(cli('audit', 'list', '--depuis', '2026-11-01', '--json').stdout) as Row[];
    expect(since.map((r) => r.changement)).toEqual(['récent']);
    expect((JSON.parse(cli('audit', 'list', '--limit', '1', '--json').stdout) as Row[]).map((r) => r.changement)).toEqual(['récent']);
    const table = cli('audit', 'list', '--limit', '1').stdout;
    expect(table).toContain('01/11/2026 00:01:00  alice');
    const refused = cli('audit', 'list', '--depuis', '2026-02-30');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('date invalide « 2026-02-30 »');
  });

  it('audit list reads in 80 columns, long commands and control characters included', () => {
    const long = `Article au nom très long ${'x'.repeat(150)}`;
    expect(cli('article', 'add', long, '--boutique', '3', '--prix', '5').code).toBe(0);
    // The CLI refuses control characters in what it writes; a row written by hand (or by an
    // older version) may still hold one: the listing must not send it to the terminal.
    const file = new Database(db);
    file.prepare("UPDATE audit SET changement = changement || ' \u001b]0;titre' WHERE id = (SELECT MAX(id) FROM audit)").run();
    file.close();
    const text = cli('audit', 'list').stdout;
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    // The command goes on under itself, indented further than the change below it.
    expect(text).toMatch(/\n {4}\$ ventesync-server article add .*\n {6}\S/);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('\\u001b');
  });
});

describe('the audit row’s words', () => {
  it('the command as typed: quoted where a shell needs it, secret values replaced by ***, secret files kept', () => {
    expect(typedCommand('ventesync-relay', ['start', '--relay-secret', 's3cr3t', '--token=abc', '--secret-file', '/etc/relais.key', 'a b'])).toBe(
      "ventesync-relay start --relay-secret *** --token=*** --secret-file /etc/relais.key 'a b'",
    );
    expect(typedCommand('ventesync-server', ['terminal', 'secret', '0a1badae951f8473', '--rotate'])).toBe(
      'ventesync-server terminal secret 0a1badae951f8473 --rotate',
    );
  });

  it('a PostgreSQL URL keeps its user, host and base but never its password (--db URL or --db=URL)', () => {
    expect(typedCommand('ventesync-server', ['stock', 'add', '1', '5', '--db', 'postgres://vente:m0t%40passe@db:5432/ventes'])).toBe(
      "ventesync-server stock add 1 5 --db 'postgres://vente:***@db:5432/ventes'",
    );
    expect(typedCommand('ventesync-server', ['boutique', 'list', '--db=postgresql://vente:x@db/ventes'])).toBe(
      "ventesync-server boutique list '--db=postgresql://vente:***@db/ventes'",
    );
    expect(typedCommand('ventesync-server', ['import', 'f.json', '--db', 'postgres://vente@db/ventes'])).toBe(
      'ventesync-server import f.json --db postgres://vente@db/ventes',
    );
  });

  it('the OS user: os.userInfo() when it answers, else the environment, else the uid; never a failure', () => {
    expect(operatorName({}, () => ({ username: 'marie' }))).toBe('marie');
    const broken = () => {
      throw new Error('ENOENT: no such user');
    };
    expect(operatorName({ USER: 'caisse' }, broken)).toBe('caisse');
    expect(operatorName({}, broken)).toMatch(/^(uid \d+|inconnu)$/);
  });
});
