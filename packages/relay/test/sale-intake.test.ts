import { legacyVenteFingerprint, validateVente } from '@ventesync/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createSaleIntake, type SaleIntake } from '../src/sale-intake.js';
import { type RealServer, startRealServer, TILLS } from './real-server.js';

const at = new Date('2025-10-29T02:45:00.000Z');
const [TILL_A, TILL_B] = TILLS;
let db: ReturnType<typeof openDatabase>;
let store: RelayStore;
let intake: SaleIntake;

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createRelayStore(db);
  intake = createSaleIntake(store);
});

const take = (items: unknown[], serial: string = TILL_A, boutique_id: number | null = 2) =>
  intake.take({ serial, boutique_id }, items, at);
const held = () => store.byStatut('EN_ATTENTE').map((v) => [v.numero_facture, v.serial]);
const fac = (extra: Record<string, unknown> = {}) => ({ numero_facture: 'FAC-0001', lignes: [{ article_id: 6 }], ...extra });

describe('sale intake: the duplicate rule, as the server applies it', () => {
  it('two tills of a boutique sending FAC-0001 with the same content: the second is DUPLICATE, identique false, and not held', () => {
    expect(take([fac()]).creees).toHaveLength(1);
    const second = take([fac()], TILL_B);
    expect(second.erreurs).toEqual([
      {
        index: 1,
        numero_facture: 'FAC-0001',
        erreur: 'Vente FAC-0001 existe déjà, ignorée',
        code: 'DUPLICATE',
        vente_existante: { numero_facture: 'FAC-0001', montant_total: '0.00', date_vente: at.toISOString() },
        identique: false,
      },
    ]);
    expect(held()).toEqual([['FAC-0001', TILL_A]]);
  });

  it('the same till resending without a date is identique, although the relay stamped one on what it forwards', () => {
    take([fac()]);
    expect(JSON.parse(store.byStatut('EN_ATTENTE')[0]!.contenu).date_vente).toBe(at.toISOString());
    expect(take([fac()]).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
  });

  it('the same till and content with another date_vente is NOT identique', () => {
    take([fac({ date_vente: '2025-10-29T01:00:00Z' })]);
    expect(take([fac({ date_vente: '2025-10-29T02:00:00+01:00' })]).erreurs[0]).toMatchObject({ identique: true });
    expect(take([fac({ date_vente: '2025-10-29T01:30:00Z' })]).erreurs[0]).toMatchObject({ identique: false });
  });

  it('a sale held before this version (fingerprint without the date) is still recognised when its till resends it', () => {
    const sent = fac({ date_vente: '2025-10-29T01:00:00Z' });
    take([sent]);
    const parsed = validateVente(sent);
    if (!parsed.ok) throw new Error(parsed.erreur);
    db.prepare('UPDATE ventes SET empreinte = ?').run(legacyVenteFingerprint(parsed.vente));
    expect(take([sent]).erreurs[0]).toMatchObject({ identique: true });
    expect(take([fac({ date_vente: '2025-10-29T01:00:01Z' })]).erreurs[0]).toMatchObject({ identique: false });
    expect(take([sent], TILL_B).erreurs[0]).toMatchObject({ identique: false });
  });
});

describe('sale intake: refused at the door as the server would refuse them', () => {
  it.each([
    ['numero_facture', { numero_facture: 'S\ud800' }],
    ['mode_paiement', { mode_paiement: 'CASH\ud800' }],
    ['date_vente', { date_vente: '9999-12-31T23:59:00-23:59' }],
    ['date_vente', { date_vente: '0000-01-01T00:00:00+01:00' }],
  ])('a bad %s is INVALID_SALE and never held (it could never match the server’s echo)', (field, change) => {
    const outcome = take([fac(change), fac({ numero_facture: 'OK' })]);
    const numero = 'numero_facture' in change ? null : 'FAC-0001';
    expect(outcome.erreurs).toEqual([
      { index: 1, numero_facture: numero, erreur: expect.stringContaining(`Le champ ${field}`), code: 'INVALID_SALE' },
    ]);
    expect(held()).toEqual([['OK', TILL_A]]);
  });

  it('a line nested 5,000 levels deep refuses that sale only', () => {
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
    const outcome = take([fac({ lignes: [deep] }), fac({ numero_facture: 'OK' })]);
    expect(outcome.erreurs.map((e) => [e.index, e.code])).toEqual([[1, 'INVALID_SALE']]);
    expect(held()).toEqual([['OK', TILL_A]]);
  });

  it('a generated numero carries the relay’s mark and moves past one already held', () => {
    const first = take([{ lignes: [{ article_id: 6 }] }]).creees[0]!.numero_facture;
    const second = take([{ lignes: [{ article_id: 6 }] }]).creees[0]!.numero_facture;
    expect(first).toMatch(/^VENTE-2-20251029024500-0-R[0-9a-f]+$/);
    expect(second).toBe(first.replace('-0-R', '-0-1-R'));
  });
});

/**
 * One table of resends, judged by the relay's intake and by the real server: the two must give
 * the same `identique` (they run the same shared code; this keeps it that way).
 */
describe('the relay and the server agree on identique', () => {
  let server: RealServer;
  beforeAll(async () => {
    server = await startRealServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const cases: Array<[string, Record<string, unknown>, string, Record<string, unknown>]> = [
    ['same till, same sale', {}, TILL_A, {}],
    ['another till, same content', {}, TILL_B, {}],
    ['same till, another quantity', {}, TILL_A, { lignes: [{ article_id: 6, quantite: 2 }] }],
    ['same till, same date', { date_vente: '2025-10-29T01:00:00Z' }, TILL_A, { date_vente: '2025-10-29T02:00:00+01:00' }],
    ['same till, another date', { date_vente: '2025-10-29T01:00:00Z' }, TILL_A, { date_vente: '2025-10-29T01:00:01Z' }],
    ['same till, a date where there was none', {}, TILL_A, { date_vente: '2025-10-29T01:00:00Z' }],
  ];

  it('a sale whose amount passes 2^53 centimes (one line, or the lines together) is INVALID_SALE on both, naming the line, never held by the relay', async () => {
    const post = (sale: unknown) =>
      fetch(`${server.url}/api/v2/simple/ventes/sync/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-device-serial': TILL_A },
        body: JSON.stringify([sale]),
      }).then((r) => r.json() as Promise<{ ventes_erreurs: Array<{ code: string; erreur: string }> | null }>);
    const oneLine = fac({ numero_facture: 'HUGE-1', lignes: [{ article_id: 6, quantite: 10_000, prix_unitaire: '9999999999999.99' }] });
    const twoLines = fac({
      numero_facture: 'HUGE-2',
      lignes: [
        { article_id: 6, quantite: 9, prix_unitaire: '9999999999999.99' },
        { article_id: 6, quantite: 1, prix_unitaire: '9999999999999.99' },
      ],
    });
    for (const [sale, ligne] of [[oneLine, 1], [twoLines, 2]] as const) {
      const onServer = (await post(sale)).ventes_erreurs?.[0];
      expect(onServer).toMatchObject({ code: 'INVALID_SALE', erreur: `Ligne ${ligne} : montant trop élevé` });
      const onRelay = take([sale]).erreurs[0];
      expect(onRelay).toMatchObject({ code: onServer!.code, erreur: onServer!.erreur });
    }
    expect(held()).toEqual([]);
  });

  it.each(cases)('%s', async (label, first, till, second) => {
    const numero = `AGREE-${cases.findIndex((c) => c[0] === label)}`;
    const post = (serial: string, sale: unknown) =>
      fetch(`${server.url}/api/v2/simple/ventes/sync/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-device-serial': serial },
        body: JSON.stringify([sale]),
      }).then((r) => r.json() as Promise<{ ventes_erreurs: Array<{ identique: boolean }> | null }>);
    await post(TILL_A, fac({ numero_facture: numero, ...first }));
    const onServer = (await post(till, fac({ numero_facture: numero, ...second }))).ventes_erreurs?.[0]?.identique;
    take([fac({ numero_facture: numero, ...first })]);
    const onRelay = take([fac({ numero_facture: numero, ...second })], till).erreurs[0]?.identique;
    expect(onServer).toBeTypeOf('boolean');
    expect(onRelay).toBe(onServer);
  });
});
