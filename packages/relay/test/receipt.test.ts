import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { renderReceipt, saleRecord } from '../src/receipt.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';

const commands = { relay: 'pnpm relay', server: 'pnpm run server' };
const style = { now: new Date('2025-11-25T09:30:00Z'), utc: true };
let store: RelayStore;

beforeEach(() => {
  store = createRelayStore(openDatabase(':memory:'));
  store.replaceCatalogue(2, [{ id: 6, nom: 'Samsung S24', prix_vente: '40000.00', quantite_stock: 5 }], style.now, () => 4_000_000);
  createSaleIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    [{ numero_facture: 'R-1', lignes: [{ article_id: 6, quantite: 2 }, { article_id: 9, quantite: 1 }] }],
    new Date('2025-11-25T09:20:00Z'),
  );
});

describe('a held sale as a receipt', () => {
  it('lists its lines with names and prices from the catalogue, the server pricing what the relay cannot', () => {
    const text = renderReceipt(store, store.byNumero('R-1')[0]!, style, commands);
    expect(text).toMatch(/2 x Samsung S24 \(n° 6\)\s+40000\.00\s+80000\.00/);
    expect(text).toMatch(/1 x article n° 9\s+prix du serveur/);
    expect(text).toMatch(/TOTAL \(estimé par le relais\)\s+80000\.00/);
    expect(text).toContain('EN ATTENTE');
  });

  it('shows every send with its time and answer, an outage as one line', () => {
    const id = store.byNumero('R-1')[0]!.id;
    for (const minute of [21, 22, 23]) store.countAttempt([id], { at: new Date(`2025-11-25T09:${minute}:00Z`), reason: 'Serveur injoignable (ECONNREFUSED)' });
    store.markSynced(id, '105000.00', new Date('2025-11-25T09:25:00Z'));
    const text = renderReceipt(store, store.byNumero('R-1')[0]!, style, commands).replace(/\s+/g, ' ');
    expect(text).toContain("25/11/2025 09:21:00 UTC 3 fois jusqu'à 09:23:00 : non transmise : le serveur ne répond pas (connexion refusée)");
    expect(text).toContain('25/11/2025 09:25:00 UTC reçue par le serveur : montant 105000.00');
    expect(text).toMatch(/TOTAL \(confirmé par le serveur\) 105000\.00/);
    expect(saleRecord(store, store.byNumero('R-1')[0]!).historique).toHaveLength(4);
  });
});
