import { createHash, createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { CatalogueError, createCatalogueStore } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { importFixture } from '../src/fixture-import.js';
import { createRelayRegistry } from '../src/relay-registry.js';
import { createSaleReader } from '../src/sale-reader.js';
import { MAX_CLOCK_AHEAD_MS } from '../src/sale-writer.js';
import { checkAnswersAgainstOpenApi } from './openapi-conformance.js';
import { OTHER_SERIAL, SERIAL, SYNC, openTestDb, vente } from './helpers.js';

// CONTRACT §7 on the server: shop-local days, till clocks ahead, offline sales against stock.

const HISTORIQUE = '/api/v2/simple/ventes/historique/';
const STATISTIQUES = '/api/v2/simple/statistiques/';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup(start = '2025-10-29T10:00:00.000Z') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const db = openTestDb();
  let now = new Date(start);
  const app = await buildApp({ db, logger: pino({ level: 'warn' }, stream), now: () => now });
  checkAnswersAgainstOpenApi(app);
  open.push(async () => {
    await app.close();
    db.close();
  });
  const catalogue = createCatalogueStore(db);
  const sync = (body: unknown, serial = SERIAL, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'application/json', 'x-device-serial': serial, ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (url: string, serial = SERIAL) => app.inject({ method: 'GET', url, headers: { 'x-device-serial': serial } });
  const stock = (id: number) => db.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(id) as number;
  const chiffres = (boutique: number) =>
    db.prepare('SELECT jour, mode_paiement, nombre_ventes, montant_total FROM chiffres_jour WHERE boutique_id = ? ORDER BY jour, mode_paiement').all(boutique);
  return {
    db,
    app,
    catalogue,
    sync,
    get,
    stock,
    chiffres,
    lines,
    setNow: (iso: string) => (now = new Date(iso)),
  };
}

const numeros = (body: { ventes: Array<{ numero_facture: string }> }) => body.ventes.map((v) => v.numero_facture);

describe('local days (CONTRACT §7)', () => {
  it("a sale at 00:30 in Kinshasa (+1) counts in that day's statistics, one at 23:59 the day before does not", async () => {
    const s = await setup('2025-10-28T23:45:00.000Z'); // 00:45 on the 29th in Kinshasa
    s.catalogue.setBoutique(2, { fuseau: 'Africa/Kinshasa' });
    const res = await s.sync([
      vente('K-2359', [{ article_id: 6 }], { date_vente: '2025-10-28T23:59:00+01:00' }),
      vente('K-0030', [{ article_id: 7 }], { date_vente: '2025-10-29T00:30:00+01:00' }),
    ]);
    expect(res.statusCode).toBe(201);
    const stats = (await s.get(STATISTIQUES)).json().statistiques;
    expect(stats.aujourd_hui).toMatchObject({ date: '2025-10-29', nombre_ventes: 1, chiffre_affaires: '25000.00' });
    expect(stats.total).toMatchObject({ nombre_ventes: 2 });
    expect(s.chiffres(2)).toEqual([
      { jour: '2025-10-28', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4_000_000 },
      { jour: '2025-10-29', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 2_500_000 },
    ]);
  });

  it('in Lubumbashi (+2) the day turns at 22:00 UTC, for the totals and for the history filters', async () => {
    const s = await setup('2025-10-30T12:00:00.000Z');
    s.catalogue.setBoutique(3, { fuseau: 'Africa/Lubumbashi' });
    await s.sync(
      [
        vente('L-1', [{ article_id: 8 }], { date_vente: '2025-10-28T21:59:59Z' }), // 23:59:59 on the 28th
        vente('L-2', [{ article_id: 8 }], { date_vente: '2025-10-28T22:00:00Z' }), // 00:00 on the 29th
        vente('L-3', [{ article_id: 8 }], { date_vente: '2025-10-29T21:59:59Z' }), // 23:59:59 on the 29th
        vente('L-4', [{ article_id: 8 }], { date_vente: '2025-10-29T22:00:00Z' }), // 00:00 on the 30th
      ],
      OTHER_SERIAL,
    );
    expect(s.chiffres(3).map((c: any) => [c.jour, c.nombre_ventes])).toEqual([
      ['2025-10-28', 1],
      ['2025-10-29', 2],
      ['2025-10-30', 1],
    ]);
    const day = (await s.get(`${HISTORIQUE}?date_debut=2025-10-29&date_fin=2025-10-29`, OTHER_SERIAL)).json();
    expect(numeros(day)).toEqual(['L-3', 'L-2']);
    expect(day.total).toBe(2);
    const from30 = (await s.get(`${HISTORIQUE}?date_debut=2025-10-30`, OTHER_SERIAL)).json();
    expect(numeros(from30)).toEqual(['L-4']);
    const upTo28 = (await s.get(`${HISTORIQUE}?date_fin=2025-10-28`, OTHER_SERIAL)).json();
    expect(numeros(upTo28)).toEqual(['L-1']);
    // An instant bound stays an instant.
    const instant = (await s.get(`${HISTORIQUE}?date_debut=2025-10-28T22:00:00Z&date_fin=2025-10-29T21:59:59Z`, OTHER_SERIAL)).json();
    expect(numeros(instant)).toEqual(['L-3', 'L-2']);
  });

  it('history days in Kinshasa run from 23:00 UTC the day before', async () => {
    const s = await setup();
    s.catalogue.setBoutique(2, { fuseau: 'Africa/Kinshasa' });
    await s.sync([
      vente('H-1', [{ article_id: 7 }], { date_vente: '2025-10-28T22:59:59.999Z' }),
      vente('H-2', [{ article_id: 7 }], { date_vente: '2025-10-28T23:00:00.000Z' }),
      vente('H-3', [{ article_id: 7 }], { date_vente: '2025-10-29T09:00:00.000Z' }),
    ]);
    expect(numeros((await s.get(`${HISTORIQUE}?date_debut=2025-10-29&date_fin=2025-10-29`)).json())).toEqual(['H-3', 'H-2']);
    expect(numeros((await s.get(`${HISTORIQUE}?date_fin=2025-10-28`)).json())).toEqual(['H-1']);
  });

  it("a new zone moves the boutique's stored sales to their new local days, statistics included", async () => {
    const s = await setup('2025-10-28T23:30:00.000Z');
    await s.sync([vente('Z-1', [{ article_id: 6 }], { date_vente: '2025-10-28T23:10:00Z' })]);
    expect((await s.get(STATISTIQUES)).json().statistiques.aujourd_hui).toMatchObject({ date: '2025-10-28', nombre_ventes: 1 });
    const changed = s.catalogue.setBoutique(2, { fuseau: 'Africa/Kinshasa' });
    expect(changed).toMatchObject({ fuseau: 'Africa/Kinshasa', totauxRecalcules: true });
    expect(s.chiffres(2)).toEqual([{ jour: '2025-10-29', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4_000_000 }]);
    expect((await s.get(STATISTIQUES)).json().statistiques.aujourd_hui).toMatchObject({ date: '2025-10-29', nombre_ventes: 1 });
    // Back to UTC: back to the 28th. Other boutiques are not touched.
    const other = s.chiffres(3);
    s.catalogue.setBoutique(2, { fuseau: 'UTC' });
    expect(s.chiffres(2)).toEqual([{ jour: '2025-10-28', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4_000_000 }]);
    expect(s.chiffres(3)).toEqual(other);
  });

  it('the import file sets the zone, and a file leaving it out keeps the one set', async () => {
    const s = await setup();
    const at = new Date('2025-10-29T10:00:00Z');
    expect(importFixture(s.db, s.catalogue, { boutiques: [{ id: 2, nom: 'Ma Boutique', fuseau: 'Africa/Kinshasa' }] }, at).ok).toBe(true);
    expect(s.catalogue.getBoutique(2)).toMatchObject({ fuseau: 'Africa/Kinshasa', stock_negatif: 'refuser' });
    expect(importFixture(s.db, s.catalogue, { boutiques: [{ id: 2, nom: 'Ma Boutique' }] }, at).ok).toBe(true);
    expect(s.catalogue.getBoutique(2)).toMatchObject({ fuseau: 'Africa/Kinshasa' });
    expect(importFixture(s.db, s.catalogue, { boutiques: [{ id: 7, nom: 'Neuve' }] }, at).ok).toBe(true);
    expect(s.catalogue.getBoutique(7)).toMatchObject({ fuseau: 'UTC', stock_negatif: 'refuser' });
  });

  it('a zone that does not exist, or a stock rule that is not one of the two, is refused with its code and nothing changes', async () => {
    const s = await setup();
    await s.sync([vente('B-1', [{ article_id: 6 }])]);
    const before = { boutique: s.catalogue.getBoutique(2), chiffres: s.chiffres(2) };
    const refusal = (change: () => unknown) => {
      try {
        change();
      } catch (error) {
        return error instanceof CatalogueError ? [error.code, error.message] : error;
      }
      return 'accepted';
    };
    expect(refusal(() => s.catalogue.setBoutique(2, { fuseau: 'Africa/Atlantis' }))).toEqual([
      'INVALID_FUSEAU',
      expect.stringMatching(/Fuseau horaire invalide « Africa\/Atlantis ».*INVALID_FUSEAU/),
    ]);
    expect(refusal(() => s.catalogue.setBoutique(2, { fuseau: '+01:00', nom: 'Autre nom' }))).toEqual(['INVALID_FUSEAU', expect.any(String)]);
    expect(refusal(() => s.catalogue.setBoutique(2, { stock_negatif: 'parfois' }))).toEqual([
      'INVALID_STOCK_NEGATIF',
      expect.stringContaining('refuser ou autoriser'),
    ]);
    expect(refusal(() => s.catalogue.addBoutique('Neuve', 'CDF', 9, { fuseau: 'Mars/Olympus' }))).toEqual(['INVALID_FUSEAU', expect.any(String)]);
    expect({ boutique: s.catalogue.getBoutique(2), chiffres: s.chiffres(2) }).toEqual(before);
    expect(s.catalogue.findBoutique(9)).toBeUndefined();

    const bad = importFixture(
      s.db,
      s.catalogue,
      {
        boutiques: [
          { id: 2, nom: 'Ma Boutique', fuseau: 'Africa/Atlantis' },
          { id: 3, nom: 'Gombe', stock_negatif: 'oui' },
        ],
      },
      new Date(),
    );
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problemes).toEqual([
      expect.stringMatching(/^boutiques\[0\]\.fuseau : Fuseau horaire invalide .*INVALID_FUSEAU/),
      expect.stringMatching(/^boutiques\[1\]\.stock_negatif : .*INVALID_STOCK_NEGATIF/),
    ]);
    expect(s.catalogue.getBoutique(2)).toEqual(before.boutique);
  });
});

describe('till clocks (CONTRACT §7)', () => {
  const NOW = '2025-10-29T10:00:00.000Z';
  const plus = (ms: number) => new Date(Date.parse(NOW) + ms).toISOString();

  it('a date more than 10 minutes ahead is replaced by the reception time, the till’s kept and shown, a warning logged', async () => {
    const s = await setup(NOW);
    const ahead = plus(MAX_CLOCK_AHEAD_MS + 1000);
    const res = await s.sync([
      vente('C-AHEAD', [{ article_id: 6 }], { date_vente: ahead }),
      vente('C-EDGE', [{ article_id: 6 }], { date_vente: plus(MAX_CLOCK_AHEAD_MS) }),
    ]);
    expect(res.statusCode).toBe(201);
    expect(res.json().statistiques).toEqual({ total_envoyees: 2, reussies: 2, erreurs: 0 });
    const rows = s.db.prepare('SELECT numero_facture, date_vente, date_reception, date_vente_caisse FROM ventes ORDER BY id').all();
    expect(rows).toEqual([
      { numero_facture: 'C-AHEAD', date_vente: NOW, date_reception: NOW, date_vente_caisse: ahead },
      { numero_facture: 'C-EDGE', date_vente: plus(MAX_CLOCK_AHEAD_MS), date_reception: NOW, date_vente_caisse: null },
    ]);
    const history = (await s.get(HISTORIQUE)).json().ventes;
    expect(history.find((v: any) => v.numero_facture === 'C-AHEAD')).toMatchObject({ date_vente: NOW, date_vente_caisse: ahead });
    expect(history.find((v: any) => v.numero_facture === 'C-EDGE')).not.toHaveProperty('date_vente_caisse');
    const warnings = s.lines.filter((l) => l.code === 'HORLOGE_EN_AVANCE');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, numero_facture: 'C-AHEAD', date_vente_caisse: ahead, date_vente: NOW, msg: expect.stringContaining('en avance de 10 min') }),
    ]);
    // Nothing of the request beyond those fields: no body, no header.
    expect(JSON.stringify(warnings)).not.toContain('lignes');
  });

  it('a sale a year ahead counts on the day it was received, not a day to come', async () => {
    const s = await setup(NOW);
    await s.sync([vente('C-YEAR', [{ article_id: 6 }], { date_vente: '2026-10-29T10:00:00Z' })]);
    expect(s.chiffres(2)).toEqual([{ jour: '2025-10-29', mode_paiement: 'CASH', nombre_ventes: 1, montant_total: 4_000_000 }]);
    expect((await s.get(STATISTIQUES)).json().statistiques.aujourd_hui.nombre_ventes).toBe(1);
  });

  it('the same sale sent again with the same till date is identique: true, even though its stored date was replaced', async () => {
    const s = await setup(NOW);
    const sale = vente('C-RESEND', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }], { date_vente: plus(3_600_000) });
    expect((await s.sync([sale])).statusCode).toBe(201);
    s.setNow(plus(60_000)); // the resend comes a minute later
    const again = (await s.sync([sale])).json();
    expect(again.ventes_erreurs).toEqual([
      expect.objectContaining({
        code: 'DUPLICATE',
        identique: true,
        vente_existante: { numero_facture: 'C-RESEND', montant_total: '40000.00', date_vente: NOW },
      }),
    ]);
    // Another till date under the same numero is another sale.
    const other = (await s.sync([{ ...sale, date_vente: plus(7_200_000) }])).json();
    expect(other.ventes_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    expect(s.db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(1);
  });
});

// Signatures computed here from the text of CONTRACT §6.
function sign(secret: string, method: string, url: string, body: string, t: number): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

describe('offline sales and stock (CONTRACT §7)', () => {
  // Article 10 "Chargeur" of boutique 2 starts with 2 in stock.
  const shortSale = (numero: string, quantite: number) => vente(numero, [{ article_id: 10, quantite }, { article_id: 7 }]);
  const sorties = (db: Db, articleId: number) =>
    db.prepare("SELECT quantite, stock_avant, stock_apres, reference FROM mouvements_stock WHERE article_id = ? AND type = 'SORTIE' ORDER BY id").all(articleId);

  it('a direct till is still refused INSUFFICIENT_STOCK by default, nothing written', async () => {
    const s = await setup();
    const res = (await s.sync([shortSale('N-1', 5)])).json();
    expect(res.ventes_erreurs[0]).toMatchObject({ code: 'INSUFFICIENT_STOCK' });
    expect([s.stock(10), sorties(s.db, 10)]).toEqual([2, []]);
  });

  it('a boutique set to "autoriser" creates the sale: stock below zero, SORTIE recorded, STOCK_NEGATIF with the shortfall', async () => {
    const s = await setup();
    s.catalogue.setBoutique(2, { stock_negatif: 'autoriser' });
    const first = await s.sync([shortSale('N-1', 5)]);
    expect(first.statusCode).toBe(201);
    expect(first.json().ventes_creees[0]).toMatchObject({
      numero_facture: 'N-1',
      avertissements: [{ code: 'STOCK_NEGATIF', article_id: 10, manque: 3 }],
    });
    expect(s.stock(10)).toBe(-3);
    // Two lines of the same article count together; a stock already below zero is all short.
    const second = (await s.sync([vente('N-2', [{ article_id: 10 }, { article_id: 10, quantite: 2 }])])).json();
    expect(second.ventes_creees[0].avertissements).toEqual([{ code: 'STOCK_NEGATIF', article_id: 10, manque: 3 }]);
    expect(s.stock(10)).toBe(-6);
    expect(sorties(s.db, 10)).toEqual([
      { quantite: 5, stock_avant: 2, stock_apres: -3, reference: 'N-1' },
      { quantite: 1, stock_avant: -3, stock_apres: -4, reference: 'N-2' },
      { quantite: 2, stock_avant: -4, stock_apres: -6, reference: 'N-2' },
    ]);
    // A sale with stock enough carries no warning at all.
    const fine = (await s.sync([vente('N-3', [{ article_id: 7 }])])).json();
    expect(fine.ventes_creees[0]).not.toHaveProperty('avertissements');
    const stats = (await s.get(STATISTIQUES)).json().statistiques;
    expect(stats.articles_stock_negatif).toEqual([{ id: 10, nom: 'Chargeur', quantite_stock: -6 }]);
  });

  it('a sale forwarded by a registered relay is created short of stock even in a "refuser" boutique; a direct one is not', async () => {
    const s = await setup();
    const relay = createRelayRegistry(s.db).add('Relais Ma Boutique', [2]);
    const body = JSON.stringify([shortSale('R-1', 4)]);
    const t = Math.floor(Date.parse('2025-10-29T10:00:00Z') / 1000);
    const res = await s.sync(body, SERIAL, { 'x-relay-id': String(relay.id), 'x-signature': sign(relay.secret, 'POST', SYNC, body, t) });
    expect(res.statusCode).toBe(201);
    expect(res.json().ventes_creees[0].avertissements).toEqual([{ code: 'STOCK_NEGATIF', article_id: 10, manque: 2 }]);
    expect(s.stock(10)).toBe(-2);
    expect(s.lines.filter((l) => l.code === 'STOCK_NEGATIF')).toEqual([
      expect.objectContaining({ level: 40, numero_facture: 'R-1', article_id: 10, manque: 2, via_relais: true }),
    ]);
    const direct = (await s.sync([shortSale('D-1', 1)])).json();
    expect(direct.ventes_erreurs[0].code).toBe('INSUFFICIENT_STOCK');
    expect(s.stock(10)).toBe(-2);
  });

  it('lists the articles below zero with the sales that took them there, and a delivery brings them back', async () => {
    const s = await setup();
    s.catalogue.setBoutique(2, { stock_negatif: 'autoriser' });
    await s.sync([shortSale('S-1', 1), shortSale('S-2', 2), shortSale('S-3', 1)]);
    const reader = createSaleReader(s.db);
    expect(reader.stockNegatif(2)).toEqual([
      {
        id: 10,
        boutique_id: 2,
        nom: 'Chargeur',
        quantite_stock: -2,
        // S-1 left the stock at 1 (not below zero): only the two that took it below are listed.
        ventes: [
          expect.objectContaining({ numero_facture: 'S-2', terminal_serial: SERIAL, quantite: 2, stock_avant: 1, stock_apres: -1 }),
          expect.objectContaining({ numero_facture: 'S-3', quantite: 1, stock_avant: -1, stock_apres: -2 }),
        ],
        ventes_omises: 0,
      },
    ]);
    // A delivery smaller than the shortfall is taken, the stock stays below zero.
    expect(s.catalogue.addStock(10, 1, new Date())).toMatchObject({ type: 'ENTREE', stock_avant: -2, stock_apres: -1 });
    expect(reader.stockNegatif(2)[0]?.quantite_stock).toBe(-1);
    s.catalogue.addStock(10, 5, new Date());
    expect(s.stock(10)).toBe(4);
    expect(reader.stockNegatif(null)).toEqual([]);
    expect((await s.get(STATISTIQUES)).json().statistiques.articles_stock_negatif).toEqual([]);
    // A count cannot set a negative stock, and a removal still cannot go below zero.
    expect(() => s.catalogue.setStock(10, -1, new Date())).toThrow(CatalogueError);
  });
});
