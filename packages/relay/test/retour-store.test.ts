import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { CLAIM_STALE_MS, createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { discardRetour, discardSale, retryRetour, retrySales } from '../src/sale-decisions.js';
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
    expect(retryRetour(store, 'R-4a')).toEqual({ ok: true });
    expect(store.retours.byNumero('R-4a')[0]).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null });
    expect(discardRetour(store, 'R-4a', 'client parti', AT)).toEqual({ ok: true });
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

  it("a till whose boutique the relay does not know yet: its return of a sale held for another such till is checked against it and waits behind it", () => {
    const nouvelle = (serial: string) => ({ serial, boutique_id: null });
    createSaleIntake(store).take(nouvelle('caisse-1'), [{ numero_facture: 'V-8', lignes: [{ article_id: 6, quantite: 2, prix_unitaire: 10 }] }], AT);
    const retourner = (numero: string, quantite: number) =>
      createRetourIntake(store).take(nouvelle('caisse-2'), [{ numero_retour: numero, numero_facture: 'V-8', lignes: [{ article_id: 6, quantite }] }], AT);
    expect(retourner('R-8a', 3).erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE' })]);
    expect(retourner('R-8b', 2).crees).toEqual([expect.objectContaining({ montant_total: '20.00' })]);
    expect(retourner('R-8c', 1).erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE', erreur: expect.stringContaining('reste 0') })]);
    expect(store.retours.serialsDue()).toEqual([]);
    // The sale reaches the server, which names caisse-1's boutique: the return may go.
    store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 1' }, AT);
    store.markSynced(store.byNumero('V-8')[0]!.id, '20.00', AT);
    expect(store.retours.serialsDue()).toEqual(['caisse-2']);
  });

  it('a return from a till of unknown boutique whose numero matches held sales of two boutiques is not judged at the relay (the server does), and waits behind both', () => {
    sell('caisse-1', 'V-9', 1);
    createSaleIntake(store).take({ serial: 'caisse-autre', boutique_id: 3 }, [{ numero_facture: 'V-9', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
    const taken = createRetourIntake(store).take({ serial: 'caisse-neuve', boutique_id: null }, [{ numero_retour: 'R-9', numero_facture: 'V-9', lignes: [{ article_id: 6, quantite: 5 }] }], AT);
    expect(taken.crees).toHaveLength(1);
    store.markSynced(store.byNumero('V-9')[0]!.id, '10.00', AT);
    expect(store.retours.serialsDue()).toEqual([]);
    store.markSynced(store.byNumero('V-9')[1]!.id, '10.00', AT);
    expect(store.retours.serialsDue()).toEqual(['caisse-neuve']);
  });

  it('a return taken at 0.00 before the catalogue came (sale not held) gets the catalogue price once its boutique and the catalogue are known', () => {
    createRetourIntake(store).take({ serial: 'caisse-9', boutique_id: null }, [{ numero_retour: 'R-10', numero_facture: 'X-10', lignes: [{ article_id: 6, quantite: 3 }] }], AT);
    expect(store.retours.byNumero('R-10')[0]!.montant_total).toBe(0);
    store.saveTerminal('caisse-9', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 9' }, AT);
    expect(store.retours.byNumero('R-10')[0]!.montant_total).toBe(0);
    store.replaceCatalogue(2, [{ id: 6, nom: 'Chargeur', prix_vente: '50.00', quantite_stock: 4 }], AT, (t) => Math.round(Number(t) * 100));
    expect(store.retours.byNumero('R-10')[0]!.montant_total).toBe(15000);
    // Already known catalogue, boutique learned later: priced at that moment.
    createRetourIntake(store).take({ serial: 'caisse-8', boutique_id: null }, [{ numero_retour: 'R-11', numero_facture: 'X-11', lignes: [{ article_id: 6, quantite: 1 }] }], AT);
    store.saveTerminal('caisse-8', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 8' }, AT);
    expect(store.retours.byNumero('R-11')[0]!.montant_total).toBe(5000);
  });
});

describe("a person's decision acts on one till's return or sale", () => {
  const sellAt = (serial: string, boutique: number | null, numero: string) =>
    createSaleIntake(store).take({ serial, boutique_id: boutique }, [{ numero_facture: numero, lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
  const statuts = (numero: string) => store.retours.byNumero(numero).map((r) => [r.serial, r.statut]);

  it('discarding or retrying a return numero two tills hold does nothing and names both tills; with the till, that one only', () => {
    give('caisse-A', 'DUPN', 'X-1', 1);
    createRetourIntake(store).take({ serial: 'caisse-C', boutique_id: 3 }, [{ numero_retour: 'DUPN', numero_facture: 'X-9', lignes: [{ article_id: 6 }] }], AT);
    store.retours.markRejected(store.retours.byNumero('DUPN')[1]!.id, 'SALE_NOT_FOUND', 'Vente X-9 introuvable');
    expect(discardRetour(store, 'DUPN', 'erreur de caisse', AT)).toEqual({ ok: false, refusal: 'AMBIGU', caisses: ['caisse-A', 'caisse-C'] });
    expect(statuts('DUPN')).toEqual([['caisse-A', 'EN_ATTENTE'], ['caisse-C', 'REJETEE']]);
    expect(discardRetour(store, 'DUPN', 'erreur de caisse', AT, 'caisse-C')).toEqual({ ok: true });
    expect(statuts('DUPN')).toEqual([['caisse-A', 'EN_ATTENTE'], ['caisse-C', 'ABANDONNEE']]);
    // One till's return is open now: the numero alone means it.
    expect(discardRetour(store, 'DUPN', 'client parti', AT)).toEqual({ ok: true });
    expect(statuts('DUPN')).toEqual([['caisse-A', 'ABANDONNEE'], ['caisse-C', 'ABANDONNEE']]);
    expect(retryRetour(store, 'DUPN')).toEqual({ ok: false, refusal: 'AMBIGU', caisses: ['caisse-A', 'caisse-C'] });
    expect(retryRetour(store, 'DUPN', 'caisse-A')).toEqual({ ok: true });
    expect(statuts('DUPN')).toEqual([['caisse-A', 'EN_ATTENTE'], ['caisse-C', 'ABANDONNEE']]);
  });

  it('the same for a sale numero two boutiques use: neither is discarded or retried without the till', () => {
    sellAt('caisse-A', 2, 'V-DUP');
    sellAt('caisse-C', 3, 'V-DUP');
    const ids = store.byNumero('V-DUP').map((v) => v.id);
    store.markRejected(ids[1]!, 'ARTICLE_NOT_FOUND', 'article inconnu', AT);
    expect(discardSale(store, 'V-DUP', 'annulée', AT)).toEqual({ ok: false, refusal: 'AMBIGU', caisses: ['caisse-A', 'caisse-C'] });
    expect(store.byNumero('V-DUP').map((v) => v.statut)).toEqual(['EN_ATTENTE', 'REJETEE']);
    expect(discardSale(store, 'V-DUP', 'annulée', AT, 'caisse-C')).toEqual({ ok: true });
    expect(store.byNumero('V-DUP').map((v) => v.statut)).toEqual(['EN_ATTENTE', 'ABANDONNEE']);
    store.markRejected(ids[0]!, 'ARTICLE_NOT_FOUND', 'article inconnu', AT);
    expect(retrySales(store, ['V-DUP'], AT)).toMatchObject({ count: 0, ambiguous: [{ numero: 'V-DUP', caisses: ['caisse-A', 'caisse-C'] }] });
    expect(store.byNumero('V-DUP').map((v) => v.statut)).toEqual(['REJETEE', 'ABANDONNEE']);
    expect(retrySales(store, ['V-DUP'], AT, 'caisse-A')).toMatchObject({ count: 1, ambiguous: [] });
    expect(store.byNumero('V-DUP').map((v) => v.statut)).toEqual(['EN_ATTENTE', 'ABANDONNEE']);
  });

  it('a return whose last send had no clear answer cannot be discarded (the server may have it) until an answer says', () => {
    give('caisse-1', 'NV1', 'X-1', 1);
    const id = store.retours.byNumero('NV1')[0]!.id;
    store.retours.claimBatch('caisse-1', AT, 10);
    expect(discardRetour(store, 'NV1', 'client parti', AT)).toEqual({ ok: false, refusal: 'EN_COURS_D_ENVOI' });
    store.transaction(() => {
      store.retours.countAttempt([id], { at: AT, reason: "Délai dépassé", unsure: true });
      store.retours.release([id]);
    });
    expect(discardRetour(store, 'NV1', 'client parti', AT)).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
    expect(store.retours.byNumero('NV1')[0]!.statut).toBe('EN_ATTENTE');
    expect(store.retours.tentatives(id)).toEqual([expect.objectContaining({ resultat: 'ECHEC', code: 'SANS_VERDICT' })]);
    // The server answers: it lacks the sale, which waits here; the return may now be discarded.
    store.retours.recordAttempt(id, AT, 'ATTENTE_VENTE', 'SALE_NOT_FOUND', 'Vente X-1 introuvable');
    expect(discardRetour(store, 'NV1', 'client parti', AT)).toEqual({ ok: true });
    expect(store.retours.byNumero('NV1')[0]!.statut).toBe('ABANDONNEE');
  });

  it('a return whose send was cut by a kill -9 (a claim left, no outcome) cannot be discarded once the claim is old, relay not restarted', () => {
    give('caisse-1', 'NV3', 'X-1', 1);
    const id = store.retours.byNumero('NV3')[0]!.id;
    store.retours.claimBatch('caisse-1', AT, 10);
    const later = new Date(AT.getTime() + CLAIM_STALE_MS + 60_000);
    expect(discardRetour(store, 'NV3', 'client parti', later)).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
    expect(store.retours.byNumero('NV3')[0]).toMatchObject({ statut: 'EN_ATTENTE', decision: null });
    // Once the send's outcome is written (the server lacks the sale), a person may decide.
    store.transaction(() => {
      store.retours.recordAttempt(id, later, 'ATTENTE_VENTE', 'SALE_NOT_FOUND', 'Vente X-1 introuvable');
      store.retours.release([id]);
    });
    expect(discardRetour(store, 'NV3', 'client parti', later)).toEqual({ ok: true });
  });

  it('a send cut short by the relay stopping counts as no clear answer', () => {
    give('caisse-1', 'NV2', 'X-1', 1);
    store.retours.claimBatch('caisse-1', AT, 10);
    store.releaseAllClaims(AT);
    expect(discardRetour(store, 'NV2', 'client parti', AT)).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
  });
});

describe('a return whose till is not known yet (server away)', () => {
  it("is not refused for a held sale of that numero from another boutique: it is held and the server judges it", () => {
    createSaleIntake(store).take({ serial: 'caisse-K', boutique_id: 5 }, [{ numero_facture: 'Z-2', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
    const taken = createRetourIntake(store).take(
      { serial: 'caisse-N', boutique_id: null },
      [{ numero_retour: 'RN-1', numero_facture: 'Z-2', lignes: [{ article_id: 8, quantite: 1 }] }],
      AT,
    );
    expect(taken.erreurs).toEqual([]);
    expect(store.retours.byNumero('RN-1')[0]).toMatchObject({ statut: 'EN_ATTENTE', serial: 'caisse-N', boutique_id: null });
    // The same till's own sale is still checked: a return beyond it is refused.
    createSaleIntake(store).take({ serial: 'caisse-N', boutique_id: null }, [{ numero_facture: 'N-1', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
    const beyond = createRetourIntake(store).take({ serial: 'caisse-N', boutique_id: null }, [{ numero_retour: 'RN-2', numero_facture: 'N-1', lignes: [{ article_id: 8, quantite: 1 }] }], AT);
    expect(beyond.erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE' })]);
    expect(store.retours.byNumero('RN-2')).toEqual([]);
  });
});

describe("one till's trouble does not hold another till's returns", () => {
  it("a return of a till the server refused as unknown does not use up the sale: a real return at a known till of the shop is taken", () => {
    sell('caisse-A', 'V-9', 2);
    store.markSynced(store.byNumero('V-9')[0]!.id, '20.00', AT);
    expect(give('caisse-X', 'R-X', 'V-9', 2).erreurs).toEqual([]);
    store.saveTerminal('caisse-X', 'INCONNU', { boutique_id: null, boutique_nom: null, terminal_nom: null }, AT);
    expect(give('caisse-A', 'R-A', 'V-9', 1).erreurs).toEqual([]);
    expect(store.retours.byNumero('R-A')[0]).toMatchObject({ statut: 'EN_ATTENTE', serial: 'caisse-A' });
    // The sale's own till's returns still count: no more than it sold.
    expect(give('caisse-A', 'R-A2', 'V-9', 2).erreurs).toEqual([expect.objectContaining({ code: 'RETURN_EXCEEDS_SALE' })]);
    expect(store.retours.byNumero('R-A2')).toEqual([]);
  });

  it("a sale of a till the server refused as unknown holds no return of another till; a return whose sale is on the server waits for no other till's sale of that numero", () => {
    sell('caisse-A', '42', 2);
    store.markSynced(store.byNumero('42')[0]!.id, '20.00', AT);
    createSaleIntake(store).take({ serial: 'caisse-C', boutique_id: null }, [{ numero_facture: '42', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
    give('caisse-A', 'X1', '42', 1);
    createRetourIntake(store).take({ serial: 'caisse-B', boutique_id: null }, [{ numero_retour: 'X2', numero_facture: '42', lignes: [{ article_id: 6 }] }], AT);
    // X1: its own till's sale 42 is on the server. X2 still waits behind caisse-C's sale.
    expect(store.retours.serialsDue()).toEqual(['caisse-A']);
    expect(store.retours.blockingSale(store.retours.byNumero('X1')[0]!.id)).toBeUndefined();
    store.saveTerminal('caisse-C', 'INCONNU', { boutique_id: null, boutique_nom: null, terminal_nom: null }, AT);
    expect(store.retours.serialsDue()).toEqual(['caisse-A', 'caisse-B']);
    expect(store.retours.summary().attendent_la_vente).toBe(0);
  });

  it("a return of another till's sale of the same numero is not counted against this one (no valid return refused, no \"reste -1\")", () => {
    sell('caisse-A', '42', 1);
    store.markSynced(store.byNumero('42')[0]!.id, '10.00', AT);
    createSaleIntake(store).take({ serial: 'caisse-C', boutique_id: null }, [{ numero_facture: '42', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], AT);
    const fromC = createRetourIntake(store).take({ serial: 'caisse-C', boutique_id: null }, [{ numero_retour: 'X3', numero_facture: '42', lignes: [{ article_id: 6 }] }], AT);
    expect(fromC.crees).toHaveLength(1);
    // caisse-C's own return of its own sale waits for it.
    expect(store.retours.blockingSale(store.retours.byNumero('X3')[0]!.id)).toMatchObject({ statut: 'EN_ATTENTE' });
    expect(give('caisse-A', 'X1', '42', 1).crees).toHaveLength(1);
    const over = give('caisse-A', 'X4', '42', 1).erreurs[0]!;
    expect(over).toMatchObject({ code: 'RETURN_EXCEEDS_SALE' });
    expect(over.erreur).toContain('reste 0');
    expect(store.retours.byNumero('X1')[0]!.statut).toBe('EN_ATTENTE');
  });
});
