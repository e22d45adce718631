import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../src/db/open-database.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { retourSituation } from '../src/retour-view.js';

let db: Db;
let store: RelayStore;
const AT = new Date('2025-10-01T08:00:00Z');

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createRelayStore(db);
});
afterEach(() => db.close());

describe('why a waiting return waits, in words', () => {
  it('a return of a till the server refused as unknown says so, as its sales do, not that it leaves at the next pass', () => {
    createRetourIntake(store).take({ serial: 'caisse-X', boutique_id: null }, [{ numero_retour: 'R-X', numero_facture: 'AILLEURS', lignes: [{ article_id: 6, quantite: 1 }] }], AT);
    const held = store.retours.byNumero('R-X')[0]!;
    expect(retourSituation(store, held)).toBe('envoi au prochain passage');
    store.retours.countAttempt([held.id], { at: AT, reason: 'Le serveur ne connaît pas ce terminal ou l’a désactivé (Terminal inconnu)' });
    store.saveTerminal('caisse-X', 'INCONNU', { boutique_id: null, boutique_nom: null, terminal_nom: null }, AT);
    expect(retourSituation(store, store.retours.byNumero('R-X')[0]!)).toBe('terminal refusé par le serveur (inconnu ou désactivé)');
  });
});
