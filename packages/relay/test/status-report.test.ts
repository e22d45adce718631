import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { renderStatus, statusReport } from '../src/status-report.js';

const commands = { relay: 'pnpm relay', server: 'pnpm run server' };
const stopped = { running: false as const, url: null, reason: 'arrêté' };
const now = new Date('2025-11-25T09:30:00Z');
let store: RelayStore;

beforeEach(() => {
  store = createRelayStore(openDatabase(':memory:'));
  store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 1' }, now);
  createSaleIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    ['A', 'B', 'C'].map((n) => ({ numero_facture: n, lignes: [{ article_id: 6, prix_unitaire: 10 }] })),
    new Date('2025-11-25T09:27:00Z'),
  );
});

describe('status, for staff', () => {
  it('counts a sale the server refused for now apart, with its reason and next try', () => {
    const a = store.byNumero('A')[0]!;
    store.scheduleStockRetry(a.id, 'Stock insuffisant pour Samsung S24', new Date('2025-11-25T09:34:00Z'), now);
    const report = statusReport(store, stopped, commands);
    expect(report.totaux).toMatchObject({ en_attente: 3, en_attente_refusees: 1 });
    expect(report.terminaux[0]!.refus_serveur).toEqual({
      numero_facture: 'A',
      code: 'INSUFFICIENT_STOCK',
      erreur: 'Stock insuffisant pour Samsung S24',
      prochain_essai: '2025-11-25T09:34:00.000Z',
    });
    const text = renderStatus(report, { now, utc: false }, commands).replace(/\s+/g, ' ');
    expect(text).toContain("1 vente refusée pour l'instant par le serveur : A (Stock insuffisant pour Samsung S24), nouvel essai dans 4 min");
    expect(text.replace(/\s+/g, ' ')).toContain('après correction du stock sur le serveur : pnpm relay retry --all');
  });

  it('returns waiting alone on a stopped relay: status says nothing leaves until it is started, and counts them on their till', () => {
    for (const n of ['A', 'B', 'C']) store.markSynced(store.byNumero(n)[0]!.id, '10.00', now);
    createRetourIntake(store).take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'R-1', numero_facture: 'A', lignes: [{ article_id: 6 }] }], now);
    const report = statusReport(store, stopped, commands);
    expect(report.totaux.en_attente).toBe(0);
    expect(report.terminaux[0]).toMatchObject({ retours_en_attente: 1, retours_rejetes: 0 });
    const text = renderStatus(report, { now, utc: false }, commands).replace(/\s+/g, ' ');
    expect(text).toContain("rien ne part tant qu'il est arrêté");
    expect(text).toContain('0 en attente, 0 rejetée(s), 3 synchronisée(s), 1 retour(s) en attente');
  });

  it('says in words what the server did last, keeping the raw text for scripts', () => {
    store.recordTerminalError('caisse-1', 'Serveur injoignable (ECONNREFUSED : connect ECONNREFUSED 127.0.0.1:8000)', new Date('2025-11-25T09:29:50Z'));
    const till = statusReport(store, stopped, commands).terminaux[0]!;
    expect(till).toMatchObject({ derniere_erreur: expect.stringContaining('ECONNREFUSED'), probleme: 'le serveur ne répond pas (connexion refusée)' });
    const text = renderStatus(statusReport(store, stopped, commands), { now, utc: false }, commands);
    expect(text).toContain('problème : le serveur ne répond pas (connexion refusée) (il y a 10 s)');
    expect(text).not.toContain('ECONNREFUSED');
  });

  it('a till the server refuses is BLOQUÉ, with the command that unblocks it', () => {
    store.saveTerminal('caisse-1', 'INCONNU', { boutique_id: 2, boutique_nom: null, terminal_nom: null }, now);
    const text = renderStatus(statusReport(store, stopped, commands), { now, utc: false }, commands).replace(/\s+/g, ' ');
    expect(text).toContain('BLOQUÉ');
    expect(text).toContain('pnpm run server terminal enable caisse-1');
  });

  it('every line fits 80 columns, even with long names and messages', () => {
    store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: 'B'.repeat(70), terminal_nom: 'C'.repeat(70) }, now);
    store.setEtats({ serveur_url: `http://${'s'.repeat(90)}:8000`, serveur_joignable: 'non', derniere_erreur: 'x '.repeat(100), derniere_erreur_le: now.toISOString() });
    const text = renderStatus(statusReport(store, stopped, commands), { now, utc: false }, commands);
    // Only a word no screen could hold (the 98-character address, in a command) is left whole: a command is never cut.
    const lines = text.split('\n').filter((l) => !l.includes('s'.repeat(90)));
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
  });
});
