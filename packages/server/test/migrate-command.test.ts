import Database from 'better-sqlite3';
import { copyFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliAsync } from './child-server.js';
import { tempDir, testApp, vente } from './helpers.js';
import { type PgCluster, pgSuiteEnabled, TEST_PASSWORD, startPgCluster } from '../src/postgres/throwaway-cluster.js';

const enabled = pgSuiteEnabled();

describe.skipIf(!enabled)('ventesync-server migrate --from FILE --to URL', () => {
  let cluster: PgCluster;
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  beforeAll(async () => {
    cluster = await startPgCluster();
    dir = tempDir();
    file = join(dir.dir, 'boutiques.db');
    const t = await testApp({ file });
    const answer = await t.sync([vente('F-1', [{ article_id: 6, quantite: 2 }]), vente('F-2', [{ article_id: 9, quantite: 3 }], { paye: false })]);
    expect(answer.statusCode).toBe(201);
    await t.close();
  });
  afterAll(async () => {
    await cluster?.stop();
    dir?.cleanup();
  });

  it('copies the shop chain into PostgreSQL: the same sales, articles and stock are listed from both', async () => {
    const url = await cluster.createDatabase();
    const copy = await runCliAsync(['migrate', '--from', file, '--to', url]);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
    expect(copy.stdout).toMatch(/Copie terminée : \d+ lignes/);
    // The password never printed: the URL to start with is given without it.
    expect(copy.stdout).not.toContain(TEST_PASSWORD);
    for (const command of [['ventes', 'list'], ['article', 'list'], ['boutique', 'list'], ['terminal', 'list']]) {
      const fromSqlite = await runCliAsync([...command, '--json', '--db', file]);
      const fromPg = await runCliAsync([...command, '--json', '--db', url]);
      expect(fromPg.code, fromPg.stderr).toBe(0);
      expect(JSON.parse(fromPg.stdout), command.join(' ')).toEqual(JSON.parse(fromSqlite.stdout));
    }
  });

  it('refuses a second copy into the same database, and says why', async () => {
    const url = await cluster.createDatabase();
    expect((await runCliAsync(['migrate', '--from', file, '--to', url])).code).toBe(0);
    const again = await runCliAsync(['migrate', '--from', file, '--to', url, '--json']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Erreur : La base PostgreSQL .* contient déjà des données .*Rien n'a été modifié/);
    const ventes = JSON.parse((await runCliAsync(['ventes', 'list', '--json', '--db', url])).stdout) as unknown[];
    expect(ventes).toHaveLength(2);
  });

  it('a row PostgreSQL refuses (a NUL byte in a name) names its table, and nothing is copied', async () => {
    const url = await cluster.createDatabase();
    const withNul = join(dir.dir, 'nul.db');
    copyFileSync(file, withNul);
    const db = new Database(withNul);
    db.prepare("UPDATE articles SET nom = 'Sa' || char(0) || 'von' WHERE id = 9").run();
    db.close();
    const copy = await runCliAsync(['migrate', '--from', withNul, '--to', url]);
    expect(copy.code).toBe(1);
    expect(copy.stderr).toMatch(/^Erreur : Copie annulée : PostgreSQL refuse une ligne de la table articles .*Aucune donnée n'a été copiée\.\n$/);
    const ventes = JSON.parse((await runCliAsync(['ventes', 'list', '--json', '--db', url])).stdout) as unknown[];
    expect(ventes).toEqual([]);
  });

  it('a mistyped file, a file as target or a wrong password: a French refusal, no stack, nothing made', async () => {
    const url = await cluster.createDatabase();
    const missing = join(dir.dir, 'absent.db');
    const noFile = await runCliAsync(['migrate', '--from', missing, '--to', url]);
    expect(noFile).toMatchObject({ code: 1, stdout: '' });
    expect(noFile.stderr).toBe(`Erreur : le fichier ${missing} n’existe pas\n`);
    expect(existsSync(missing)).toBe(false);

    // An empty file (or any file that is not a ventesync database) is not an empty chain.
    const empty = join(dir.dir, 'vide.db');
    writeFileSync(empty, '');
    const fromEmpty = await runCliAsync(['migrate', '--from', empty, '--to', url]);
    expect(fromEmpty.code).toBe(1);
    expect(fromEmpty.stderr).toBe(`Erreur : ${empty} n’est pas une base ventesync (aucune table de ventes) : rien n’a été copié\n`);
    expect(statSync(empty).size).toBe(0);

    const swapped = await runCliAsync(['migrate', '--from', file, '--to', join(dir.dir, 'autre.db')]);
    expect(swapped.code).toBe(1);
    expect(swapped.stderr).toMatch(/^Erreur : --to attend une URL postgres/);

    const wrong = await runCliAsync(['migrate', '--from', file, '--to', url.replace(TEST_PASSWORD, 'pas-le-bon')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^Erreur : .*mot de passe/);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    expect(wrong.stderr).not.toContain('pas-le-bon');
  });
});
