import { describe, expect, it } from 'vitest';
import { legacyVenteFingerprint } from '../src/fingerprint.js';
import { createNumeroGenerator } from '../src/numero.js';
import { processSales, type SaleStorage, type StoredSale, type StoreSale } from '../src/sale-pipeline.js';
import type { VenteCreee } from '../src/response-schemas.js';

const at = new Date('2025-10-29T02:45:00.000Z');
const SERIAL = 'caisse-1';

/** An in-memory storage: what a server or relay would hold, keyed by numero. */
function memoryStorage() {
  const held = new Map<string, StoredSale>();
  const storage: SaleStorage = { findSale: (n) => held.get(n), numeroTaken: (n) => held.has(n) };
  const store: StoreSale = (vente, numero, empreinte) => {
    held.set(numero, { numero_facture: numero, montant_total: '1.00', date_vente: vente.date_vente ?? at.toISOString(), serial: SERIAL, empreinte });
    return { numero_facture: numero, montant_total: '1.00', lignes: [] } satisfies VenteCreee;
  };
  return { held, storage, store };
}

const sale = (extra: Record<string, unknown> = {}) => ({ numero_facture: 'FAC-0001', lignes: [{ article_id: 6 }], ...extra });

function run(items: unknown[], serial: string, m: ReturnType<typeof memoryStorage>) {
  return processSales(items, { serial, boutiqueId: 2, receivedAt: at }, m.storage, m.store);
}

describe('processSales: the duplicate rule (CONTRACT §2 identique)', () => {
  it('a resend by the same till of the same sale is identique', () => {
    const m = memoryStorage();
    run([sale({ date_vente: '2025-10-29T03:00:00+01:00' })], SERIAL, m);
    const again = run([sale({ date_vente: '2025-10-29T02:00:00Z' })], SERIAL, m);
    expect(again.erreurs).toEqual([
      {
        index: 1,
        numero_facture: 'FAC-0001',
        erreur: 'Vente FAC-0001 existe déjà, ignorée',
        code: 'DUPLICATE',
        vente_existante: { numero_facture: 'FAC-0001', montant_total: '1.00', date_vente: '2025-10-29T02:00:00.000Z' },
        identique: true,
      },
    ]);
  });

  it('the same numero and content from another till of the boutique is NOT identique: two real sales', () => {
    const m = memoryStorage();
    run([sale()], SERIAL, m);
    expect(run([sale()], 'caisse-2', m).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
  });

  it('the same till and content with another date is NOT identique', () => {
    const m = memoryStorage();
    run([sale({ date_vente: '2025-10-29T02:00:00Z' })], SERIAL, m);
    expect(run([sale({ date_vente: '2025-10-29T02:01:00Z' })], SERIAL, m).erreurs[0]).toMatchObject({ identique: false });
  });

  it('a date sent now where the stored sale had none is NOT identique, even equal to its reception time', () => {
    const m = memoryStorage();
    run([sale()], SERIAL, m);
    expect(run([sale({ date_vente: at.toISOString() })], SERIAL, m).erreurs[0]).toMatchObject({ identique: false });
  });

  it('a sale stored by the first version (fingerprint without the date) is still recognised when resent', () => {
    const m = memoryStorage();
    const vente = { numero_facture: 'OLD-1', mode_paiement: 'CASH' as const, paye: true, date_vente: '2025-10-29T02:00:00.000Z', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: null }] };
    m.held.set('OLD-1', { numero_facture: 'OLD-1', montant_total: '1.00', date_vente: vente.date_vente, serial: SERIAL, empreinte: legacyVenteFingerprint(vente) });
    const resend = (extra: Record<string, unknown>, serial = SERIAL) =>
      run([sale({ numero_facture: 'OLD-1', ...extra })], serial, m).erreurs[0]?.identique;
    expect(resend({ date_vente: '2025-10-29T03:00:00+01:00' })).toBe(true);
    expect(resend({})).toBe(true);
    expect(resend({ date_vente: '2025-10-29T02:30:00Z' })).toBe(false);
    expect(resend({ mode_paiement: 'CARTE' })).toBe(false);
    expect(resend({ date_vente: '2025-10-29T02:00:00Z' }, 'caisse-2')).toBe(false);
  });

  it('a numero used earlier in the same request is a duplicate, even when the first sale was refused', () => {
    const m = memoryStorage();
    const outcome = run([sale({ lignes: [] }), sale()], SERIAL, m);
    expect(outcome.erreurs.map((e) => [e.index, e.code, e.identique])).toEqual([
      [1, 'INVALID_SALE', undefined],
      [2, 'DUPLICATE', false],
    ]);
    expect(outcome.creees).toEqual([]);
  });
});

describe('processSales: numeros', () => {
  it('gives a sale without numero the guide numero, moving on past taken ones, never a DUPLICATE', () => {
    const m = memoryStorage();
    m.held.set('VENTE-2-20251029024500-0', {} as StoredSale);
    const outcome = run([{ lignes: [{ article_id: 6 }] }, { lignes: [{ article_id: 6 }] }], SERIAL, m);
    expect(outcome.erreurs).toEqual([]);
    expect(outcome.creees.map((v) => v.numero_facture)).toEqual(['VENTE-2-20251029024500-0-1', 'VENTE-2-20251029024500-1']);
  });

  it("appends the caller's suffix to a generated numero and checks collisions with it", () => {
    const m = memoryStorage();
    m.held.set('VENTE-2-20251029024500-0-R7', {} as StoredSale);
    const outcome = processSales([{ lignes: [{ article_id: 6 }] }], { serial: SERIAL, boutiqueId: 2, receivedAt: at, generatedSuffix: '-R7' }, m.storage, m.store);
    expect(outcome.creees[0]?.numero_facture).toBe('VENTE-2-20251029024500-0-1-R7');
  });

  it('passes a generated flag and the 0-based index to the storage step, and reports its refusal with the numero', () => {
    const m = memoryStorage();
    const calls: unknown[] = [];
    const outcome = processSales(
      [sale(), { lignes: [{ article_id: 6 }] }],
      { serial: SERIAL, boutiqueId: 2, receivedAt: at },
      m.storage,
      (_vente, numero, _empreinte, generated, index) => {
        calls.push([numero, generated, index]);
        return { code: 'INSUFFICIENT_STOCK', erreur: 'Stock insuffisant' };
      },
    );
    expect(calls).toEqual([['FAC-0001', false, 0], ['VENTE-2-20251029024500-1', true, 1]]);
    expect(outcome.erreurs[0]).toEqual({ index: 1, numero_facture: 'FAC-0001', erreur: 'Stock insuffisant', code: 'INSUFFICIENT_STOCK' });
  });
});

describe('processSales: bad input never escapes a sale', () => {
  it('a sale holding 5,000 nested arrays is that sale’s INVALID_SALE; the others are stored', () => {
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
    const m = memoryStorage();
    const outcome = run([sale({ numero_facture: 'OK-1' }), sale({ numero_facture: 'DEEP', lignes: [deep] }), sale({ numero_facture: 'OK-2', mode_paiement: deep })], SERIAL, m);
    expect(outcome.creees.map((v) => v.numero_facture)).toEqual(['OK-1']);
    expect(outcome.erreurs.map((e) => [e.index, e.numero_facture, e.code])).toEqual([
      [2, 'DEEP', 'INVALID_SALE'],
      [3, 'OK-2', 'INVALID_SALE'],
    ]);
    expect(outcome.erreurs[0]?.erreur).toContain('Ligne 1 doit être un objet (reçu : un tableau de 1 élément(s))');
  });

  it('a whole sale that is 5,000 nested arrays is INVALID_SALE', () => {
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
    expect(run([deep], SERIAL, memoryStorage()).erreurs[0]).toMatchObject({ code: 'INVALID_SALE', erreur: 'La vente doit être un objet JSON' });
  });
});

describe('processSales: generated numeros across requests of one second', () => {
  it('a thousand tills each sending one sale without numero: all unique, one storage lookup each', () => {
    const m = memoryStorage();
    let lookups = 0;
    const storage: SaleStorage = {
      findSale: m.storage.findSale,
      numeroTaken: (n) => {
        lookups++;
        return m.held.has(n);
      },
    };
    const numeros = createNumeroGenerator();
    const given: string[] = [];
    for (let till = 0; till < 1_000; till++) {
      const outcome = processSales([{ lignes: [{ article_id: 6 }] }], { serial: `caisse-${till}`, boutiqueId: 2, receivedAt: at, numeros }, storage, m.store);
      given.push(...outcome.creees.map((v) => v.numero_facture));
    }
    expect(new Set(given).size).toBe(1_000);
    expect(given.at(-1)).toBe('VENTE-2-20251029024500-0-999');
    expect(lookups).toBe(1_000);
  });
});
