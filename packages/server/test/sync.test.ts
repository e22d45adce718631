import { legacyVenteFingerprint, validateVente } from '@ventesync/shared';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { INACTIVE_SERIAL, OTHER_SERIAL, openTestDb, SECOND_SERIAL, SERIAL, SYNC, testApp, vente } from './helpers.js';

let t: Awaited<ReturnType<typeof testApp>>;
const NOW = new Date('2025-10-29T02:45:00.000Z');

beforeEach(async () => {
  t = await testApp({ now: () => NOW });
});
afterEach(async () => {
  await t.close();
});

describe('the guide examples', () => {
  it("the guide's curl example gets the guide's 201 response, field for field", async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'Content-Type': 'application/json', 'X-Device-Serial': SERIAL },
      payload: `[
    {
      "numero_facture": "TEST-001",
      "mode_paiement": "CASH",
      "paye": true,
      "lignes": [
        {
          "article_id": 6,
          "quantite": 1,
          "prix_unitaire": 40000
        }
      ]
    }
  ]`,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      success: true,
      message: '1 vente(s) synchronisée(s) avec succès',
      boutique_id: 2,
      boutique_nom: 'Ma Boutique',
      terminal: 'Terminal messie vanza',
      statistiques: { total_envoyees: 1, reussies: 1, erreurs: 0 },
      ventes_creees: [
        {
          numero_facture: 'TEST-001',
          montant_total: '40000.00',
          lignes: [{ article_nom: 'Samsung S24', quantite: 1, prix_unitaire: '40000.00', sous_total: '40000.00' }],
        },
      ],
      ventes_erreurs: null,
    });
    expect(t.stock(6)).toBe(99);
  });

  it("the guide's two-sale request creates both, with their amounts", async () => {
    const res = await t.sync([
      vente('VENTE-001', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }]),
      vente('VENTE-002', [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }], { mode_paiement: 'MOBILE_MONEY' }),
    ]);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.message).toBe('2 vente(s) synchronisée(s) avec succès');
    expect(body.statistiques).toEqual({ total_envoyees: 2, reussies: 2, erreurs: 0 });
    expect(body.ventes_creees.map((v: { montant_total: string }) => v.montant_total)).toEqual(['40000.00', '50000.00']);
    expect(body.ventes_creees[1].lignes[0]).toEqual({
      article_nom: 'Écouteurs Bluetooth',
      quantite: 2,
      prix_unitaire: '25000.00',
      sous_total: '50000.00',
    });
  });
});

describe('request-level errors write nothing', () => {
  it('no X-Device-Serial header is 400 MISSING_SERIAL naming the header', async () => {
    const res = await t.app.inject({ method: 'POST', url: SYNC, payload: [vente('A', [{ article_id: 6 }])] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'Numéro de série du terminal requis dans les headers',
      code: 'MISSING_SERIAL',
      header_required: 'X-Device-Serial',
    });
    expect(t.venteCount()).toBe(0);
  });

  it('an empty X-Device-Serial header is MISSING_SERIAL too', async () => {
    const res = await t.sync([vente('A', [{ article_id: 6 }])], '');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MISSING_SERIAL');
  });

  it.each([
    ['an unknown serial', 'inconnu-123'],
    ['an inactive terminal', INACTIVE_SERIAL],
  ])('%s is 404 TERMINAL_NOT_FOUND', async (_label, serial) => {
    const res = await t.sync([vente('A', [{ article_id: 6 }])], serial);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' });
    expect(t.venteCount()).toBe(0);
  });

  it.each([
    ['broken JSON', '[{"numero_facture": "A", '],
    ['an empty body', ''],
    ['plain text', 'bonjour'],
  ])('%s is 400 INVALID_JSON', async (_label, payload) => {
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_JSON');
    expect(res.json().error).toEqual(expect.any(String));
  });

  it.each([
    ['an object', { numero_facture: 'A', lignes: [] }],
    ['a string', 'ventes'],
    ['a number', 42],
    ['null', null],
  ])('JSON that is %s rather than an array is 400 INVALID_FORMAT', async (_label, body) => {
    const res = await t.sync(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'Format invalide: un tableau de ventes est attendu', code: 'INVALID_FORMAT' });
  });

  it('more than 500 sales is 413 BATCH_TOO_LARGE with the limit, and nothing is written', async () => {
    const batch = Array.from({ length: 501 }, (_, i) => vente(`B-${i}`, [{ article_id: 9 }]));
    const res = await t.sync(batch);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'BATCH_TOO_LARGE', limit: 500 });
    expect(t.venteCount()).toBe(0);
    expect(t.stock(9)).toBe(100);
  });

  it('exactly 500 sales is accepted', async () => {
    const batch = Array.from({ length: 500 }, (_, i) => vente(`B-${i}`, [{ article_id: 7, quantite: 1, prix_unitaire: 1 }]));
    await t.db.prepare('UPDATE articles SET quantite_stock = 1000 WHERE id = 7').run();
    const res = await t.sync(batch);
    expect(res.statusCode).toBe(201);
    expect(res.json().statistiques.reussies).toBe(500);
  });

  it('a body over 5 MiB is 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify([vente('BIG', [{ article_id: 6 }], { padding: 'x'.repeat(5 * 1024 * 1024) })]);
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      payload: big,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
    expect(t.venteCount()).toBe(0);
  });

  it('a till that forgets the content type is still read as JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'text/plain', 'x-device-serial': SERIAL },
      payload: JSON.stringify([vente('TXT-1', [{ article_id: 6 }])]),
    });
    expect(res.statusCode).toBe(201);
  });

  it('a body starting with a UTF-8 byte-order mark is still read', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-device-serial': SERIAL },
      payload: Buffer.from(`\uFEFF${JSON.stringify([vente('BOM-1', [{ article_id: 6 }])])}`, 'utf8'),
    });
    expect(res.statusCode).toBe(201);
  });

  it('the path without its trailing slash works too', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: SYNC.slice(0, -1),
      headers: { 'x-device-serial': SERIAL, 'content-type': 'application/json' },
      payload: [vente('NOSLASH', [{ article_id: 6 }])],
    });
    expect(res.statusCode).toBe(201);
  });
});

describe('response status and shape', () => {
  it('an empty array is 200 with success false, zero counts and ventes_erreurs null', async () => {
    const res = await t.sync([]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      success: false,
      message: '0 vente(s) synchronisée(s) avec succès',
      boutique_id: 2,
      boutique_nom: 'Ma Boutique',
      terminal: 'Terminal messie vanza',
      statistiques: { total_envoyees: 0, reussies: 0, erreurs: 0 },
      ventes_creees: [],
      ventes_erreurs: null,
    });
  });

  it('when every sale is rejected the answer is 200 with success false and every error listed', async () => {
    const res = await t.sync([vente('X-1', [{ article_id: 999 }]), vente('X-2', [{ article_id: 6, quantite: 0 }])]);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.success).toBe(false);
    expect(body.statistiques).toEqual({ total_envoyees: 2, reussies: 0, erreurs: 2 });
    expect(body.ventes_erreurs.map((e: { code: string }) => e.code)).toEqual(['ARTICLE_NOT_FOUND', 'INVALID_SALE']);
  });

  it('a partial success is 201 and reports the bad sale with its 1-based index, numero, French reason and code', async () => {
    const res = await t.sync([
      vente('OK-1', [{ article_id: 6 }]),
      vente('KO-2', [{ article_id: 10, quantite: 5 }]),
      vente('OK-3', [{ article_id: 7 }]),
    ]);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.success).toBe(true);
    expect(body.message).toBe('2 vente(s) synchronisée(s) avec succès');
    expect(body.statistiques).toEqual({ total_envoyees: 3, reussies: 2, erreurs: 1 });
    expect(body.ventes_erreurs).toEqual([
      {
        index: 2,
        numero_facture: 'KO-2',
        erreur: 'Stock insuffisant pour Chargeur : demandé 5, disponible 2',
        code: 'INSUFFICIENT_STOCK',
      },
    ]);
  });
});

describe('duplicates', () => {
  const original = vente('DUP-1', [{ article_id: 6, quantite: 2, prix_unitaire: '40000.00' }, { article_id: 7 }], {
    mode_paiement: 'CARTE',
  });

  it('resending a stored sale is a DUPLICATE with identique true and the stored sale, and nothing changes', async () => {
    expect((await t.sync([original])).statusCode).toBe(201);
    const stockAfterFirst = t.stock(6);
    // Same content, lines in another order, price as a number: still the same sale.
    const resent = { ...original, lignes: [{ article_id: 7 }, { article_id: 6, quantite: 2, prix_unitaire: 40000 }] };
    const res = await t.sync([resent]);
    expect(res.statusCode).toBe(200);
    expect(res.json().ventes_erreurs).toEqual([
      {
        index: 1,
        numero_facture: 'DUP-1',
        erreur: 'Vente DUP-1 existe déjà, ignorée',
        code: 'DUPLICATE',
        vente_existante: { numero_facture: 'DUP-1', montant_total: '105000.00', date_vente: NOW.toISOString() },
        identique: true,
      },
    ]);
    expect(t.stock(6)).toBe(stockAfterFirst);
    expect(t.venteCount()).toBe(1);
  });

  it.each([
    ['another quantity', { lignes: [{ article_id: 6, quantite: 3, prix_unitaire: '40000.00' }, { article_id: 7 }] }],
    ['another price', { lignes: [{ article_id: 6, quantite: 2, prix_unitaire: '39000.00' }, { article_id: 7 }] }],
    ['another payment mode', { mode_paiement: 'CASH' }],
    ['another paye', { paye: false }],
    ['another article', { lignes: [{ article_id: 6, quantite: 2, prix_unitaire: '40000.00' }, { article_id: 9 }] }],
  ])('a numero reused for a sale with %s is a DUPLICATE with identique false', async (_label, change) => {
    await t.sync([original]);
    const res = await t.sync([{ ...original, ...change }]);
    const [erreur] = res.json().ventes_erreurs;
    expect(erreur).toMatchObject({ code: 'DUPLICATE', identique: false, vente_existante: { numero_facture: 'DUP-1' } });
  });

  it('a numero used earlier in the same request is a duplicate; the first one is created', async () => {
    const res = await t.sync([vente('SAME', [{ article_id: 6 }]), vente('SAME', [{ article_id: 6 }])]);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.statistiques).toEqual({ total_envoyees: 2, reussies: 1, erreurs: 1 });
    expect(body.ventes_erreurs[0]).toMatchObject({ index: 2, code: 'DUPLICATE', identique: true });
    expect(t.stock(6)).toBe(99);
  });

  it('numero uniqueness is per boutique: the same numero in another boutique is a new sale', async () => {
    expect((await t.sync([vente('SHARED-1', [{ article_id: 6 }])])).statusCode).toBe(201);
    const res = await t.sync([vente('SHARED-1', [{ article_id: 8 }])], OTHER_SERIAL);
    expect(res.statusCode).toBe(201);
    expect(res.json().boutique_id).toBe(3);
  });

  it('a duplicate does not block the other sales of the request', async () => {
    await t.sync([vente('D-1', [{ article_id: 6 }])]);
    const res = await t.sync([vente('D-1', [{ article_id: 6 }]), vente('D-2', [{ article_id: 6 }])]);
    expect(res.json().statistiques).toEqual({ total_envoyees: 2, reussies: 1, erreurs: 1 });
    expect(res.json().ventes_creees[0].numero_facture).toBe('D-2');
  });

  it('two tills of a boutique sending FAC-0001 with the same content: the second is a DUPLICATE with identique false, so it is not lost as a resend', async () => {
    const fac = vente('FAC-0001', [{ article_id: 6, prix_unitaire: '40000.00' }]);
    expect((await t.sync([fac])).statusCode).toBe(201);
    const res = await t.sync([fac], SECOND_SERIAL);
    expect(res.statusCode).toBe(200);
    expect(res.json().ventes_erreurs).toEqual([
      {
        index: 1,
        numero_facture: 'FAC-0001',
        erreur: 'Vente FAC-0001 existe déjà, ignorée',
        code: 'DUPLICATE',
        vente_existante: { numero_facture: 'FAC-0001', montant_total: '40000.00', date_vente: NOW.toISOString() },
        identique: false,
      },
    ]);
    // Numeros are unique per boutique: the server keeps the first till's sale only; the second
    // till is told it is NOT held, so it keeps its sale for a person to renumber.
    expect(t.db.prepare('SELECT numero_facture, terminal_serial FROM ventes').all()).toEqual([
      { numero_facture: 'FAC-0001', terminal_serial: SERIAL },
    ]);
    expect(t.stock(6)).toBe(99);
  });

  it('the first till resending FAC-0001 is still identique, after the second till was refused', async () => {
    const fac = vente('FAC-0001', [{ article_id: 6 }]);
    await t.sync([fac]);
    await t.sync([fac], SECOND_SERIAL);
    expect((await t.sync([fac])).json().ventes_erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
  });

  it('a resend with the same date_vente is identique; the same content at another date_vente is another sale', async () => {
    const dated = (date: string) => vente('DATED-1', [{ article_id: 6 }], { date_vente: date });
    expect((await t.sync([dated('2025-10-29T03:00:00+01:00')])).statusCode).toBe(201);
    expect((await t.sync([dated('2025-10-29T02:00:00.000Z')])).json().ventes_erreurs[0]).toMatchObject({ identique: true });
    expect((await t.sync([dated('2025-10-29T02:05:00Z')])).json().ventes_erreurs[0]).toMatchObject({ identique: false });
    expect(t.venteCount()).toBe(1);
  });

  it('a sale stored by the previous version (fingerprint without the date) is recognised when resent', async () => {
    const sent = vente('OLD-1', [{ article_id: 6 }], { date_vente: '2025-10-28T10:00:00Z' });
    await t.sync([sent]);
    const parsed = validateVente(sent);
    if (!parsed.ok) throw new Error(parsed.erreur);
    t.db.prepare('UPDATE ventes SET empreinte = ? WHERE numero_facture = ?').run(legacyVenteFingerprint(parsed.vente), 'OLD-1');
    expect((await t.sync([sent])).json().ventes_erreurs[0]).toMatchObject({ identique: true });
    expect((await t.sync([sent], SECOND_SERIAL)).json().ventes_erreurs[0]).toMatchObject({ identique: false });
    expect((await t.sync([{ ...sent, date_vente: '2025-10-28T10:00:01Z' }])).json().ventes_erreurs[0]).toMatchObject({
      identique: false,
    });
  });
});

describe('generated numeros', () => {
  it('a sale without numero gets VENTE-{boutique}-{UTC timestamp}-{0-based index}', async () => {
    const res = await t.sync([vente('AVEC', [{ article_id: 6 }]), vente(undefined, [{ article_id: 6 }])]);
    expect(res.json().ventes_creees.map((v: { numero_facture: string }) => v.numero_facture)).toEqual([
      'AVEC',
      'VENTE-2-20251029024500-1',
    ]);
  });

  it('null numero_facture is treated as absent, as a C# till sends it', async () => {
    const res = await t.sync([{ numero_facture: null, lignes: [{ article_id: 6 }] }]);
    expect(res.json().ventes_creees[0].numero_facture).toBe('VENTE-2-20251029024500-0');
  });

  it('back-to-back requests in the same second never collide and are never reported as duplicates', async () => {
    const numeros = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await t.sync([vente(undefined, [{ article_id: 9 }]), vente(undefined, [{ article_id: 9 }])]);
      expect(res.statusCode).toBe(201);
      expect(res.json().ventes_erreurs).toBeNull();
      for (const v of res.json().ventes_creees) numeros.add(v.numero_facture);
    }
    expect(numeros.size).toBe(10);
    expect(t.venteCount()).toBe(10);
    expect([...numeros]).toContain('VENTE-2-20251029024500-0');
    for (const n of numeros) expect(n).toMatch(/^VENTE-2-20251029024500-[01](-\d+)?$/);
  });

  it('a generated numero avoids a numero sent earlier in the same request', async () => {
    const res = await t.sync([vente('VENTE-2-20251029024500-1', [{ article_id: 6 }]), vente(undefined, [{ article_id: 6 }])]);
    expect(res.json().statistiques.reussies).toBe(2);
    expect(res.json().ventes_creees[1].numero_facture).toBe('VENTE-2-20251029024500-1-1');
  });

  it('generated numeros use UTC whatever the date_vente offset', async () => {
    const res = await t.sync([vente(undefined, [{ article_id: 6 }], { date_vente: '2025-10-28T23:00:00+01:00' })]);
    expect(res.json().ventes_creees[0].numero_facture).toBe('VENTE-2-20251029024500-0');
  });
});

describe('stock', () => {
  it('a sale whose second line fails leaves stock and movements untouched', async () => {
    const res = await t.sync([vente('ROLL-1', [{ article_id: 6, quantite: 3 }, { article_id: 10, quantite: 3 }])]);
    expect(res.statusCode).toBe(200);
    expect(res.json().ventes_erreurs[0]).toMatchObject({ code: 'INSUFFICIENT_STOCK', index: 1 });
    expect(t.stock(6)).toBe(100);
    expect(t.stock(10)).toBe(2);
    expect(t.mouvements(6)).toEqual([]);
    expect(t.venteCount()).toBe(0);
    expect(t.db.prepare('SELECT COUNT(*) FROM lignes_vente').pluck().get()).toBe(0);
  });

  it('a sale whose second line names an unknown article leaves stock untouched', async () => {
    const res = await t.sync([vente('ROLL-2', [{ article_id: 6 }, { article_id: 4242 }])]);
    expect(res.json().ventes_erreurs[0]).toMatchObject({ code: 'ARTICLE_NOT_FOUND' });
    expect(res.json().ventes_erreurs[0].erreur).toContain('Ligne 2');
    expect(t.stock(6)).toBe(100);
  });

  it('lines of the same article count together against the stock', async () => {
    const res = await t.sync([vente('CUM-1', [{ article_id: 10, quantite: 1 }, { article_id: 10, quantite: 2 }])]);
    expect(res.json().ventes_erreurs[0]).toMatchObject({
      code: 'INSUFFICIENT_STOCK',
      erreur: 'Stock insuffisant pour Chargeur : demandé 3, disponible 2',
    });
    expect(t.stock(10)).toBe(2);
  });

  it('repeated lines within the stock each decrement it and each write a SORTIE movement', async () => {
    await t.sync([vente('CUM-2', [{ article_id: 10, quantite: 1 }, { article_id: 10, quantite: 1 }])]);
    expect(t.stock(10)).toBe(0);
    expect(t.mouvements(10).map((m) => [m.quantite, m.stock_avant, m.stock_apres])).toEqual([
      [1, 2, 1],
      [1, 1, 0],
    ]);
  });

  it('a SORTIE movement records the numero, the terminal and the date', async () => {
    await t.sync([vente('MVT-1', [{ article_id: 7, quantite: 4 }])]);
    expect(t.mouvements(7)).toEqual([
      expect.objectContaining({
        quantite: 4,
        stock_avant: 100,
        stock_apres: 96,
        reference: 'MVT-1',
        terminal_serial: SERIAL,
        date: NOW.toISOString(),
      }),
    ]);
  });

  it('a sale that empties the stock exactly is accepted, the next one is not', async () => {
    const res = await t.sync([vente('Z-1', [{ article_id: 10, quantite: 2 }]), vente('Z-2', [{ article_id: 10 }])]);
    expect(res.json().statistiques).toEqual({ total_envoyees: 2, reussies: 1, erreurs: 1 });
    expect(t.stock(10)).toBe(0);
  });
});

describe('money', () => {
  it('19.99 × 3 is exactly "59.97"', async () => {
    const res = await t.sync([vente('M-1', [{ article_id: 9, quantite: 3, prix_unitaire: 19.99 }])]);
    expect(res.json().ventes_creees[0]).toMatchObject({
      montant_total: '59.97',
      lignes: [{ prix_unitaire: '19.99', sous_total: '59.97' }],
    });
  });

  it('the article price applies when the till sends none, and the total sums every line', async () => {
    const res = await t.sync([vente('M-2', [{ article_id: 9, quantite: 3 }, { article_id: 7, prix_unitaire: '0.01' }])]);
    expect(res.json().ventes_creees[0].montant_total).toBe('59.98');
  });

  it('0.1 + 0.2 style sums stay exact', async () => {
    const lignes = Array.from({ length: 10 }, () => ({ article_id: 9, prix_unitaire: 0.1 }));
    const res = await t.sync([vente('M-3', lignes)]);
    expect(res.json().ventes_creees[0].montant_total).toBe('1.00');
  });

  it('a free item (price 0) is allowed', async () => {
    const res = await t.sync([vente('M-4', [{ article_id: 9, prix_unitaire: 0 }])]);
    expect(res.json().ventes_creees[0].montant_total).toBe('0.00');
  });
});

describe('validation rejects that sale only, naming the field and line', () => {
  const bad: Array<[string, unknown, string]> = [
    ['quantite 0', vente('V', [{ article_id: 6, quantite: 0 }]), 'quantite'],
    ['a negative quantite', vente('V', [{ article_id: 6, quantite: -2 }]), 'quantite'],
    ['a fractional quantite', vente('V', [{ article_id: 6, quantite: 1.5 }]), 'quantite'],
    ['a quantite as a string', vente('V', [{ article_id: 6, quantite: '2' }]), 'quantite'],
    ['a negative price', vente('V', [{ article_id: 6, prix_unitaire: -1 }]), 'prix_unitaire'],
    ['a price with 3 decimals', vente('V', [{ article_id: 6, prix_unitaire: '12.345' }]), 'prix_unitaire'],
    ['a price that is not a number', vente('V', [{ article_id: 6, prix_unitaire: 'abc' }]), 'prix_unitaire'],
    ['a price as a boolean', vente('V', [{ article_id: 6, prix_unitaire: true }]), 'prix_unitaire'],
    ['an unknown payment mode', vente('V', [{ article_id: 6 }], { mode_paiement: 'CHEQUE' }), 'mode_paiement'],
    ['paye as a string', vente('V', [{ article_id: 6 }], { paye: 'oui' }), 'paye'],
    ['missing lignes', { numero_facture: 'V' }, 'lignes'],
    ['empty lignes', vente('V', []), 'lignes'],
    ['lignes as an object', { numero_facture: 'V', lignes: { article_id: 6 } }, 'lignes'],
    ['a missing article_id', vente('V', [{ quantite: 1 }]), 'article_id'],
    ['a negative article_id', vente('V', [{ article_id: -6 }]), 'article_id'],
    ['an empty numero', vente('', [{ article_id: 6 }]), 'numero_facture'],
    ['a numero of 65 characters', vente('N'.repeat(65), [{ article_id: 6 }]), 'numero_facture'],
    ['a numero as a number', vente(undefined, [{ article_id: 6 }], { numero_facture: 123 }), 'numero_facture'],
    ['a date without offset', vente('V', [{ article_id: 6 }], { date_vente: '2025-10-29T02:45:00' }), 'date_vente'],
    ['a line that is not an object', vente('V', [6 as unknown as Record<string, unknown>]), 'Ligne 1'],
  ];

  it.each(bad)('%s is INVALID_SALE', async (_label, sale, field) => {
    const res = await t.sync([sale, vente('GOOD', [{ article_id: 7 }])]);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.ventes_creees.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['GOOD']);
    expect(body.ventes_erreurs).toHaveLength(1);
    expect(body.ventes_erreurs[0]).toMatchObject({ index: 1, code: 'INVALID_SALE' });
    expect(body.ventes_erreurs[0].erreur).toContain(field);
    expect(t.stock(6)).toBe(100);
  });

  it('the error names the line: the second line of a sale is "Ligne 2"', async () => {
    const res = await t.sync([vente('V', [{ article_id: 6 }, { article_id: 6, quantite: 0 }])]);
    expect(res.json().ventes_erreurs[0].erreur).toMatch(/^Ligne 2 : le champ quantite doit être un entier positif/);
  });

  it("an article of another boutique is ARTICLE_NOT_FOUND and that boutique's stock is untouched", async () => {
    const res = await t.sync([vente('V', [{ article_id: 8 }])]);
    expect(res.json().ventes_erreurs[0]).toMatchObject({ code: 'ARTICLE_NOT_FOUND' });
    expect(t.stock(8)).toBe(50);
  });

  it.each([[42], [null], ['VENTE'], [[]]])('an element %j that is not an object is INVALID_SALE; the rest goes on', async (el) => {
    const res = await t.sync([el, vente('AFTER', [{ article_id: 6 }])]);
    expect(res.statusCode).toBe(201);
    expect(res.json().ventes_erreurs[0]).toMatchObject({ index: 1, code: 'INVALID_SALE', numero_facture: null });
  });
});

describe('defaults and optional fields', () => {
  it('quantite defaults to 1, mode to CASH, paye to true; unknown fields are ignored', async () => {
    const res = await t.sync([{ numero_facture: 'DEF-1', lignes: [{ article_id: 7, remise: 5 }], client: 'Mama Nzinga' }]);
    expect(res.json().ventes_creees[0]).toMatchObject({ montant_total: '25000.00', lignes: [{ quantite: 1 }] });
    const row = t.db.prepare('SELECT mode_paiement, paye FROM ventes WHERE numero_facture = ?').get('DEF-1');
    expect(row).toEqual({ mode_paiement: 'CASH', paye: 1 });
  });

  it('date_vente is kept as when the sale happened; without it, the time of receipt', async () => {
    await t.sync([
      vente('DATE-1', [{ article_id: 6 }], { date_vente: '2025-10-28T18:30:00+01:00' }),
      vente('DATE-2', [{ article_id: 6 }]),
    ]);
    const dates = t.db.prepare('SELECT date_vente FROM ventes ORDER BY id').pluck().all();
    expect(dates).toEqual(['2025-10-28T17:30:00.000Z', NOW.toISOString()]);
  });
});

describe('robustness', () => {
  // A small seeded generator: the same junk every run, so a failure can be replayed.
  function junkGenerator(seed: number) {
    let state = seed;
    const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const scalar = () => pick([null, true, false, 0, -1, 1.5, 2 ** 60, 'x', '', '12.345', '40000', [], {}, 'é✅', 6, 7]);
    const value = (depth: number): unknown =>
      depth > 2 || next() < 0.5 ? scalar() : next() < 0.5 ? [value(depth + 1), value(depth + 1)] : { article_id: value(depth + 1), quantite: value(depth + 1) };
    return () =>
      pick([
        () => value(0),
        () => ({ numero_facture: value(1), lignes: value(1) }),
        () => ({ lignes: [{ article_id: pick([6, 7, 8, 9, 10, 999, '6', null]), quantite: value(2), prix_unitaire: value(2) }] }),
        () => ({ numero_facture: `F-${Math.floor(next() * 20)}`, mode_paiement: value(2), paye: value(2), date_vente: value(2), lignes: [{ article_id: 7 }] }),
      ])();
  }

  it('random junk never makes a 500: every element is either created or reported, and stock never goes negative', async () => {
    const junk = junkGenerator(42);
    const stockOf = () =>
      new Map(t.db.prepare('SELECT id, quantite_stock FROM articles').all().map((a) => [(a as { id: number }).id, (a as { quantite_stock: number }).quantite_stock]));
    const initial = stockOf();
    for (let round = 0; round < 40; round++) {
      const batch = Array.from({ length: 20 }, junk);
      const res = await t.sync(batch);
      expect([200, 201]).toContain(res.statusCode);
      const body = res.json();
      expect(body.ventes_creees.length + (body.ventes_erreurs?.length ?? 0)).toBe(batch.length);
      for (const e of body.ventes_erreurs ?? []) {
        expect(['DUPLICATE', 'INSUFFICIENT_STOCK', 'ARTICLE_NOT_FOUND', 'INVALID_SALE']).toContain(e.code);
        expect(typeof e.erreur).toBe('string');
      }
    }
    // Per article: what was sold left the stock, and every line has its SORTIE (the schema's
    // CHECK alone would only say the stock is not negative).
    const sortie = t.db.prepare("SELECT COALESCE(SUM(quantite), 0) FROM mouvements_stock WHERE type = 'SORTIE' AND article_id = ?").pluck();
    const sold = t.db.prepare('SELECT COALESCE(SUM(quantite), 0) FROM lignes_vente WHERE article_id = ?').pluck();
    const current = stockOf();
    let soldAnything = 0;
    for (const [id, before] of initial) {
      const out = sortie.get(id) as number;
      expect(before - out, `article ${id}`).toBe(current.get(id));
      expect(sold.get(id), `article ${id}`).toBe(out);
      soldAnything += out;
    }
    expect(soldAnything).toBeGreaterThan(0);
  });
});


describe('hostile input is one sale’s INVALID_SALE, never the request’s failure', () => {
  const ventes = () => t.db.prepare('SELECT numero_facture FROM ventes ORDER BY id').pluck().all();

  it.each([
    ['numero_facture', { numero_facture: 'S\ud800' }],
    ['mode_paiement', { mode_paiement: 'CASH\udfff' }],
    ['date_vente', { date_vente: '2025-10-29T02:45:00Z\ud800' }],
  ])('a lone surrogate in %s is refused naming the field, and nothing of it is stored', async (field, change) => {
    const res = await t.sync([{ numero_facture: 'SURR', lignes: [{ article_id: 6 }], ...change }, vente('GOOD', [{ article_id: 7 }])]);
    expect(res.statusCode).toBe(201);
    const [erreur] = res.json().ventes_erreurs;
    expect(erreur).toMatchObject({ index: 1, code: 'INVALID_SALE' });
    expect(erreur.erreur).toContain(`Le champ ${field} contient des caractères invalides`);
    // The answer itself stays well-formed: a .NET till refuses JSON holding a lone surrogate.
    expect(res.body).not.toMatch(/(?<!\\)\\u[dD][89a-fA-F]/);
    expect(ventes()).toEqual(['GOOD']);
    expect(t.stock(6)).toBe(100);
  });

  it('a lone surrogate in a line price string is refused naming the line', async () => {
    const res = await t.sync([vente('P', [{ article_id: 6, prix_unitaire: '40000\ud800' }])]);
    expect(res.json().ventes_erreurs[0].erreur).toContain('Ligne 1 : le champ prix_unitaire contient des caractères invalides');
    expect(t.venteCount()).toBe(0);
  });

  it.each(['9999-12-31T23:59:00-23:59', '0000-01-01T00:00:00+01:00'])(
    'a date_vente %s outside years 0000–9999 once in UTC is refused; the history never sees it',
    async (date) => {
      const res = await t.sync([vente('FAR', [{ article_id: 6 }], { date_vente: date }), vente('NEAR', [{ article_id: 6 }])]);
      expect(res.json().ventes_erreurs[0]).toMatchObject({ code: 'INVALID_SALE', erreur: expect.stringContaining('date_vente') });
      expect(ventes()).toEqual(['NEAR']);
      expect(t.stock(6)).toBe(99);
    },
  );

  it('a line nested 5,000 levels deep refuses that sale only; the others of the batch are created', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const payload = `[{"numero_facture":"A","lignes":[{"article_id":6}]},
      {"numero_facture":"DEEP","lignes":[${deep}]},
      {"numero_facture":"DEEP-2","lignes":[{"article_id":6,"prix_unitaire":${deep}}]},
      {"numero_facture":"B","lignes":[{"article_id":7}]}]`;
    const res = await t.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload });
    expect(res.statusCode).toBe(201);
    expect(res.json().ventes_erreurs.map((e: { index: number; code: string }) => [e.index, e.code])).toEqual([
      [2, 'INVALID_SALE'],
      [3, 'INVALID_SALE'],
    ]);
    expect(ventes()).toEqual(['A', 'B']);
  });

  it.each([
    ['an array', (n: number) => '['.repeat(n) + ']'.repeat(n), 200],
    ['an object', (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n), 400],
  ])('a whole body that is %s nested 100,000 levels deep gets a plain answer, not a 500', async (_label, nest, status) => {
    const res = await t.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload: nest(100_000) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toHaveProperty(status === 200 ? 'ventes_erreurs' : 'code');
    expect(t.venteCount()).toBe(0);
  });

  it('500 sales of 1,000 bad lines each (1 MB) get an answer under 1 MiB and smaller than the request', async () => {
    const badLines = Array.from({ length: 1000 }, () => 0).join(',');
    const payload = `[${Array.from({ length: 500 }, (_, i) => `{"numero_facture":"BAD-${i}","lignes":[${badLines}]}`).join(',')}]`;
    expect(payload.length).toBeGreaterThan(1_000_000);
    const res = await t.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload });
    expect(res.statusCode).toBe(200);
    const size = Buffer.byteLength(res.body);
    expect(size).toBeLessThan(1024 * 1024);
    expect(size).toBeLessThan(payload.length);
    const body = res.json();
    expect(body.ventes_erreurs).toHaveLength(500);
    expect(body.ventes_erreurs[0].erreur.split(' ; ')).toHaveLength(6);
    expect(body.ventes_erreurs[0].erreur).toMatch(/… et 995 autre\(s\) problème\(s\)$/);
  });

  it('the worst refused sales one request can hold still get an answer under 1 MiB', async () => {
    // Every field bad with text that grows most once quoted and escaped: control characters,
    // 3-byte characters, a 64-character numero of 3-byte characters (echoed), 1,000 bad lines.
    const nasty = '\u0001'.repeat(20) + '語'.repeat(10) + '😀'.repeat(10);
    const sale = (i: number) => ({
      numero_facture: `${'語'.repeat(60)}${String(i).padStart(4, '0')}`,
      mode_paiement: nasty,
      paye: nasty,
      date_vente: nasty,
      lignes: Array.from({ length: 20 }, () => ({ article_id: nasty, quantite: nasty })),
    });
    const payload = JSON.stringify(Array.from({ length: 500 }, (_, i) => sale(i)));
    expect(Buffer.byteLength(payload)).toBeLessThan(5 * 1024 * 1024);
    const res = await t.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload });
    expect(res.json().ventes_erreurs).toHaveLength(500);
    expect(res.json().ventes_erreurs[499].numero_facture).toBe(`${'語'.repeat(60)}0499`);
    expect(res.rawPayload.length).toBeLessThan(1024 * 1024);
  });

  it('created sales whose echoed lines would pass 1 MiB are all stored whole; the answer details them while it can', async () => {
    t.db.prepare('UPDATE articles SET quantite_stock = 100000 WHERE id = 6').run();
    const line = '{"article_id":6}';
    const payload = `[${Array.from({ length: 100 }, (_, i) => `{"numero_facture":"L-${i}","lignes":[${Array(100).fill(line).join(',')}]}`).join(',')}]`;
    const res = await t.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload });
    expect(res.statusCode).toBe(201);
    expect(res.rawPayload.length).toBeLessThan(1024 * 1024);
    const creees: Array<{ numero_facture: string; montant_total: string; lignes: unknown[]; lignes_omises?: number }> =
      res.json().ventes_creees;
    expect(creees).toHaveLength(100);
    expect(creees[0]!.lignes).toHaveLength(100);
    expect(creees[99]).toEqual({ numero_facture: 'L-99', montant_total: '4000000.00', lignes: [], lignes_omises: 100 });
    expect(t.db.prepare('SELECT COUNT(*) FROM lignes_vente').pluck().get()).toBe(10_000);
    expect(t.stock(6)).toBe(90_000);
  });

  it('a refused sale with a 4 MB numero is not echoed back', async () => {
    const res = await t.sync([{ numero_facture: 'N'.repeat(4_000_000), lignes: [{ article_id: 6 }] }]);
    expect(res.json().ventes_erreurs[0]).toMatchObject({ numero_facture: null, code: 'INVALID_SALE' });
    expect(res.body.length).toBeLessThan(2000);
  });
});

describe('what the log says about a sync', () => {
  async function appLoggingAt(level: string) {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const db = openTestDb();
    const app = await buildApp({ db, logger: pino({ level }, stream), now: () => NOW });
    const send = (body: unknown) =>
      app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload: JSON.stringify(body) });
    return { lines, send, close: async () => (await app.close(), db.close()) };
  }
  const batch = [
    vente('LOG-1', [{ article_id: 6 }]),
    vente('LOG-2', [{ article_id: 7 }]),
    vente('LOG-1', [{ article_id: 6 }]),
    vente('LOG-3', [{ article_id: 6, quantite: 0 }]),
  ];

  it('at info: one line with the guide’s start message and the counts, one warn per refused or ignored sale, no line per created sale', async () => {
    const log = await appLoggingAt('info');
    await log.send(batch);
    await log.close();
    const sync = log.lines.filter((l) => String(l.msg).startsWith('Synchronisation'));
    expect(sync).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'Synchronisation ventes pour boutique: Ma Boutique (Terminal: Terminal messie vanza)',
        serial: SERIAL,
        creees: 2,
        doublons: 1,
        refusees: 1,
      }),
    ]);
    expect(log.lines.filter((l) => l.level === 40).map((l) => [l.numero_facture, l.code, l.msg])).toEqual([
      ['LOG-1', 'DUPLICATE', '⚠ Vente LOG-1 existe déjà, ignorée'],
      ['LOG-3', 'INVALID_SALE', expect.stringMatching(/^❌ Vente LOG-3 refusée: Ligne 1 : le champ quantite/)],
    ]);
    expect(log.lines.find((l) => l.code === 'DUPLICATE')).toMatchObject({ identique: true });
    expect(log.lines.some((l) => String(l.msg).includes('créée'))).toBe(false);
  });

  it('at debug: each created sale has the guide’s ✅ line with its amount and currency', async () => {
    const log = await appLoggingAt('debug');
    await log.send(batch);
    await log.close();
    expect(log.lines.filter((l) => l.level === 20 && String(l.msg).startsWith('✅')).map((l) => l.msg)).toEqual([
      '✅ Vente LOG-1 créée avec succès: 40000.00 CDF',
      '✅ Vente LOG-2 créée avec succès: 25000.00 CDF',
    ]);
  });
});
