import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { MAX_SYNC_ANSWER_BYTES } from '@ventesync/shared';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../src/db/migrations.js';
import { openDatabase } from '../src/db/open-database.js';
import { buildApp } from '../src/app.js';
import { allocateReturn } from '../src/retour-writer.js';
import { createRapportReader } from '../src/rapport.js';
import { type ChildServer, runCli, startServer } from './child-server.js';
import { openTestDb, OTHER_SERIAL, SECOND_SERIAL, SERIAL, SYNC, TEST_FIXTURE, tempDir, testApp, vente } from './helpers.js';

const RETOURS = '/api/v2/simple/ventes/retours/';
const NOW = new Date('2025-10-29T10:00:00Z');

let t: Awaited<ReturnType<typeof testApp>> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function setup() {
  t = await testApp({ now: () => NOW });
  const retours = (body: unknown, serial: string = SERIAL, headers: Record<string, string> = {}) =>
    t!.app.inject({
      method: 'POST',
      url: RETOURS,
      headers: { 'content-type': 'application/json', 'x-device-serial': serial, ...headers },
      payload: JSON.stringify(body),
    });
  const mouvementsRetour = (articleId: number) =>
    t!.db.prepare("SELECT quantite, stock_avant, stock_apres, reference, terminal_serial FROM mouvements_stock WHERE article_id = ? AND type = 'RETOUR' ORDER BY id").all(articleId);
  const retourCount = () => t!.db.prepare('SELECT COUNT(*) FROM retours').pluck().get() as number;
  const ligneRetourCount = () => t!.db.prepare('SELECT COUNT(*) FROM lignes_retour').pluck().get() as number;
  return { ...t, retours, mouvementsRetour, retourCount, ligneRetourCount };
}

const retour = (numero: string, facture: string, lignes: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
  numero_retour: numero,
  numero_facture: facture,
  lignes,
  ...extra,
});

describe('POST /api/v2/simple/ventes/retours/', () => {
  it('a return puts the stock back with a RETOUR movement and answers in the sync envelope', async () => {
    const s = await setup();
    expect((await s.sync([vente('V-1', [{ article_id: 7, quantite: 3, prix_unitaire: 25000 }])])).statusCode).toBe(201);
    const before = s.stock(7);

    const res = await s.retours([retour('R-1', 'V-1', [{ article_id: 7, quantite: 2 }], { motif: 'ne marche pas' })]);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      success: true,
      message: '1 retour(s) enregistré(s) avec succès',
      boutique_id: 2,
      boutique_nom: 'Ma Boutique',
      terminal: 'Terminal messie vanza',
      statistiques: { total_envoyees: 1, reussies: 1, erreurs: 0 },
      retours_crees: [
        {
          numero_retour: 'R-1',
          numero_facture: 'V-1',
          montant_total: '50000.00',
          lignes: [{ article_nom: 'Écouteurs Bluetooth', quantite: 2, prix_unitaire: '25000.00', sous_total: '50000.00' }],
        },
      ],
      retours_erreurs: null,
    });
    expect(s.stock(7)).toBe(before + 2);
    expect(s.mouvementsRetour(7)).toEqual([
      { quantite: 2, stock_avant: before, stock_apres: before + 2, reference: 'R-1', terminal_serial: SERIAL },
    ]);
    const row = s.db.prepare('SELECT numero_retour, motif, montant_total, date_retour, mode_paiement FROM retours').get();
    expect(row).toEqual({ numero_retour: 'R-1', motif: 'ne marche pas', montant_total: 5_000_000, date_retour: NOW.toISOString(), mode_paiement: 'CASH' });
  });

  it('never returns more of an article than the sale sold, all returns together; a refused return writes nothing', async () => {
    const s = await setup();
    await s.sync([vente('V-2', [{ article_id: 7, quantite: 3 }, { article_id: 9, quantite: 1 }])]);
    expect((await s.retours([retour('R-a', 'V-2', [{ article_id: 7, quantite: 2 }])])).statusCode).toBe(201);
    const stock7 = s.stock(7);
    const stock9 = s.stock(9);

    // 2 already returned, 3 sold: 2 more is one too many, even with a valid line beside it.
    const res = await s.retours([retour('R-b', 'V-2', [{ article_id: 9, quantite: 1 }, { article_id: 7, quantite: 2 }])]);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.success).toBe(false);
    expect(body.retours_erreurs).toEqual([
      {
        index: 1,
        numero_retour: 'R-b',
        numero_facture: 'V-2',
        code: 'RETURN_EXCEEDS_SALE',
        erreur: 'Retour de 2 Écouteurs Bluetooth refusé : la vente V-2 en a vendu 3, déjà rendu(s) 2, reste 1',
      },
    ]);
    expect([s.stock(7), s.stock(9), s.retourCount(), s.ligneRetourCount()]).toEqual([stock7, stock9, 1, 1]);

    // Two lines of the same article in one return count together.
    const split = await s.retours([retour('R-c', 'V-2', [{ article_id: 7, quantite: 1 }, { article_id: 7, quantite: 1 }])]);
    expect(split.json().retours_erreurs[0].code).toBe('RETURN_EXCEEDS_SALE');
    // An article the sale did not sell.
    const other = await s.retours([retour('R-d', 'V-2', [{ article_id: 6 }])]);
    expect(other.json().retours_erreurs[0]).toMatchObject({ code: 'RETURN_EXCEEDS_SALE', erreur: "La vente V-2 ne contient pas l'article 6" });
    // What is left can still come back.
    const rest = await s.retours([retour('R-e', 'V-2', [{ article_id: 7 }, { article_id: 9 }])]);
    expect(rest.statusCode).toBe(201);
    expect([s.stock(7), s.stock(9)]).toEqual([stock7 + 1, stock9 + 1]);
  });

  it('a return of a sale of another boutique, or of no sale, is SALE_NOT_FOUND', async () => {
    const s = await setup();
    await s.sync([vente('GOMBE-1', [{ article_id: 8, quantite: 2 }])], OTHER_SERIAL);
    const stock8 = s.stock(8);
    const res = await s.retours([retour('R-1', 'GOMBE-1', [{ article_id: 8 }]), retour('R-2', 'NULLE-PART', [{ article_id: 7 }])]);
    expect(res.statusCode).toBe(200);
    expect(res.json().retours_erreurs.map((e: { code: string; erreur: string }) => [e.code, e.erreur])).toEqual([
      ['SALE_NOT_FOUND', 'Vente GOMBE-1 introuvable dans la boutique Ma Boutique'],
      ['SALE_NOT_FOUND', 'Vente NULLE-PART introuvable dans la boutique Ma Boutique'],
    ]);
    expect([s.stock(8), s.retourCount()]).toEqual([stock8, 0]);
  });

  it('a resend is DUPLICATE identique true; the same numero with other content, or from another till, is identique false; nothing written', async () => {
    const s = await setup();
    await s.sync([vente('V-3', [{ article_id: 7, quantite: 5 }], { date_vente: '2025-10-29T07:00:00Z' })]);
    const first = retour('R-1', 'V-3', [{ article_id: 7, quantite: 1 }], { date_retour: '2025-10-29T09:00:00+01:00' });
    expect((await s.retours([first])).statusCode).toBe(201);
    const stock = s.stock(7);

    const again = (await s.retours([first])).json();
    expect(again.retours_erreurs).toEqual([
      {
        index: 1,
        numero_retour: 'R-1',
        numero_facture: 'V-3',
        erreur: 'Retour R-1 existe déjà, ignoré',
        code: 'DUPLICATE',
        retour_existant: { numero_retour: 'R-1', numero_facture: 'V-3', montant_total: '25000.00', date_retour: '2025-10-29T08:00:00.000Z' },
        identique: true,
      },
    ]);
    const changed = (await s.retours([{ ...first, lignes: [{ article_id: 7, quantite: 2 }] }])).json();
    expect(changed.retours_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    const otherTill = (await s.retours([first], SECOND_SERIAL)).json();
    expect(otherTill.retours_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    // Twice in one request: the second is the first one again, never stored twice.
    const twice = (await s.retours([retour('R-2', 'V-3', [{ article_id: 7 }]), retour('R-2', 'V-3', [{ article_id: 7 }])])).json();
    expect(twice.retours_crees).toHaveLength(1);
    expect(twice.retours_erreurs).toEqual([expect.objectContaining({ index: 2, code: 'DUPLICATE', identique: true })]);
    expect([s.stock(7), s.retourCount(), s.mouvementsRetour(7).length]).toEqual([stock + 1, 2, 2]);
  });

  it.each([
    ['no numero_retour', { numero_facture: 'V-4', lignes: [{ article_id: 7 }] }, 'Le champ numero_retour est obligatoire'],
    ['no numero_facture', { numero_retour: 'R-x', lignes: [{ article_id: 7 }] }, 'Le champ numero_facture est obligatoire'],
    ['no lines', { numero_retour: 'R-x', numero_facture: 'V-4', lignes: [] }, 'Le champ lignes doit contenir au moins une ligne'],
    ['quantite 0', retour('R-x', 'V-4', [{ article_id: 7, quantite: 0 }]), 'Ligne 1 : le champ quantite doit être un entier positif'],
    ['quantite 1.5', retour('R-x', 'V-4', [{ article_id: 7, quantite: 1.5 }]), 'Ligne 1 : le champ quantite'],
    ['a numero of 65 characters', retour('R'.repeat(65), 'V-4', [{ article_id: 7 }]), 'au plus 64 caractères'],
    ['a lone surrogate', retour('R-\ud800', 'V-4', [{ article_id: 7 }]), 'texte Unicode mal formé'],
    ['an escape character', retour('R-\u001b]0;x', 'V-4', [{ article_id: 7 }]), 'caractère de contrôle'],
    ['a motif of 201 characters', retour('R-x', 'V-4', [{ article_id: 7 }], { motif: 'm'.repeat(201) }), 'au plus 200 caractères'],
    ['a date without zone', retour('R-x', 'V-4', [{ article_id: 7 }], { date_retour: '2025-10-29T10:00:00' }), 'date ISO 8601 avec fuseau'],
    ['a date past year 9999', retour('R-x', 'V-4', [{ article_id: 7 }], { date_retour: '9999-12-31T23:59:00-23:59' }), 'entre les années 0000 et 9999'],
    ['not an object', 'R-x', 'Le retour doit être un objet JSON'],
  ])('%s is INVALID_RETURN, the other returns of the batch go through', async (_name, bad, message) => {
    const s = await setup();
    await s.sync([vente('V-4', [{ article_id: 7, quantite: 2 }])]);
    const res = await s.retours([bad, retour('R-ok', 'V-4', [{ article_id: 7 }])]);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.retours_crees.map((r: { numero_retour: string }) => r.numero_retour)).toEqual(['R-ok']);
    expect(body.retours_erreurs).toHaveLength(1);
    expect(body.retours_erreurs[0].code).toBe('INVALID_RETURN');
    expect(body.retours_erreurs[0].erreur).toContain(message);
    expect(s.retourCount()).toBe(1);
  });

  it('the units given back are priced as the sale sold them, line by line in order', async () => {
    const s = await setup();
    await s.sync([vente('V-5', [{ article_id: 9, quantite: 2, prix_unitaire: '1.00' }, { article_id: 9, quantite: 3, prix_unitaire: '0.80' }])]);
    const a = (await s.retours([retour('R-1', 'V-5', [{ article_id: 9, quantite: 3 }])])).json();
    expect(a.retours_crees[0].montant_total).toBe('2.80');
    expect(a.retours_crees[0].lignes.map((l: { quantite: number; prix_unitaire: string }) => [l.quantite, l.prix_unitaire])).toEqual([
      [2, '1.00'],
      [1, '0.80'],
    ]);
    const b = (await s.retours([retour('R-2', 'V-5', [{ article_id: 9, quantite: 2 }])])).json();
    expect(b.retours_crees[0].montant_total).toBe('1.60');
  });

  it('a till clock more than 10 minutes ahead: the return is dated at reception, the till’s date kept and shown; a resend is still identique', async () => {
    const s = await setup();
    await s.sync([vente('V-9', [{ article_id: 7, quantite: 3 }])]);
    const ahead = retour('R-ahead', 'V-9', [{ article_id: 7 }], { date_retour: '2025-10-29T12:00:00Z' });
    const near = retour('R-near', 'V-9', [{ article_id: 7 }], { date_retour: '2025-10-29T10:09:00Z' });
    expect((await s.retours([ahead, near])).statusCode).toBe(201);
    const rows = s.db.prepare('SELECT numero_retour, date_retour, date_retour_caisse FROM retours ORDER BY id').all();
    expect(rows).toEqual([
      { numero_retour: 'R-ahead', date_retour: NOW.toISOString(), date_retour_caisse: '2025-10-29T12:00:00.000Z' },
      { numero_retour: 'R-near', date_retour: '2025-10-29T10:09:00.000Z', date_retour_caisse: null },
    ]);
    const [v9] = (await s.get('/api/v2/simple/ventes/historique/')).json().ventes;
    expect(v9.retours.map((r: { date_retour_caisse?: string }) => r.date_retour_caisse)).toEqual(['2025-10-29T12:00:00.000Z', undefined]);
    expect((await s.retours([ahead])).json().retours_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
  });

  it('a return dated before its sale is dated at the sale (the till’s date kept): no day before the sale gets a refund', async () => {
    const s = await setup();
    await s.sync([vente('V-past', [{ article_id: 7, quantite: 2 }], { date_vente: '2025-10-29T09:00:00Z' })]);
    const early = retour('R-early', 'V-past', [{ article_id: 7 }], { date_retour: '2025-10-26T09:00:00Z' });
    const after = retour('R-after', 'V-past', [{ article_id: 7 }], { date_retour: '2025-10-29T09:30:00Z' });
    expect((await s.retours([early, after])).statusCode).toBe(201);
    const rows = s.db.prepare('SELECT numero_retour, date_retour, date_retour_caisse FROM retours ORDER BY id').all();
    expect(rows).toEqual([
      { numero_retour: 'R-early', date_retour: '2025-10-29T09:00:00.000Z', date_retour_caisse: '2025-10-26T09:00:00.000Z' },
      { numero_retour: 'R-after', date_retour: '2025-10-29T09:30:00.000Z', date_retour_caisse: null },
    ]);
    // The day the till named has no refund in its books; the sale's day has both.
    const retoursDuJour = (jour: string) => {
      const result = createRapportReader(s.db).rapport(2, jour, NOW);
      return result.ok ? result.rapport.total.nombre_retours : result.erreur;
    };
    expect(retoursDuJour('2025-10-26')).toBe(0);
    expect(retoursDuJour('2025-10-29')).toBe(2);
    // A resend of the same return is still recognised as this one.
    expect((await s.retours([early])).json().retours_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
  });

  it('allocateReturn takes units after those already returned, and says when too few are left', () => {
    const sold = [{ quantite: 2, prix: 100 }, { quantite: 3, prix: 80 }];
    expect(allocateReturn(sold, 0, 3)).toEqual([{ quantite: 2, prix: 100 }, { quantite: 1, prix: 80 }]);
    expect(allocateReturn(sold, 1, 2)).toEqual([{ quantite: 1, prix: 100 }, { quantite: 1, prix: 80 }]);
    expect(allocateReturn(sold, 3, 2)).toEqual([{ quantite: 2, prix: 80 }]);
    expect(allocateReturn(sold, 4, 2)).toBeNull();
    expect(allocateReturn([], 0, 1)).toBeNull();
  });

  it('counts negative in the statistics (today and overall, per mode) and shows in the history with its sale', async () => {
    const s = await setup();
    await s.sync([
      vente('V-6', [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }], { mode_paiement: 'MOBILE_MONEY' }),
      vente('V-7', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }]),
    ]);
    await s.retours([retour('R-1', 'V-6', [{ article_id: 7, quantite: 1 }], { motif: 'cassé' })]);

    const stats = (await s.get('/api/v2/simple/statistiques/')).json().statistiques;
    expect(stats.aujourd_hui).toMatchObject({ nombre_ventes: 2, chiffre_affaires: '65000.00', nombre_retours: 1, montant_retours: '25000.00' });
    expect(stats.aujourd_hui.par_mode_paiement.MOBILE_MONEY).toEqual({
      nombre_ventes: 1,
      chiffre_affaires: '25000.00',
      nombre_retours: 1,
      montant_retours: '25000.00',
    });
    expect(stats.total).toMatchObject({ chiffre_affaires: '65000.00', nombre_retours: 1 });

    const historique = (await s.get('/api/v2/simple/ventes/historique/')).json();
    const v6 = historique.ventes.find((v: { numero_facture: string }) => v.numero_facture === 'V-6');
    expect(v6.retours).toEqual([
      {
        numero_retour: 'R-1',
        date_retour: NOW.toISOString(),
        montant_total: '25000.00',
        motif: 'cassé',
        terminal: 'Terminal messie vanza',
        lignes: [{ article_id: 7, article_nom: 'Écouteurs Bluetooth', quantite: 1, prix_unitaire: '25000.00', sous_total: '25000.00' }],
      },
    ]);
    // A sale without returns keeps the history's shape as before.
    expect(historique.ventes.find((v: { numero_facture: string }) => v.numero_facture === 'V-7')).not.toHaveProperty('retours');
  });

  it('the history shows at most 10 returns of a sale, oldest first, and counts the others', async () => {
    const s = await setup();
    await s.sync([vente('V-10', [{ article_id: 9, quantite: 20 }])]);
    const retours = Array.from({ length: 12 }, (_, i) =>
      retour(`R-${String(i).padStart(2, '0')}`, 'V-10', [{ article_id: 9 }], { date_retour: `2025-10-29T0${Math.floor(i / 6)}:${String(i * 5).padStart(2, '0')}:00Z` }),
    );
    expect((await s.retours(retours)).json().statistiques.reussies).toBe(12);
    const [v10] = (await s.get('/api/v2/simple/ventes/historique/')).json().ventes;
    expect(v10.retours.map((r: { numero_retour: string }) => r.numero_retour)).toEqual(retours.slice(0, 10).map((r) => r.numero_retour));
    expect(v10.retours_omis).toBe(2);
  });

  it('has the API rules: serial, terminal, array, batch size; a signing till must sign', async () => {
    const s = await setup();
    expect((await s.retours([], '')).json().code).toBe('MISSING_SERIAL');
    expect((await s.retours([], 'inconnu')).json().code).toBe('TERMINAL_NOT_FOUND');
    expect((await s.retours({ numero_retour: 'R' })).json().code).toBe('INVALID_FORMAT');
    const tooMany = await s.retours(Array.from({ length: 501 }, (_, i) => retour(`R-${i}`, 'V', [{ article_id: 7 }])));
    expect([tooMany.statusCode, tooMany.json().code, tooMany.json().limit]).toEqual([413, 'BATCH_TOO_LARGE', 500]);
    const empty = await s.retours([]);
    expect([empty.statusCode, empty.json().success, empty.json().retours_erreurs]).toEqual([200, false, null]);

    s.db.prepare("UPDATE terminaux SET secret = 'un-secret-de-test-assez-long-pour-la-forme-00' WHERE serial = ?").run(SERIAL);
    const unsigned = await s.retours([retour('R-1', 'V', [{ article_id: 7 }])]);
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([401, 'SIGNATURE_REQUIRED']);
    expect(s.retourCount()).toBe(0);
  });

  it('two concurrent requests that together exceed the sale: exactly one is accepted', async () => {
    const s = await setup();
    await s.sync([vente('V-8', [{ article_id: 7, quantite: 3 }])]);
    const stock = s.stock(7);
    const [a, b] = await Promise.all([
      s.retours([retour('R-A', 'V-8', [{ article_id: 7, quantite: 2 }])]),
      s.retours([retour('R-B', 'V-8', [{ article_id: 7, quantite: 2 }])], SECOND_SERIAL),
    ]);
    const codes = [a, b].map((r) => r.json().retours_erreurs?.[0]?.code ?? 'OK').sort();
    expect(codes).toEqual(['OK', 'RETURN_EXCEEDS_SALE']);
    expect([s.stock(7), s.retourCount()]).toEqual([stock + 2, 1]);
  });
});

describe('returns racing through two server processes on one database', () => {
  let tmp: ReturnType<typeof tempDir> | undefined;
  const servers: ChildServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    tmp?.cleanup();
  });

  const post = async (url: string, path: string, body: unknown, serial: string) => {
    const res = await request(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-serial': serial },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
  };

  it('rounds of two returns of 2 out of 3 units, one per process at the same time: exactly one accepted each round', async () => {
    tmp = tempDir();
    const dbFile = join(tmp.dir, 'server.db');
    const fixture = join(tmp.dir, 'fixture.json');
    writeFileSync(fixture, JSON.stringify(TEST_FIXTURE));
    expect(runCli(['import', fixture, '--db', dbFile]).code).toBe(0);
    servers.push(await startServer(dbFile), await startServer(dbFile));
    const [one, two] = servers.map((s) => s.url) as [string, string];

    const rounds = 10;
    const sale = await post(one, '/api/v2/simple/ventes/sync/', Array.from({ length: rounds }, (_, i) => vente(`V-${i}`, [{ article_id: 9, quantite: 3 }])), SERIAL);
    expect(sale.status).toBe(201);
    for (let i = 0; i < rounds; i++) {
      const answers = await Promise.all([
        post(one, RETOURS, [retour(`R-${i}-a`, `V-${i}`, [{ article_id: 9, quantite: 2 }])], SERIAL),
        post(two, RETOURS, [retour(`R-${i}-b`, `V-${i}`, [{ article_id: 9, quantite: 2 }])], SECOND_SERIAL),
      ]);
      // A busy database may turn one away with 503 (then nothing of it was written): still at most one.
      const accepted = answers.filter((a) => a.status === 201).length;
      const exceeded = answers.filter((a) => a.body.retours_erreurs?.[0]?.code === 'RETURN_EXCEEDS_SALE').length;
      expect(accepted).toBe(1);
      expect(accepted + exceeded + answers.filter((a) => a.status === 503).length).toBe(2);
    }
    // The database agrees: per sale, 2 units returned, never 4.
    const { openDatabase } = await import('../src/db/open-database.js');
    const db = openDatabase(dbFile);
    try {
      const perSale = db
        .prepare('SELECT r.vente_id, SUM(l.quantite) AS q FROM retours r JOIN lignes_retour l ON l.retour_id = r.id GROUP BY r.vente_id')
        .all() as Array<{ q: number }>;
      expect(perSale.map((r) => r.q)).toEqual(Array(rounds).fill(2));
      expect(db.prepare("SELECT SUM(quantite) FROM mouvements_stock WHERE type = 'RETOUR'").pluck().get()).toBe(2 * rounds);
    } finally {
      db.close();
    }
  });
});

describe('the schema version that adds returns', () => {
  it('keeps every stock movement of an existing database, with its id, index and foreign key, and takes RETOUR', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'old.db');
      const before = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE retours'));
      expect(before).toBeGreaterThan(0);
      const old = openSqlite((path) => new Database(path), file, MIGRATIONS.slice(0, before));
      old.exec(`
        INSERT INTO boutiques (id, nom, devise) VALUES (2, 'Ma Boutique', 'CDF');
        INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (6, 2, 'Samsung S24', 4000000, 8);
        INSERT INTO mouvements_stock (id, article_id, type, quantite, stock_avant, stock_apres, reference, terminal_serial, date)
          VALUES (5, 6, 'ENTREE', 10, 0, 10, 'import', NULL, '2025-10-01T00:00:00.000Z'),
                 (9, 6, 'SORTIE', 2, 10, 8, 'F-1', 'caisse-1', '2025-10-28T23:30:01.000Z');
      `);
      const rows = old.prepare('SELECT * FROM mouvements_stock ORDER BY id').all();
      old.close();

      const db = openDatabase(file);
      try {
        expect(db.prepare('SELECT * FROM mouvements_stock ORDER BY id').all()).toEqual(rows);
        expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mouvements_stock'").pluck().all()).toEqual(['mouvements_article']);
        expect(db.prepare('PRAGMA foreign_key_list(mouvements_stock)').all()).toMatchObject([{ table: 'articles', from: 'article_id', to: 'id' }]);
        db.prepare("INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, date) VALUES (6, 'RETOUR', 1, 8, 9, 'x')").run();
        expect(() => db.prepare("INSERT INTO mouvements_stock (article_id, type, quantite, stock_avant, stock_apres, date) VALUES (6, 'VOL', 1, 8, 9, 'x')").run()).toThrow(/CHECK/);
        // New movements keep counting after the old ids.
        expect(db.prepare('SELECT MAX(id) FROM mouvements_stock').pluck().get()).toBe(10);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('what a returns request leaves in the log and weighs in its answer', () => {
  it('one info line per request with the counts; each refused return at warn with its numero and code', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const db = openTestDb();
    const app = await buildApp({ db, logger: pino({ level: 'info' }, stream) });
    const post = (url: string, body: unknown) =>
      app.inject({ method: 'POST', url, headers: { 'x-device-serial': SERIAL }, payload: JSON.stringify(body) });
    try {
      await post(SYNC, [vente('V-1', [{ article_id: 7, quantite: 1 }])]);
      lines.length = 0;
      await post(RETOURS, [retour('R-1', 'V-1', [{ article_id: 7 }]), retour('R-2', 'V-9', [{ article_id: 7 }])]);
    } finally {
      await app.close();
      db.close();
    }
    const requestLines = lines.filter((l) => l.reqId !== undefined);
    expect(requestLines.filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({ numero_retour: 'R-2', numero_facture: 'V-9', code: 'SALE_NOT_FOUND', msg: '❌ Retour R-2 refusé: Vente V-9 introuvable dans la boutique Ma Boutique' }),
    ]);
    expect(requestLines.filter((l) => l.level === 30)).toEqual([
      expect.objectContaining({ msg: 'Retours pour boutique: Ma Boutique (Terminal: Terminal messie vanza)', status: 201, route: RETOURS, recus: 2, crees: 1, refuses: 1 }),
    ]);
  });

  it('the answer stays under 1 MiB: past it, created returns come with lignes: [] and lignes_omises, yet are stored whole', async () => {
    const s = await setup();
    // Sales of 1,000 one-unit lines at alternating prices: giving all back echoes 1,000 lines each.
    const sales = Array.from({ length: 12 }, (_, v) =>
      vente(`BIG-${v}`, Array.from({ length: 1000 }, (_, i) => ({ article_id: 9, quantite: 1, prix_unitaire: i % 2 === 0 ? '1.00' : '2.00' }))),
    );
    s.db.prepare('UPDATE articles SET quantite_stock = 100000 WHERE id = 9').run();
    expect((await s.sync(sales)).statusCode).toBe(201);
    const res = await s.retours(sales.map((_, v) => retour(`RBIG-${v}`, `BIG-${v}`, [{ article_id: 9, quantite: 1000 }])));
    expect(res.statusCode).toBe(201);
    expect(res.rawPayload.length).toBeLessThan(MAX_SYNC_ANSWER_BYTES + 64 * 1024);
    const crees = res.json().retours_crees as Array<{ montant_total: string; lignes: unknown[]; lignes_omises?: number }>;
    expect(crees).toHaveLength(12);
    expect(crees.every((r) => r.montant_total === '1500.00')).toBe(true);
    expect(crees[0]!.lignes).toHaveLength(1000);
    expect(crees.at(-1)).toMatchObject({ lignes: [], lignes_omises: 1000 });
    expect(s.ligneRetourCount()).toBe(12_000);
  });
});
