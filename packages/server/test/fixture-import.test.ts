import { describe, expect, it } from 'vitest';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importFixture, MAX_REPORTED_PROBLEMS, readFixtureFile } from '../src/fixture-import.js';
import { tempDir, TEST_FIXTURE } from './helpers.js';

const NOW = new Date('2025-10-01T00:00:00Z');

function snapshot(db: ReturnType<typeof openDatabase>) {
  return ['boutiques', 'terminaux', 'articles', 'mouvements_stock'].map((table) => db.prepare(`SELECT * FROM ${table}`).all());
}

describe('importFixture', () => {
  it('loads boutiques, terminals and articles, and the stock as ENTREE movements', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    expect(importFixture(db, catalogue, TEST_FIXTURE, NOW)).toEqual({ ok: true, boutiques: 2, terminaux: 4, articles: 5 });
    expect(catalogue.getArticle(6)).toEqual({ id: 6, boutique_id: 2, nom: 'Samsung S24', prix_vente: 4000000, quantite_stock: 100 });
    expect(catalogue.listMouvements(6, 10)).toMatchObject([{ type: 'ENTREE', quantite: 100, stock_avant: 0, stock_apres: 100 }]);
  });

  it('updates by id and serial on a second import; a changed stock is an AJUSTEMENT', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    importFixture(db, catalogue, TEST_FIXTURE, NOW);
    const result = importFixture(
      db,
      catalogue,
      {
        terminaux: [{ serial: '0a1badae951f8473', nom: 'Caisse renommée', boutique_id: 2, actif: false }],
        articles: [{ id: 6, boutique_id: 2, nom: 'Samsung S24 Ultra', prix_vente: 45000, stock: 90 }],
      },
      NOW,
    );
    expect(result.ok).toBe(true);
    expect(catalogue.getTerminal('0a1badae951f8473')).toMatchObject({ nom: 'Caisse renommée', actif: false });
    expect(catalogue.getArticle(6)).toMatchObject({ nom: 'Samsung S24 Ultra', prix_vente: 4500000, quantite_stock: 90 });
    expect(catalogue.listMouvements(6, 1)).toMatchObject([{ type: 'AJUSTEMENT', quantite: -10, stock_apres: 90 }]);
  });

  it.each([
    ['a negative stock', { articles: [{ id: 6, boutique_id: 2, nom: 'X', prix_vente: '1.00', stock: -1 }] }, 'articles[0].stock'],
    ['a price with 3 decimals', { articles: [{ id: 6, boutique_id: 2, nom: 'X', prix_vente: '1.005' }] }, 'articles[0].prix_vente'],
    ['a terminal without serial', { terminaux: [{ nom: 'X', boutique_id: 2 }] }, 'terminaux[0].serial'],
    ['an unknown boutique', { terminaux: [{ serial: 's', nom: 'X', boutique_id: 99 }] }, 'terminaux[0]'],
    ['an article moving boutique', { articles: [{ id: 8, boutique_id: 2, nom: 'X', prix_vente: 1 }] }, 'articles[0]'],
    ['not an object', [1, 2, 3], 'objet'],
    ['a misspelt section', { boutique: [{ id: 9, nom: 'Nouvelle' }] }, 'section inconnue : boutique'],
    ['a misspelt field in an entry', { terminaux: [{ serial: 's', nom: 'X', boutique_id: 2, actf: false }] }, 'terminaux[0] : champ inconnu : actf'],
    ['a blank serial', { terminaux: [{ serial: '   ', nom: 'X', boutique_id: 2 }] }, 'terminaux[0].serial'],
    ['an article id given twice', { articles: [{ id: 40, boutique_id: 2, nom: 'A', prix_vente: 1 }, { id: 40, boutique_id: 2, nom: 'B', prix_vente: 1 }] }, 'articles[1] : id 40 déjà donné en articles[0]'],
    ['a section that is not a list', { articles: { id: 40 } }, 'articles : doit être une liste'],
  ])('a file with %s is refused whole, naming the entry, and changes nothing', (_label, bad, where) => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    importFixture(db, catalogue, TEST_FIXTURE, NOW);
    const before = snapshot(db);
    // Good entries first, so a half-import would show.
    const content = Array.isArray(bad)
      ? bad
      : { boutiques: [{ id: 50, nom: 'Nouvelle', devise: 'CDF' }], ...bad };
    const result = importFixture(db, catalogue, content, NOW);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.erreur).toContain(where);
    expect(snapshot(db)).toEqual(before);
  });

  it('every problem of a file is reported in one pass, shape and references alike', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    importFixture(db, catalogue, TEST_FIXTURE, NOW);
    const before = snapshot(db);
    const result = importFixture(
      db,
      catalogue,
      {
        boutiques: [{ id: 50, nom: 'Nouvelle' }],
        terminaux: [
          { serial: 'caisse-50', nom: 'Caisse', boutique_id: 50 },
          { serial: 'caisse-x', nom: 'Caisse X', boutique_id: 77 },
        ],
        articles: [
          { id: 60, boutique_id: 50, nom: '', prix_vente: '1.00' },
          { id: 8, boutique_id: 2, nom: 'Déplacé', prix_vente: 1 },
          { id: 61, boutique_id: 50, nom: 'Riz', prix_vente: '1.005', stock: -2 },
        ],
      },
      NOW,
    );
    expect(result).toEqual({
      ok: false,
      erreur: expect.any(String),
      problemes: [
        'articles[0].nom : ne doit pas être vide',
        'articles[2].prix_vente : doit être un montant positif avec au plus 2 décimales',
        'articles[2].stock : doit être un entier positif ou nul',
        'terminaux[1] : boutique 77 introuvable (ni dans la base ni dans le fichier)',
        "articles[1] : l'article 8 appartient déjà à la boutique 3, pas à 2",
      ],
    });
    expect(snapshot(db)).toEqual(before);
  });

  it('a file with thousands of bad entries lists the first ones and counts the rest', () => {
    const db = openDatabase(':memory:');
    const articles = Array.from({ length: 5_000 }, (_, i) => ({ id: i + 1, boutique_id: 2, nom: '', prix_vente: 1 }));
    const result = importFixture(db, createCatalogueStore(db), { articles }, NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problemes).toHaveLength(MAX_REPORTED_PROBLEMS + 1);
    expect(result.problemes.at(-1)).toMatch(/… et \d+ autre\(s\) problème\(s\)/);
  });
});

describe('readFixtureFile', () => {
  it('a JSON syntax error names its line and column', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'bad.json');
      writeFileSync(file, '{\n  "boutiques": [\n    {"id": 2, "nom": "Ma Boutique",}\n  ]\n}\n');
      expect(readFixtureFile(file)).toEqual({ ok: false, erreur: `${file} n'est pas du JSON valide : ligne 3, colonne 36` });
      writeFileSync(file, '{"boutiques": [');
      expect(readFixtureFile(file)).toEqual({ ok: false, erreur: `${file} n'est pas du JSON valide : ligne 1, colonne 16` });
      writeFileSync(file, '\uFEFF{"boutiques": []}');
      expect(readFixtureFile(file)).toEqual({ ok: true, content: { boutiques: [] } });
      expect(readFixtureFile(join(tmp.dir, 'absent.json'))).toEqual({ ok: false, erreur: expect.stringContaining('introuvable') });
    } finally {
      tmp.cleanup();
    }
  });

  it('a file that is not UTF-8 (Latin-1 accents) is refused, not read with replacement characters', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'latin1.json');
      writeFileSync(file, Buffer.from('{"boutiques": [{"id": 3, "nom": "Boutique Gombé"}]}', 'latin1'));
      expect(readFixtureFile(file)).toEqual({ ok: false, erreur: expect.stringContaining("n'est pas un texte UTF-8") });
      writeFileSync(file, '{"boutiques": [{"id": 3, "nom": "Boutique Gombé"}]}');
      expect(readFixtureFile(file)).toEqual({ ok: true, content: { boutiques: [{ id: 3, nom: 'Boutique Gombé' }] } });
    } finally {
      tmp.cleanup();
    }
  });
});

describe('names and serials', () => {
  it('lone surrogates in names and serials, and serials that are not visible ASCII, import nothing', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    const before = snapshot(db);
    const result = importFixture(
      db,
      catalogue,
      {
        boutiques: [{ id: 2, nom: 'Ma Boutique\ud800' }],
        terminaux: [
          { serial: 'caisse-é', nom: 'Caisse 1', boutique_id: 2 },
          { serial: 'caisse\u001b]0;x\u0007', nom: 'Caisse 2', boutique_id: 2 },
          { serial: 'caisse 3', nom: 'Caisse 3', boutique_id: 2 },
          { serial: 'ok-4', nom: 'Caisse\udc00', boutique_id: 2 },
        ],
      },
      NOW,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problemes).toEqual([
      'boutiques[0].nom : contient des caractères invalides (texte Unicode mal formé)',
      expect.stringMatching(/^terminaux\[0\]\.serial : ne doit contenir que des lettres sans accent/),
      expect.stringMatching(/^terminaux\[1\]\.serial : ne doit contenir que des lettres sans accent/),
      expect.stringMatching(/^terminaux\[2\]\.serial : ne doit contenir que des lettres sans accent/),
      'terminaux[3].nom : contient des caractères invalides (texte Unicode mal formé)',
    ]);
    expect(snapshot(db)).toEqual(before);
  });

  it('control characters, NUL and over-long names or currencies import nothing, as the CLI refuses them', () => {
    const db = openDatabase(':memory:');
    const catalogue = createCatalogueStore(db);
    const before = snapshot(db);
    const result = importFixture(
      db,
      catalogue,
      {
        boutiques: [
          { id: 2, nom: 'a\u0000b' },
          { id: 3, nom: 'Gombe', devise: 'C'.repeat(17) },
        ],
        terminaux: [{ serial: 'ok-1', nom: 'Caisse\u001b[2J', boutique_id: 3 }],
        articles: [{ id: 6, boutique_id: 3, nom: 'x'.repeat(201), prix_vente: '1.00', stock: 1 }],
      },
      NOW,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problemes).toEqual([
      'boutiques[0].nom : ne doit contenir ni caractère de contrôle ni caractère invisible',
      'boutiques[1].devise : 16 caractères au maximum',
      'terminaux[0].nom : ne doit contenir ni caractère de contrôle ni caractère invisible',
      'articles[0].nom : 200 caractères au maximum',
    ]);
    expect(snapshot(db)).toEqual(before);
  });
});
