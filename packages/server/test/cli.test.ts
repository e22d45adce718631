import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';
import { importFixture } from '../src/fixture-import.js';
import { MAX_STOCK_NEGATIF_VENTES } from '../src/sale-reader.js';
import { createSaleWriter } from '../src/sale-writer.js';
import { CLI, runCli } from './child-server.js';
import { SERIAL, TEST_FIXTURE, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const cli = (...args: string[]) => runCli([...args, '--db', db]);
const json = (...args: string[]) => JSON.parse(cli(...args, '--json').stdout);

beforeEach(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'cli.db');
});
afterEach(() => tmp.cleanup());

describe('ventesync-server CLI', () => {
  it('help examples name the command as typed: `pnpm run server …` through pnpm, else `ventesync-server …`', () => {
    const help = (env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, 'stock', 'add', '--help'], { encoding: 'utf8', env: { ...process.env, npm_lifecycle_event: '', ...env } }).stdout;
    expect(help({ npm_lifecycle_event: 'server' })).toContain('$ pnpm run server stock add 6 20');
    expect(help({ npm_lifecycle_event: 'server' })).not.toContain('ventesync-server');
    expect(help({})).toContain('$ ventesync-server stock add 6 20');
  });

  it('--help lists every command, with examples; each command has its own help with an example', () => {
    const help = runCli(['--help']).stdout;
    for (const command of ['serve', 'import', 'boutique', 'terminal', 'article', 'stock', 'ventes', 'mouvements']) {
      expect(help).toContain(command);
    }
    expect(help).toContain('Exemples');
    expect(help).toContain('Utilisation :');
    const every = [
      ['serve'], ['import'],
      ['boutique'], ['boutique', 'add'], ['boutique', 'set'], ['boutique', 'list'],
      ['terminal'], ['terminal', 'add'], ['terminal', 'list'], ['terminal', 'disable'], ['terminal', 'enable'],
      ['article'], ['article', 'add'], ['article', 'list'],
      ['stock'], ['stock', 'add'], ['stock', 'set'], ['stock', 'negatif'],
      ['ventes'], ['ventes', 'list'], ['mouvements'], ['mouvements', 'list'],
    ];
    for (const command of every) {
      const out = runCli([...command, '--help']);
      expect(out.code, command.join(' ')).toBe(0);
      expect(out.stdout, command.join(' ')).toMatch(/Exemple/);
      expect(out.stdout, command.join(' ')).not.toMatch(/Usage:|default:/);
    }
  });

  it('sets up a boutique, a terminal and an article, then lists them as tables or JSON', () => {
    expect(cli('boutique', 'add', 'Boutique Gombe', '--id', '3').stdout).toContain('Boutique 3');
    expect(cli('terminal', 'add', 'serial-1', 'Caisse 1', '--boutique', '3').code).toBe(0);
    expect(cli('article', 'add', 'Savon', '--boutique', '3', '--prix', '19.99', '--stock', '12', '--id', '40').code).toBe(0);
    expect(json('boutique', 'list')).toEqual([{ id: 3, nom: 'Boutique Gombe', devise: 'CDF', fuseau: 'UTC', stock_negatif: 'refuser' }]);
    expect(json('terminal', 'list')).toEqual([{ serial: 'serial-1', nom: 'Caisse 1', boutique_id: 3, actif: true, signe: false }]);
    expect(json('article', 'list')).toEqual([{ id: 40, boutique_id: 3, nom: 'Savon', prix_vente: '19.99', quantite_stock: 12 }]);
    const table = cli('article', 'list').stdout;
    expect(table).toMatch(/^ID\s+BOUTIQUE\s+NOM\s+PRIX\s+STOCK/);
    expect(table).toContain('19.99');
  });

  it('disables and enables a terminal', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    cli('terminal', 'add', 's1', 'Caisse', '--boutique', '1');
    expect(cli('terminal', 'disable', 's1').stdout).toContain('désactivé');
    expect(json('terminal', 'list')[0].actif).toBe(false);
    cli('terminal', 'enable', 's1');
    expect(json('terminal', 'list')[0].actif).toBe(true);
  });

  it('stock add is an ENTREE, stock set an AJUSTEMENT, each in the movements list', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    cli('article', 'add', 'Riz', '--boutique', '1', '--prix', '5000', '--id', '5');
    expect(cli('stock', 'add', '5', '20').stdout).toContain('0 → 20');
    expect(cli('stock', 'set', '5', '17').stdout).toContain('20 → 17');
    const mouvements = json('mouvements', 'list', '--article', '5');
    expect(mouvements.map((m: { type: string; quantite: number; stock_apres: number }) => [m.type, m.quantite, m.stock_apres])).toEqual([
      ['AJUSTEMENT', -3, 17],
      ['ENTREE', 20, 20],
    ]);
  });

  it('boutique set changes the zone and the stock rule, shown by boutique list; a bad value is refused with its code, nothing written', () => {
    expect(cli('boutique', 'add', 'Gombe', '--id', '3', '--fuseau', 'africa/kinshasa').stdout).toContain('fuseau Africa/Kinshasa');
    const set = cli('boutique', 'set', '3', '--fuseau', 'Africa/Lubumbashi', '--stock-negatif', 'autoriser');
    expect(set.stdout).toContain('Boutique 3 « Gombe » : CDF, fuseau Africa/Lubumbashi, stock négatif autorisé');
    expect(cli('boutique', 'list').stdout).toMatch(/FUSEAU\s+STOCK NEGATIF[\s\S]*Africa\/Lubumbashi\s+autoriser/);
    const listed = json('boutique', 'list');
    for (const args of [
      ['boutique', 'set', '3', '--fuseau', 'Africa/Atlantis'],
      ['boutique', 'set', '3', '--fuseau', '+02:00', '--nom', 'Autre'],
      ['boutique', 'set', '3', '--stock-negatif', 'parfois'],
      ['boutique', 'add', 'Neuve', '--id', '4', '--fuseau', 'Mars/Olympus'],
      ['boutique', 'set', '3'],
      ['boutique', 'set', '9', '--fuseau', 'UTC'],
    ]) {
      const out = cli(...args);
      expect(out.code, args.join(' ')).toBe(1);
      expect(out.stderr, args.join(' ')).toMatch(/^Erreur : /);
      expect(out.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    expect(cli('boutique', 'set', '3', '--fuseau', 'Africa/Atlantis').stderr).toContain("n'existe pas dans la base IANA (ex. Africa/Kinshasa, Africa/Lubumbashi, UTC) (code INVALID_FUSEAU)");
    expect(cli('boutique', 'set', '3', '--stock-negatif', 'parfois').stderr).toContain('refuser ou autoriser (code INVALID_STOCK_NEGATIF)');
    expect(json('boutique', 'list')).toEqual(listed);
  });

  it('stock negatif lists the articles below zero with the sales that took them there; a delivery brings them back', () => {
    const setup = openDatabase(db);
    const catalogue = createCatalogueStore(setup);
    importFixture(setup, catalogue, TEST_FIXTURE, new Date('2025-10-01T00:00:00Z'));
    catalogue.setBoutique(2, { stock_negatif: 'autoriser' });
    const writer = createSaleWriter(setup);
    const terminal = catalogue.findActiveTerminal(SERIAL)!;
    const sale = { numero_facture: 'HORS-LIGNE-1', lignes: [{ article_id: 10, quantite: 5 }] };
    setup.transaction(() => writer.writeSalesInSavepoint(terminal, [sale], new Date('2025-10-29T10:00:00Z')))();
    setup.close();

    const text = cli('stock', 'negatif').stdout;
    expect(text).toContain('Article 10 « Chargeur » (boutique 2) : stock -3');
    expect(text).toMatch(/vente HORS-LIGNE-1 \(0a1badae951f8473, 2025-10-29T10:00:00.000Z\) : -5, stock 2 → -3/);
    expect(json('stock', 'negatif', '--boutique', '2')).toEqual([
      expect.objectContaining({ id: 10, quantite_stock: -3, ventes: [expect.objectContaining({ numero_facture: 'HORS-LIGNE-1' })] }),
    ]);
    expect(json('stock', 'negatif', '--boutique', '3')).toEqual([]);
    expect(cli('stock', 'add', '10', '2').stdout).toContain('-3 → -1');
    expect(cli('stock', 'add', '10', '4').stdout).toContain('-1 → 3');
    expect(cli('stock', 'negatif').stdout).toBe('Aucun article sous zéro.\n');
  });

  it('stock negatif for a boutique that does not exist says so, and ventes list refuses a limit past 10,000', () => {
    expect(cli('boutique', 'add', 'Gombe', '--id', '3').code).toBe(0);
    expect(cli('stock', 'negatif', '--boutique', '77')).toMatchObject({ code: 1, stdout: '', stderr: 'Erreur : Boutique 77 introuvable\n' });
    expect(cli('stock', 'negatif', '--boutique', '3')).toMatchObject({ code: 0, stdout: 'Aucun article sous zéro.\n' });
    const tooMany = cli('ventes', 'list', '--limit', '10001');
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/^Erreur : l'option « --limit <n> » : 10000 au plus \(reçu 10001\)/);
  });

  it('stock add and set refuse a reference holding a control character or past 200 characters, writing nothing', () => {
    expect(cli('boutique', 'add', 'Gombe', '--id', '3').code).toBe(0);
    expect(cli('article', 'add', 'Riz', '--boutique', '3', '--prix', '10', '--id', '8', '--stock', '5').code).toBe(0);
    const escape = cli('stock', 'add', '8', '2', '--reference', 'BL\u001b]0;x');
    expect(escape.code).toBe(1);
    expect(escape.stderr).toMatch(/^Erreur : .*la référence ne doit contenir ni caractère de contrôle ni caractère invisible/);
    expect(cli('stock', 'set', '8', '1', '--reference', 'x'.repeat(201)).code).toBe(1);
    expect(json('article', 'list').map((a: { quantite_stock: number }) => a.quantite_stock)).toEqual([5]);
  });

  it(`stock negatif says how many sales beyond the ${MAX_STOCK_NEGATIF_VENTES} oldest it leaves out, in the table and in --json`, () => {
    const setup = openDatabase(db);
    const catalogue = createCatalogueStore(setup);
    importFixture(setup, catalogue, TEST_FIXTURE, new Date('2025-10-01T00:00:00Z'));
    catalogue.setBoutique(2, { stock_negatif: 'autoriser' });
    catalogue.setStock(10, 0, new Date('2025-10-01T00:00:00Z'));
    const writer = createSaleWriter(setup);
    const terminal = catalogue.findActiveTerminal(SERIAL)!;
    const sales = Array.from({ length: MAX_STOCK_NEGATIF_VENTES + 7 }, (_, i) => ({ numero_facture: `HL-${i}`, lignes: [{ article_id: 10 }] }));
    setup.transaction(() => writer.writeSalesInSavepoint(terminal, sales, new Date('2025-10-29T10:00:00Z')))();
    setup.close();

    const [article] = json('stock', 'negatif') as Array<{ ventes: Array<{ numero_facture: string }>; ventes_omises: number }>;
    expect(article!.ventes).toHaveLength(MAX_STOCK_NEGATIF_VENTES);
    expect(article!.ventes[0]!.numero_facture).toBe('HL-0');
    expect(article!.ventes_omises).toBe(7);
    expect(cli('stock', 'negatif').stdout).toContain(`… et 7 vente(s) plus récente(s) non listée(s) (les ${MAX_STOCK_NEGATIF_VENTES} plus anciennes ci-dessus)`);
  });

  it('refuses bad input with a French message and a non-zero exit, never a stack trace', () => {
    for (const args of [
      ['stock', 'add', '99', '5'],
      ['stock', 'add', '5', '-3'],
      ['terminal', 'add', 's', 'n', '--boutique', '42'],
      ['article', 'add', 'X', '--boutique', '1', '--prix', '1.234'],
      ['terminal', 'disable', 'inconnu'],
    ]) {
      const out = cli(...args);
      expect(out.code, args.join(' ')).not.toBe(0);
      expect(out.stderr).toMatch(/[Ee]rreur|invalide|attendu/);
      expect(out.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });

  it('imports a fixture file; a bad file is refused whole and changes nothing', () => {
    const good = join(tmp.dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        boutiques: [{ id: 2, nom: 'Ma Boutique', devise: 'CDF' }],
        terminaux: [{ serial: '0a1badae951f8473', nom: 'Terminal messie vanza', boutique_id: 2, actif: true }],
        articles: [{ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: '40000.00', stock: 10 }],
      }),
    );
    expect(cli('import', good).stdout).toContain('1 boutique(s), 1 terminal(aux), 1 article(s)');

    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        boutiques: [{ id: 9, nom: 'Nouvelle' }],
        articles: [{ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: '41000.00', stock: 10 }, { id: 7, boutique_id: 2, nom: '', prix_vente: 1 }],
      }),
    );
    const out = cli('import', bad);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('articles[1].nom');
    expect(json('boutique', 'list')).toHaveLength(1);
    expect(json('article', 'list')[0].prix_vente).toBe('40000.00');

    const broken = join(tmp.dir, 'broken.json');
    writeFileSync(broken, '{\n"boutiques": [');
    const syntax = cli('import', broken);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toBe(`Erreur : ${broken} n'est pas du JSON valide : ligne 2, colonne 15. Rien n'a été importé.\n`);
  });

  it('import refuses a misspelt section instead of importing nothing, and lists every problem of the file', () => {
    const misspelt = join(tmp.dir, 'misspelt.json');
    writeFileSync(misspelt, JSON.stringify({ boutique: [{ id: 2, nom: 'Ma Boutique' }] }));
    const out = cli('import', misspelt);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('section inconnue : boutique');
    expect(json('boutique', 'list')).toEqual([]);

    const several = join(tmp.dir, 'several.json');
    writeFileSync(
      several,
      JSON.stringify({
        boutiques: [{ id: 2, nom: '' }],
        terminaux: [{ serial: ' ', nom: 'Caisse', boutique_id: 9 }],
        articles: [{ id: 6, boutique_id: 2, nom: 'Samsung', prix_vente: 'cher' }],
      }),
    );
    const many = cli('import', several);
    expect(many.code).toBe(1);
    expect(many.stderr.split('\n')).toEqual([
      `Erreur : ${several} : 3 problème(s), rien n'a été importé :`,
      '  - boutiques[0].nom : ne doit pas être vide',
      '  - terminaux[0].serial : ne doit pas être vide',
      '  - articles[0].prix_vente : doit être un montant positif avec au plus 2 décimales',
      '',
    ]);
  });

  it('a command against a database kept busy by another writer says so plainly, and changes nothing', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    cli('article', 'add', 'Riz', '--boutique', '1', '--prix', '5000', '--stock', '3', '--id', '5');
    const writer = new Database(db);
    writer.prepare('BEGIN IMMEDIATE').run();
    try {
      const out = cli('stock', 'add', '5', '10');
      expect(out.code).toBe(1);
      expect(out.stderr).toBe('Erreur : la base est occupée par un autre programme (le serveur écrit ?) : réessayez dans un instant\n');
    } finally {
      writer.prepare('ROLLBACK').run();
      writer.close();
    }
    expect(json('article', 'list')[0].quantite_stock).toBe(3);
  });

  it('an empty or blank serial is refused', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    for (const serial of ['', '   ', 'tab\there']) {
      const out = cli('terminal', 'add', serial, 'Caisse', '--boutique', '1');
      expect(out.code, JSON.stringify(serial)).toBe(1);
      expect(out.stderr).toMatch(/^Erreur : Numéro de série invalide/);
    }
    expect(json('terminal', 'list')).toEqual([]);
  });

  it('a serial a till could never send (accents, spaces, control characters) is refused in French', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    for (const serial of ['caisse-é', 'caisse 1', 'caisse\u001b[2J', 'caisse\u200b']) {
      const out = cli('terminal', 'add', serial, 'Caisse', '--boutique', '1');
      expect(out.code, JSON.stringify(serial)).toBe(1);
      expect(out.stderr).toMatch(/^Erreur : Numéro de série invalide : ne doit contenir que des lettres sans accent/);
    }
    expect(cli('terminal', 'add', 'CAISSE-01_a.b', 'Caisse', '--boutique', '1').code).toBe(0);
    expect(json('terminal', 'list')).toEqual([expect.objectContaining({ serial: 'CAISSE-01_a.b' })]);
  });

  it('a terminal or boutique name with control characters (ESC, BEL, C1, bidi override) is refused; one stored before is printed escaped', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    for (const nom of ['Caisse\u001b]0;pwned\u0007', 'Caisse\u009b2J', 'Caisse\u202e1']) {
      const add = cli('terminal', 'add', 's1', nom, '--boutique', '1');
      expect(add.code, JSON.stringify(nom)).toBe(1);
      expect(add.stderr).toMatch(/^Erreur : Le nom du terminal ne doit contenir ni caractère de contrôle/);
      const set = cli('boutique', 'set', '1', '--nom', nom);
      expect(set.code, JSON.stringify(nom)).toBe(1);
      expect(set.stderr).toMatch(/^Erreur : Le nom de la boutique ne doit contenir ni caractère de contrôle/);
    }
    expect(json('terminal', 'list')).toEqual([]);
    expect(json('boutique', 'list')[0].nom).toBe('B');
    const database = new Database(db);
    database.prepare("UPDATE boutiques SET nom = 'B' || char(27) || ']0;pwned' || char(7)").run();
    database.close();
    const out = cli('boutique', 'set', '1', '--devise', 'USD').stdout;
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(out).toContain('\\u001b]0;pwned\\u0007');
  });

  it('a numero holding control characters (stored before they were refused) is listed escaped, never sent raw to the terminal', () => {
    const database = openDatabase(db);
    importFixture(database, createCatalogueStore(database), TEST_FIXTURE, new Date('2025-10-01T00:00:00Z'));
    const terminal = createCatalogueStore(database).findActiveTerminal(SERIAL)!;
    const writer = createSaleWriter(database);
    database.transaction(() => writer.writeSalesInSavepoint(terminal, [{ numero_facture: 'L-1', lignes: [{ article_id: 6 }] }], new Date('2025-10-29T02:45:00Z'))).immediate();
    database.prepare("UPDATE ventes SET numero_facture = char(27) || ']0;pwned' || char(7)").run();
    database.close();
    const out = cli('ventes', 'list').stdout;
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(out).toContain('\\u001b]0;pwned\\u0007');
    // Scripts get the data as stored.
    expect(json('ventes', 'list')[0].numero_facture).toBe('\u001b]0;pwned\u0007');
  });

  it('every error starts with the same prefix, commander\'s and the database\'s too, never a stack trace', () => {
    cli('boutique', 'add', 'B', '--id', '1');
    const newer = new Database(db);
    newer.pragma('user_version = 999');
    newer.close();
    const outputs = [
      runCli(['stock', 'add']),
      runCli(['inconnue']),
      runCli(['serve', '--port', 'abc']),
      runCli(['stock', 'add', '1', '1', '--zzz']),
      cli('stock', 'add', '99', '5'),
      cli('import', join(tmp.dir, 'absent.json')),
      cli('boutique', 'list'),
    ];
    for (const out of outputs) {
      expect(out.code).not.toBe(0);
      expect(out.stderr).toMatch(/^Erreur : /);
      expect(out.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    expect(outputs.at(-1)!.stderr).toContain('plus récent que ce programme');
  });

  it('lists sales received, newest first', async () => {
    cli('boutique', 'add', 'B', '--id', '2');
    expect(cli('ventes', 'list').stdout).toContain('(aucun)');
    const database = openDatabase(db);
    importFixture(database, createCatalogueStore(database), TEST_FIXTURE, new Date('2025-10-01T00:00:00Z'));
    const terminal = createCatalogueStore(database).findActiveTerminal(SERIAL)!;
    const writer = createSaleWriter(database);
    database
      .transaction(() =>
        writer.writeSalesInSavepoint(
          terminal,
          [{ numero_facture: 'L-1', lignes: [{ article_id: 6 }] }, { numero_facture: 'L-2', mode_paiement: 'CARTE', lignes: [{ article_id: 9, quantite: 3 }] }],
          new Date('2025-10-29T02:45:00Z'),
        ),
      )
      .immediate();
    database.close();
    expect(json('ventes', 'list')).toEqual([
      expect.objectContaining({ numero_facture: 'L-2', boutique_id: 2, montant_total: '59.97', mode_paiement: 'CARTE', paye: true, nombre_lignes: 1 }),
      expect.objectContaining({ numero_facture: 'L-1', montant_total: '40000.00', terminal: 'Terminal messie vanza' }),
    ]);
    expect(cli('ventes', 'list').stdout).toMatch(/^NUMERO\s+BOUTIQUE\s+TERMINAL/);
  });

  it("commander's own errors come in French too", () => {
    expect(runCli(['stock', 'add']).stderr).toContain('argument obligatoire manquant');
    expect(runCli(['inconnue']).stderr).toContain('commande inconnue');
    expect(runCli(['serve', '--port', 'abc']).stderr).toContain('entier');
  });
});
