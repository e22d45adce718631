import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { createSaleIntake } from '../src/sale-intake.js';
import type { Db } from '../src/db/open-database.js';

let db: Db;
let store: RelayStore;
const AT = new Date('2025-10-01T08:00:00Z');
const caisse = (serial: string) => ({ serial, boutique_id: 2 });
const sell = (serial: string, numero: string, quantite: number) =>
  createSaleIntake(store).take(caisse(serial), [{ numero_facture: numero, lignes: [{ article_id: 6, quantite, prix_unitaire: 10 }] }], AT);
const give = (serial: string, numero: string, facture: string, quantite: number) =>
  createRetourIntake(store).take(caisse(serial), [{ numero_retour: numero, numero_facture: facture, lignes: [{ article_id: 6, quantite }] }], AT);

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createRelayStore(db);
});
afterEach(() => db.close());

describe('held returns wait for their sale', () => {
  it('a return is not due while its sale waits on the relay, from the same till or another of the boutique; due once the sale is synced', () => {
    sell('caisse-1', 'V-1', 2);
    give('caisse-2', 'R-1', 'V-1', 1);
    expect(store.retours.serialsDue()).toEqual([]);
    expect(store.retours.claimBatch('caisse-2', AT, 10)).toEqual([]);
    expect(store.retours.summary()).toMatchObject({ en_attente: 1, attendent_la_vente: 1 });
    store.markSynced(store.byNumero('V-1')[0]!.id, '20.00', AT);
    expect(store.retours.serialsDue()).toEqual(['caisse-2']);
    expect(store.retours.claimBatch('caisse-2', AT, 10).map((r) => r.numero_retour)).toEqual(['R-1']);
  });

  it('a return of a sale the relay does not hold is due at once; one of a sale the server refused waits for a person to decide on the sale', () => {
    give('caisse-1', 'R-2', 'AILLEURS-1', 1);
    sell('caisse-1', 'V-3', 1);
    give('caisse-1', 'R-3', 'V-3', 1);
    expect(store.retours.claimBatch('caisse-1', AT, 10).map((r) => r.numero_retour)).toEqual(['R-2']);
    store.markRejected(store.byNumero('V-3')[0]!.id, 'ARTICLE_NOT_FOUND', 'article inconnu');
    expect(store.retours.claimBatch('caisse-1', AT, 10)).toEqual([]);
    // Discarded: the return goes, and the server says whether it knows the sale.
    expect(store.discard('V-3', 'vente annulée', AT)).toBe(1);
    expect(store.retours.claimBatch('caisse-1', AT, 10).map((r) => r.numero_retour)).toEqual(['R-3']);
  });

  it('a refused return gives nothing back: its units can be returned by another; retry puts it back to waiting, discard sets it aside', () => {
    sell('caisse-1', 'V-4', 1);
    give('caisse-1', 'R-4a', 'V-4', 1);
    expect(give('caisse-1', 'R-4b', 'V-4', 1).erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE' })]);
    store.retours.markRejected(store.retours.byNumero('R-4a')[0]!.id, 'INVALID_RETURN', 'refusé');
    expect(give('caisse-1', 'R-4b', 'V-4', 1).crees).toHaveLength(1);
    expect(store.retours.retry('R-4a')).toBe(1);
    expect(store.retours.byNumero('R-4a')[0]).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null });
    expect(store.retours.discard('R-4a', 'client parti', AT)).toBe(1);
    expect(store.retours.byNumero('R-4a')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'client parti' });
  });

  it('a resend with other content is a DUPLICATE not identique; a return without a date is stamped for the server, identique to the till all the same', () => {
    give('caisse-1', 'R-5', 'X-1', 1);
    const contenu = JSON.parse(store.retours.byNumero('R-5')[0]!.contenu) as { date_retour: string };
    expect(contenu.date_retour).toBe(AT.toISOString());
    expect(give('caisse-1', 'R-5', 'X-1', 1).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: true });
    expect(give('caisse-1', 'R-5', 'X-1', 2).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
    expect(give('caisse-2', 'R-5', 'X-1', 1).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
  });

  it("returns taken before their till's boutique was known get it when the server names it: duplicates are then caught across the boutique's tills", () => {
    createRetourIntake(store).take({ serial: 'caisse-9', boutique_id: null }, [{ numero_retour: 'R-7', numero_facture: 'X-3', lignes: [{ article_id: 6 }] }], AT);
    store.saveTerminal('caisse-9', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 9' }, AT);
    expect(store.retours.byNumero('R-7')[0]!.boutique_id).toBe(2);
    expect(give('caisse-1', 'R-7', 'X-3', 1).erreurs[0]).toMatchObject({ code: 'DUPLICATE', identique: false });
  });

  it('a claim left by a relay that died is released at start', () => {
    give('caisse-1', 'R-6', 'X-2', 1);
    expect(store.retours.claimBatch('caisse-1', AT, 10)).toHaveLength(1);
    expect(store.retours.claimBatch('caisse-1', AT, 10)).toHaveLength(0);
    store.releaseAllClaims(AT);
    expect(store.retours.claimBatch('caisse-1', AT, 10)).toHaveLength(1);
  });
});
