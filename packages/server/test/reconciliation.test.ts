import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { createReconciliationReader } from '../src/reconciliation-reader.js';
import { MAX_RECONCILIATIONS_WAITING, RECONCILIATION_RETRY_AFTER_SECONDS } from '../src/routes/reconciliation.js';
import { SECOND_SERIAL, SERIAL, testApp, vente } from './helpers.js';

const PATH = '/api/v2/simple/reconciliation/';
/** The page size the answer promises (MAX_RECONCILIATION_DETAIL), restated: a change must be deliberate. */
const PAGE = 1000;

let t: Awaited<ReturnType<typeof testApp>>;
let now = new Date('2025-10-30T10:00:00.000Z');

beforeEach(async () => {
  now = new Date('2025-10-30T10:00:00.000Z');
  t = await testApp({ now: () => now });
  t.db.prepare('UPDATE articles SET quantite_stock = 1000000').run();
});
afterEach(async () => {
  await t.close();
});

/**
 * §7 read as text, independently of the server's code: the lines
 * "{numero_facture}:{montant_total in centimes}\n", sorted by numero_facture in UTF-8 byte
 * order, hashed with SHA-256, in hex.
 */
function empreinteOf(sales: Array<[numero: string, centimes: number]>): string {
  const sorted = [...sales].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return createHash('sha256')
    .update(sorted.map(([numero, centimes]) => `${numero}:${centimes}\n`).join(''), 'utf8')
    .digest('hex');
}

const day = (jour: string, extra = '', serial = SERIAL) => t.get(`${PATH}?jour=${jour}${extra}`, serial);

/** A sale of `prix` (a money string) at `date`, on article 9. */
const sale = (numero: string, prix: string, date: string) =>
  vente(numero, [{ article_id: 9, quantite: 1, prix_unitaire: prix }], { date_vente: date });

describe('GET reconciliation: one till, one day', () => {
  it('counts the till’s sales of the day, totals them as money and fingerprints them as §7 says', async () => {
    await t.sync([
      sale('FAC-002', '1500.00', '2025-10-29T09:00:00Z'),
      sale('FAC-001', '40000.00', '2025-10-29T12:00:00Z'),
      sale('FAC-010', '19.99', '2025-10-29T23:59:59.999Z'),
      sale('FAC-HIER', '5.00', '2025-10-28T23:59:59.999Z'),
      sale('FAC-DEMAIN', '5.00', '2025-10-30T00:00:00Z'),
    ]);
    await t.sync([sale('AUTRE-CAISSE', '7.00', '2025-10-29T10:00:00Z')], SECOND_SERIAL);

    const res = await day('2025-10-29');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      success: true,
      boutique_id: 2,
      terminal: 'Terminal messie vanza',
      jour: '2025-10-29',
      fuseau: 'UTC',
      nombre_ventes: 3,
      montant_total: '41519.99',
      empreinte: empreinteOf([
        ['FAC-001', 4000000],
        ['FAC-002', 150000],
        ['FAC-010', 1999],
      ]),
    });
    // The other till of the boutique gets its own day.
    const other = (await day('2025-10-29', '', SECOND_SERIAL)).json();
    expect(other).toMatchObject({ terminal: 'Caisse 2', nombre_ventes: 1, montant_total: '7.00', empreinte: empreinteOf([['AUTRE-CAISSE', 700]]) });
  });

  it('hashes the empty string for a day without sales', async () => {
    const body = (await day('2025-10-29')).json();
    expect(body).toMatchObject({ nombre_ventes: 0, montant_total: '0.00' });
    expect(body.empreinte).toBe(createHash('sha256').update('').digest('hex'));
    expect(body.empreinte).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('sorts by UTF-8 bytes, not by JavaScript’s UTF-16 order (Ａ U+FF21 before 😀 U+1F600)', async () => {
    const fullwidth = '\uFF21';
    const emoji = '\u{1F600}';
    // The two orders disagree on this pair: the test means something.
    expect([emoji, fullwidth].sort()).toEqual([emoji, fullwidth]);
    await t.sync([sale(emoji, '1.00', '2025-10-29T09:00:00Z'), sale(fullwidth, '2.00', '2025-10-29T09:00:00Z'), sale('Z', '3.00', '2025-10-29T09:00:00Z')]);

    const body = (await day('2025-10-29', '&detail=1')).json();
    const expected = createHash('sha256').update(`Z:300\n${fullwidth}:200\n${emoji}:100\n`, 'utf8').digest('hex');
    expect(body.empreinte).toBe(expected);
    expect(body.empreinte).toBe(empreinteOf([[emoji, 100], [fullwidth, 200], ['Z', 300]]));
    expect(body.ventes.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['Z', fullwidth, emoji]);
  });

  it('counts each sale net of its returns (all its returns so far, whatever their day)', async () => {
    await t.sync([
      vente('FAC-R', [{ article_id: 7, quantite: 3, prix_unitaire: '25000.00' }], { date_vente: '2025-10-29T09:00:00Z' }),
      sale('FAC-S', '10.00', '2025-10-29T10:00:00Z'),
    ]);
    const retour = (numero: string, quantite: number) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v2/simple/ventes/retours/',
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        payload: JSON.stringify([{ numero_retour: numero, numero_facture: 'FAC-R', lignes: [{ article_id: 7, quantite }], date_retour: '2025-10-30T08:00:00Z' }]),
      });
    expect((await retour('RET-1', 1)).statusCode).toBe(201);
    expect((await retour('RET-2', 1)).statusCode).toBe(201);

    const body = (await day('2025-10-29', '&detail=1')).json();
    expect(body).toMatchObject({ nombre_ventes: 2, montant_total: '25010.00', empreinte: empreinteOf([['FAC-R', 2500000], ['FAC-S', 1000]]) });
    expect(body.ventes).toEqual([
      { numero_facture: 'FAC-R', montant_total: '25000.00', montant_retours: '50000.00', retours: ['RET-1', 'RET-2'] },
      { numero_facture: 'FAC-S', montant_total: '10.00' },
    ]);
    // A return deleted by hand: the sale's detail no longer names it (a relay that forwarded it can say which).
    t.db.prepare("DELETE FROM lignes_retour WHERE retour_id = (SELECT id FROM retours WHERE numero_retour = 'RET-1')").run();
    t.db.prepare("DELETE FROM retours WHERE numero_retour = 'RET-1'").run();
    expect((await day('2025-10-29', '&detail=1')).json().ventes[0]).toEqual({
      numero_facture: 'FAC-R',
      montant_total: '50000.00',
      montant_retours: '25000.00',
      retours: ['RET-2'],
    });
  });

  it('no longer counts a sale deleted from the database by hand, and its detail no longer names it', async () => {
    await t.sync([sale('FAC-1', '10.00', '2025-10-29T09:00:00Z'), sale('FAC-2', '20.00', '2025-10-29T10:00:00Z')]);
    t.db.prepare("DELETE FROM lignes_vente WHERE vente_id = (SELECT id FROM ventes WHERE numero_facture = 'FAC-2')").run();
    t.db.prepare("DELETE FROM ventes WHERE numero_facture = 'FAC-2'").run();

    const body = (await day('2025-10-29', '&detail=1')).json();
    expect(body).toMatchObject({ nombre_ventes: 1, montant_total: '10.00', empreinte: empreinteOf([['FAC-1', 1000]]) });
    expect(body.ventes).toEqual([{ numero_facture: 'FAC-1', montant_total: '10.00' }]);
    expect(body.suite).toBeNull();
  });
});

describe('GET reconciliation: the boutique’s local day', () => {
  // 22:30 and 23:30 UTC on the 28th: 23:30 and 00:30 in Kinshasa (+1), 00:30 and 01:30 in Lubumbashi (+2).
  beforeEach(async () => {
    await t.sync([
      sale('AVANT-MINUIT-UTC-1', '1.00', '2025-10-28T22:30:00Z'),
      sale('APRES-MINUIT-UTC-1', '2.00', '2025-10-28T23:30:00Z'),
      sale('FIN-29-UTC-1', '4.00', '2025-10-29T22:59:59.999Z'),
      sale('DEBUT-30-UTC-1', '8.00', '2025-10-29T23:00:00Z'),
    ]);
  });
  const setFuseau = (fuseau: string) => t.db.prepare('UPDATE boutiques SET fuseau = ? WHERE id = 2').run(fuseau);
  const numeros = async (jour: string) =>
    ((await day(jour, '&detail=1')).json().ventes as Array<{ numero_facture: string }>).map((v) => v.numero_facture);

  it('in a +1 zone (Africa/Kinshasa) the day runs from 23:00 UTC the day before to 23:00 UTC', async () => {
    setFuseau('Africa/Kinshasa');
    const body = (await day('2025-10-29')).json();
    expect(body).toMatchObject({ fuseau: 'Africa/Kinshasa', nombre_ventes: 2, montant_total: '6.00' });
    expect(await numeros('2025-10-29')).toEqual(['APRES-MINUIT-UTC-1', 'FIN-29-UTC-1']);
    expect(await numeros('2025-10-28')).toEqual(['AVANT-MINUIT-UTC-1']);
    expect(await numeros('2025-10-30')).toEqual(['DEBUT-30-UTC-1']);
  });

  it('in a +2 zone (Africa/Lubumbashi) the day runs from 22:00 UTC the day before to 22:00 UTC', async () => {
    setFuseau('Africa/Lubumbashi');
    expect((await day('2025-10-29')).json()).toMatchObject({ fuseau: 'Africa/Lubumbashi', nombre_ventes: 2, montant_total: '3.00' });
    expect(await numeros('2025-10-29')).toEqual(['APRES-MINUIT-UTC-1', 'AVANT-MINUIT-UTC-1']);
    expect(await numeros('2025-10-28')).toEqual([]);
    // 22:59:59.999 UTC is already 00:59 on the 30th there.
    expect(await numeros('2025-10-30')).toEqual(['DEBUT-30-UTC-1', 'FIN-29-UTC-1']);
  });

  it('in UTC the same sales fall on the UTC days', async () => {
    expect(await numeros('2025-10-28')).toEqual(['APRES-MINUIT-UTC-1', 'AVANT-MINUIT-UTC-1']);
    expect(await numeros('2025-10-29')).toEqual(['DEBUT-30-UTC-1', 'FIN-29-UTC-1']);
  });
});

describe('GET reconciliation: detail in bounded pages', () => {
  it(`lists at most ${PAGE} sales per answer and pages on with apres=suite until suite is null`, async () => {
    const total = 2 * PAGE + 50;
    const all: Array<[string, number]> = [];
    for (let start = 0; start < total; start += 500) {
      const batch = [];
      for (let i = start; i < Math.min(total, start + 500); i += 1) {
        const numero = `P-${String(i).padStart(5, '0')}`;
        batch.push(sale(numero, `${i}.00`, '2025-10-29T12:00:00Z'));
        all.push([numero, i * 100]);
      }
      expect((await t.sync(batch)).statusCode).toBe(201);
    }

    const seen: Array<[string, number]> = [];
    let apres: string | null = null;
    let pages = 0;
    do {
      const res = await day('2025-10-29', `&detail=1${apres === null ? '' : `&apres=${encodeURIComponent(apres)}`}`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      // Every page carries the whole day's figures.
      expect(body).toMatchObject({ nombre_ventes: total, empreinte: empreinteOf(all) });
      expect(body.ventes.length).toBeLessThanOrEqual(PAGE);
      for (const v of body.ventes as Array<{ numero_facture: string; montant_total: string }>) {
        seen.push([v.numero_facture, Math.round(Number(v.montant_total) * 100)]);
      }
      apres = body.suite;
      pages += 1;
    } while (apres !== null && pages < 10);

    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    expect(empreinteOf(seen)).toBe(empreinteOf(all));
  });

  it('without detail, lists nothing', async () => {
    await t.sync([sale('FAC-1', '10.00', '2025-10-29T09:00:00Z')]);
    const body = (await day('2025-10-29', '&detail=0')).json();
    expect(body).not.toHaveProperty('ventes');
    expect(body).not.toHaveProperty('suite');
    expect(body.nombre_ventes).toBe(1);
  });
});

describe('GET reconciliation: bad requests', () => {
  it.each([
    ['no jour', ''],
    ['an empty jour', 'jour='],
    ['a day that does not exist', 'jour=2026-02-30'],
    ['a month 13', 'jour=2026-13-01'],
    ['a date without its zeros', 'jour=2026-2-3'],
    ['a date-time', 'jour=2025-10-29T00:00:00Z'],
    ['words', 'jour=hier'],
    ['jour given twice', 'jour=2025-10-29&jour=2025-10-29'],
    ['detail=2', 'jour=2025-10-29&detail=2'],
    ['detail=true', 'jour=2025-10-29&detail=true'],
    ['detail given twice', 'jour=2025-10-29&detail=1&detail=1'],
    ['apres without detail', 'jour=2025-10-29&apres=FAC-1'],
    ['an empty apres', 'jour=2025-10-29&detail=1&apres='],
    ['an apres longer than a numero', `jour=2025-10-29&detail=1&apres=${'X'.repeat(65)}`],
    // No numero holds one; PostgreSQL's text cannot carry a NUL at all (it answered 500).
    ['an apres holding a NUL byte', 'jour=2025-10-29&detail=1&apres=A%00'],
    ['an apres holding a control character', 'jour=2025-10-29&detail=1&apres=A%1B'],
  ])('%s: 400 INVALID_QUERY naming the parameter', async (_case, query) => {
    const res = await t.get(`${PATH}?${query}`);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('INVALID_QUERY');
    expect(body.error).toMatch(/^Paramètre invalide : (jour|detail|apres) : /);
  });

  it('answers the first and last days a date can have, in zones on both sides of UTC', async () => {
    for (const fuseau of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'UTC']) {
      t.db.prepare('UPDATE boutiques SET fuseau = ? WHERE id = 2').run(fuseau);
      for (const jour of ['0000-01-01', '9999-12-31']) {
        const res = await day(jour);
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ jour, fuseau, nombre_ventes: 0 });
      }
    }
  });

  it('is documented with its three parameters, from the schema that checks them', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const parameters = doc.paths[PATH].get.parameters as Array<{ name: string; required: boolean }>;
    expect(parameters.map((p) => [p.name, p.required])).toEqual([
      ['jour', true],
      ['detail', false],
      ['apres', false],
    ]);
  });

  it('asks the serial like every /api/ route: 400 without it, 404 for an unknown till', async () => {
    expect((await t.app.inject({ method: 'GET', url: `${PATH}?jour=2025-10-29` })).json().code).toBe('MISSING_SERIAL');
    expect((await day('2025-10-29', '', 'inconnu')).json().code).toBe('TERMINAL_NOT_FOUND');
  });

  it('asks a till with a secret to sign, and answers it when it does (§6)', async () => {
    const { secret } = createCatalogueStore(t.db).issueTerminalSecret(SERIAL, false);
    const url = `${PATH}?jour=2025-10-29`;
    expect((await t.get(url)).json().code).toBe('SIGNATURE_REQUIRED');
    const ts = Math.floor(now.getTime() / 1000);
    const v1 = createHmac('sha256', Buffer.from(secret, 'utf8'))
      .update(`${ts}.GET.${url}.${createHash('sha256').update('').digest('hex')}`)
      .digest('hex');
    const res = await t.app.inject({ method: 'GET', url, headers: { 'x-device-serial': SERIAL, 'x-signature': `t=${ts},v1=${v1}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().nombre_ventes).toBe(0);
  });
});

describe('reconciliation under load', () => {
  it('a day is computed once, and again as soon as anything is written', async () => {
    await t.sync([sale('FAC-1', '10.00', '2025-10-29T09:00:00Z')]);
    const reader = createReconciliationReader(t.db);
    const first = reader.day(2, SERIAL, '2025-10-29');
    expect(reader.cached(2, SERIAL, '2025-10-29')).toBe(first);
    expect(reader.day(2, SERIAL, '2025-10-29')).toBe(first);

    await t.sync([sale('FAC-2', '5.00', '2025-10-29T10:00:00Z')]);
    expect(reader.cached(2, SERIAL, '2025-10-29')).toBeUndefined();
    expect(reader.day(2, SERIAL, '2025-10-29')).toMatchObject({ nombre_ventes: 2, montant_total: 1500n });

    // A sale removed by hand is seen at once.
    t.db.prepare("DELETE FROM lignes_vente WHERE vente_id = (SELECT id FROM ventes WHERE numero_facture = 'FAC-1')").run();
    t.db.prepare("DELETE FROM ventes WHERE numero_facture = 'FAC-1'").run();
    expect(reader.day(2, SERIAL, '2025-10-29')).toMatchObject({ nombre_ventes: 1, montant_total: 500n });
  });

  it(`beyond ${MAX_RECONCILIATIONS_WAITING} days waiting to be computed, 503 OVERLOADED with Retry-After; the same day asked by many at once is computed once for all`, async () => {
    await t.sync([sale('FAC-1', '10.00', '2025-10-29T09:00:00Z')]);
    const jours = Array.from({ length: MAX_RECONCILIATIONS_WAITING + 6 }, (_, i) => `2025-10-${String(10 + i).padStart(2, '0')}`);
    const answers = await Promise.all(jours.map((jour) => day(jour)));
    const refused = answers.filter((r) => r.statusCode === 503);
    expect(answers.filter((r) => r.statusCode === 200).length).toBeGreaterThanOrEqual(MAX_RECONCILIATIONS_WAITING);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.json().code).toBe('OVERLOADED');
      expect(r.headers['retry-after']).toBe(String(RECONCILIATION_RETRY_AFTER_SECONDS));
    }

    // The same day asked by many at once: computed once, the others wait for that computation.
    const same = await Promise.all(Array.from({ length: 3 * MAX_RECONCILIATIONS_WAITING }, () => day('2025-10-29')));
    expect(same.map((r) => r.statusCode)).toEqual(same.map(() => 200));
    expect(new Set(same.map((r) => r.json().empreinte)).size).toBe(1);
    expect(same[0]!.json()).toMatchObject({ nombre_ventes: 1, montant_total: '10.00' });
  });
});
