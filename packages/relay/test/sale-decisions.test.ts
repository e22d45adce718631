import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { CLAIM_STALE_MS, createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { discardRefusalWords, discardSale, retryRefusalWords, retrySales } from '../src/sale-decisions.js';

let store: RelayStore;
const now = new Date('2025-11-25T09:30:00Z');

beforeEach(() => {
  store = createRelayStore(openDatabase(':memory:'));
  createSaleIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    ['A', 'B'].map((numero_facture) => ({ numero_facture, lignes: [{ article_id: 6, prix_unitaire: 10 }] })),
    now,
  );
  store.markRejected(store.byNumero('A')[0]!.id, 'ARTICLE_NOT_FOUND', 'Article 99 introuvable', now);
});

describe('a person’s decision on held sales, for the CLI and the page alike', () => {
  it('retries a rejected sale, and says which numeros had nothing to retry', () => {
    const outcome = retrySales(store, ['A', 'B', 'Z'], now);
    expect(outcome).toEqual({ count: 1, sending: [], missing: ['B', 'Z'], ambiguous: [], retours: [] });
    expect(store.byNumero('A')[0]!.statut).toBe('EN_ATTENTE');
    expect(retryRefusalWords(outcome)).toBe('pas de vente rejetée, abandonnée ou en attente de stock : B, Z');
    expect(retryRefusalWords({ sending: [], missing: [] })).toBeNull();
  });

  it('does not retry a sale being sent, and says so first', () => {
    store.scheduleStockRetry(store.byNumero('B')[0]!.id, 'Stock insuffisant', new Date(now.getTime() - 1), now);
    store.claimBatch('caisse-1', now, new Date(now.getTime() + 86_400_000), 10);
    const outcome = retrySales(store, ['B', 'Z'], now);
    expect(outcome).toEqual({ count: 0, sending: ['B'], missing: ['Z'], ambiguous: [], retours: [] });
    expect(retryRefusalWords(outcome)).toBe("en cours d'envoi au serveur, réessayez dans un instant : B");
  });

  it('discards with the reason kept; refuses in flight, without a verdict, or unknown, each in its words', () => {
    expect(discardSale(store, 'A', 'article retiré', now)).toEqual({ ok: true });
    expect(store.byNumero('A')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'article retiré' });

    store.claimBatch('caisse-1', now, new Date(now.getTime() + 86_400_000), 10);
    expect(discardSale(store, 'B', 'annulée', now)).toEqual({ ok: false, refusal: 'EN_COURS_D_ENVOI' });
    store.release(store.byNumero('B').map((v) => v.id));
    store.countAttempt(store.byNumero('B').map((v) => v.id), { at: now, reason: 'Serveur injoignable (ECONNRESET)', unsure: true });
    expect(discardSale(store, 'B', 'annulée', now)).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
    expect(discardSale(store, 'Z', 'annulée', now)).toEqual({ ok: false, refusal: 'INTROUVABLE' });
    expect(store.byNumero('B')[0]).toMatchObject({ statut: 'EN_ATTENTE', decision: null });

    const commands = { show: 'ventesync-relay show B', sync: 'ventesync-relay sync' };
    expect(discardRefusalWords('EN_COURS_D_ENVOI', 'B', commands)).toBe(
      "la vente B est en cours d'envoi au serveur : réessayez dans un instant (ventesync-relay show B)",
    );
    expect(discardRefusalWords('SANS_VERDICT', 'B')).toBe(
      "la vente B a été envoyée au serveur sans réponse claire : il l'a peut-être reçue. Attendez le prochain envoi, puis réessayez si elle est encore en attente",
    );
    expect(discardRefusalWords('SANS_VERDICT', 'B', commands)).toContain('ou lancez « ventesync-relay sync »');
    expect(discardRefusalWords('INTROUVABLE', 'Z')).toBe('pas de vente Z en attente ou rejetée');
  });

  it('does not discard a sale whose send was cut by a kill -9 (claim left, no outcome), even once the claim is old', () => {
    store.claimBatch('caisse-1', now, new Date(now.getTime() + 86_400_000), 10);
    const later = new Date(now.getTime() + CLAIM_STALE_MS + 60_000);
    expect(discardSale(store, 'B', 'annulée', later)).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
    expect(store.byNumero('B')[0]).toMatchObject({ statut: 'EN_ATTENTE', decision: null });
    // The send's outcome written (a refusal): the person may decide.
    const id = store.byNumero('B')[0]!.id;
    store.transaction(() => {
      store.markRejected(id, 'ARTICLE_NOT_FOUND', 'Article 99 introuvable', later);
      store.release([id]);
    });
    expect(discardSale(store, 'B', 'annulée', later)).toEqual({ ok: true });
  });

  it('says a return being sent, without a verdict, or missing as a return; a numero several tills hold names them and how to choose', () => {
    expect(discardRefusalWords('EN_COURS_D_ENVOI', 'FLY1', undefined, { genre: 'retour' })).toBe(
      "le retour FLY1 est en cours d'envoi au serveur : réessayez dans un instant",
    );
    expect(discardRefusalWords('SANS_VERDICT', 'NV1', undefined, { genre: 'retour' })).toBe(
      "le retour NV1 a été envoyé au serveur sans réponse claire : il l'a peut-être reçu. Attendez le prochain envoi, puis réessayez s'il est encore en attente",
    );
    expect(discardRefusalWords('INTROUVABLE', 'R9', undefined, { genre: 'retour' })).toBe('pas de retour R9 en attente ou rejeté');
    expect(
      discardRefusalWords('AMBIGU', 'DUPN', { show: 's', sync: 'y', discard: 'ventesync-relay discard DUPN --reason x' }, { genre: 'retour', caisses: ['caisse-A', 'caisse-C'] }),
    ).toBe(
      "plusieurs caisses ont des retours DUPN (caisse-A, caisse-C) : rien n'a été fait ; ajoutez --caisse SERIAL (ex. ventesync-relay discard DUPN --reason x --caisse caisse-A)",
    );
    expect(retryRefusalWords({ sending: [], missing: [], ambiguous: [{ numero: 'V', caisses: ['a', 'b'] }] })).toBe(
      "plusieurs caisses ont des ventes V (a, b) : rien n'a été fait ; précisez la caisse",
    );
  });
});
