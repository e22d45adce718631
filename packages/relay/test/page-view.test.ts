import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { SERVER_AWAY_ALERT_MS, shopView, trafficLight, waitingSentence, waitWords } from '../src/page/shop-view.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { renderStatus, statusReport } from '../src/status-report.js';

const commands = { relay: 'ventesync-relay', server: 'ventesync-server' };
const daemon = { running: true as const, url: 'http://127.0.0.1:8001', identity: { relais_id: 'abc', pid: 1, demarre_le: '2025-11-25T08:00:00Z' } };
const received = new Date('2025-11-25T09:00:00Z');
let store: RelayStore;

const at = (minutes: number) => new Date(received.getTime() + minutes * 60_000);
const light = (now: Date, alertAfterMs?: number) => trafficLight(statusReport(store, daemon, commands), now, alertAfterMs);
const view = (now: Date) => shopView(store, { now, daemon, commands });

beforeEach(() => {
  store = createRelayStore(openDatabase(':memory:'));
  store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Caisse 1' }, received);
});

function hold(...numeros: string[]) {
  createSaleIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    numeros.map((numero_facture) => ({ numero_facture, lignes: [{ article_id: 6, prix_unitaire: 10 }] })),
    received,
  );
}

describe('the light of the shop page', () => {
  it('is green when nothing waits, even with the server away', () => {
    expect(light(at(0))).toMatchObject({ feu: 'vert', titre: 'Tout est envoyé', raisons: [] });
    store.recordServerAnswered(false, at(1));
    expect(light(at(90))).toMatchObject({ feu: 'vert', raisons: ["Le serveur central ne répond pas en ce moment, mais aucune vente n'attend."] });
  });

  it('is orange while sales wait and the server answers, however long', () => {
    hold('A');
    store.recordServerAnswered(true, at(1));
    expect(light(at(600))).toMatchObject({ feu: 'orange', raisons: ['Le serveur central répond : les ventes en attente partent.'] });
  });

  it('is orange while the server is away and the wait is short, red once a sale has waited the threshold', () => {
    hold('A');
    store.recordServerAnswered(false, at(1));
    expect(light(at(29)).feu).toBe('orange');
    expect(SERVER_AWAY_ALERT_MS).toBe(30 * 60_000);
    const red = light(at(30));
    expect(red.feu).toBe('rouge');
    expect(red.raisons[0]).toBe(
      'Le serveur central ne répond pas, et des ventes attendent depuis plus de 30 min : vérifiez la connexion internet de la boutique ; ' +
        'si cela dure, prévenez le responsable informatique.',
    );
    // The threshold is the caller's: a shorter one turns red sooner.
    expect(light(at(5), 5 * 60_000).feu).toBe('rouge');
  });

  it('a server answering but failing every sale is not "répond": orange, red past the away threshold, never "les ventes partent"', () => {
    hold('A');
    store.recordServerAnswered(true, at(1));
    store.setEtat('serveur_en_panne', JSON.stringify({ depuis: at(1).toISOString(), raison: 'HTTP 502' }));
    const early = light(at(29));
    expect(early.feu).toBe('orange');
    expect(early.raisons.join(' ')).toContain('répond mais refuse toutes les ventes');
    const red = light(at(30));
    expect(red.feu).toBe('rouge');
    expect(red.raisons[0]).toContain('le serveur central répond mais refuse toutes les ventes'.replace(/^l/, 'L'));
    for (const verdict of [early, red]) expect(verdict.raisons.join(' ')).not.toContain('les ventes en attente partent');
    expect(view(at(30)).serveur).toMatch(/^répond mais refuse toutes les ventes/);
    expect(renderStatus(statusReport(store, daemon, commands), { now: at(30), utc: false }, commands)).toContain('RÉPOND MAIS REFUSE TOUTES LES VENTES');
  });

  it('is red while a refused sale awaits a decision, even with the server there', () => {
    hold('A', 'B');
    store.recordServerAnswered(true, at(1));
    store.markRejected(store.byNumero('A')[0]!.id, 'ARTICLE_NOT_FOUND', 'Article 99 introuvable');
    expect(light(at(2))).toMatchObject({
      feu: 'rouge',
      raisons: [
        '1 vente refusée par le serveur attend une décision : voir « Ventes refusées » plus bas.',
        'Le serveur central répond : les ventes en attente partent.',
      ],
    });
  });

  it('is red when the relay cannot write its file', () => {
    store.setEtat('ecriture_impossible', JSON.stringify({ depuis: at(0).toISOString(), code: 'SQLITE_FULL', message: 'Disque plein : libérez de la place' }));
    expect(light(at(1))).toMatchObject({ feu: 'rouge', raisons: ['Disque plein : libérez de la place'] });
  });
});

/** Returns taken at caisse-1 for sales the relay does not hold (the server has them). */
function giveBack(...numeros: string[]) {
  createRetourIntake(store).take(
    { serial: 'caisse-1', boutique_id: 2 },
    numeros.map((numero_retour) => ({ numero_retour, numero_facture: `V-${numero_retour}`, lignes: [{ article_id: 6, quantite: 1 }] })),
    received,
  );
}

describe('returns on the shop page (they too exist only on this PC until sent)', () => {
  it('a return waiting alone is not "Tout est envoyé": orange, counted, and the PC must stay on', () => {
    giveBack('R-1');
    store.recordServerAnswered(false, at(1));
    const page = view(at(3));
    expect(page).toMatchObject({
      feu: 'orange',
      titre: 'Des retours attendent d’être envoyés',
      raisons: ["Le serveur central ne répond pas pour l'instant : les retours sont gardés sur ce PC et partiront dès son retour."],
      attente: '1 retour en attente depuis 3 min',
      en_attente: 0,
      retours_en_attente: 1,
      ne_pas_eteindre: true,
      ne_pas_eteindre_texte: 'Ne pas éteindre ce PC : des retours attendent d’être envoyés au serveur central.',
    });
    expect(page.terminaux[0]).toMatchObject({ en_attente: 0, retours_en_attente: 1, retours_rejetes: 0 });
    // Past the threshold with the server away, as for sales.
    expect(light(at(30))).toMatchObject({ feu: 'rouge', raisons: [expect.stringContaining('et des retours attendent depuis plus de 30 min')] });
  });

  it('sales and returns waiting together are counted together, from the oldest of them', () => {
    giveBack('R-2');
    hold('A');
    store.recordServerAnswered(true, at(0));
    expect(view(at(12))).toMatchObject({
      feu: 'orange',
      titre: 'Des ventes et des retours attendent d’être envoyés',
      raisons: ['Le serveur central répond : les ventes et les retours en attente partent.'],
      attente: '1 vente et 1 retour en attente depuis 12 min',
      ne_pas_eteindre: true,
    });
  });

  it('a return refused by the server turns the light red and is listed with its sale, the reason and what to do', () => {
    giveBack('R-3');
    store.retours.markRejected(store.retours.byNumero('R-3')[0]!.id, 'SALE_NOT_FOUND', 'Vente V-R-3 introuvable dans cette boutique');
    const page = view(at(1));
    expect(page.feu).toBe('rouge');
    expect(page.raisons[0]).toBe('1 retour refusé par le serveur attend une décision : voir « Retours refusés » plus bas.');
    expect(page.retours_refuses).toEqual([
      {
        numero_retour: 'R-3',
        numero_facture: 'V-R-3',
        terminal: 'Caisse 1',
        caisse: 'caisse-1',
        montant: '0.00',
        recu: 'il y a 1 min',
        raison: 'Vente V-R-3 introuvable dans cette boutique',
        que_faire: expect.stringContaining('Vérifier que la vente V-R-3 est bien arrivée au serveur'),
      },
    ]);
    expect(page.retours_refuses_non_montres).toBe(0);
    expect(page.terminaux[0]).toMatchObject({ rejetees: 0, retours_rejetes: 1 });
    // Nothing else waits: the PC may be turned off, the refusal is kept.
    expect(page.ne_pas_eteindre).toBe(false);
  });
});

describe('what the page says', () => {
  it('counts the waiting sales and their age in words', () => {
    expect(waitWords(20_000)).toBe("moins d'une minute");
    expect(waitWords(12 * 60_000)).toBe('12 min');
    expect(waitWords(65 * 60_000)).toBe('1 h 05');
    expect(waitWords(27 * 3_600_000)).toBe('1 j 3 h');
    expect(waitingSentence(0, null, at(0))).toBeNull();
    expect(waitingSentence(1, received.toISOString(), at(3))).toBe('1 vente en attente depuis 3 min');
    hold('A', 'B', 'C');
    expect(view(at(12))).toMatchObject({ attente: '3 ventes en attente depuis 12 min', en_attente: 3, ne_pas_eteindre: true, dernier_envoi: 'jamais' });
  });

  it("uses the CLI's own sentences for a till's stock refusal and for alerts", () => {
    hold('A');
    store.scheduleStockRetry(store.byNumero('A')[0]!.id, 'Stock insuffisant pour Samsung S24', at(4), at(1));
    store.setEtat('horloge_decalee', JSON.stringify({ decalage_ms: 3_600_000, mesure_le: at(0).toISOString() }));
    const page = view(at(2));
    const cli = renderStatus(statusReport(store, daemon, commands), { now: at(2), utc: false }, commands).replace(/\s+/g, ' ');
    expect(page.terminaux[0]!.situation).toBe("1 vente refusée pour l'instant par le serveur : A (Stock insuffisant pour Samsung S24), nouvel essai dans 2 min");
    expect(cli).toContain(page.terminaux[0]!.situation!);
    expect(page.alertes).toHaveLength(1);
    expect(cli).toContain(page.alertes[0]!.replace(/\s+/g, ' '));
  });

  it('lists refused sales with the reason in words and what to do, and counts those past the first page', () => {
    hold('A');
    store.markRejected(store.byNumero('A')[0]!.id, 'INSUFFICIENT_STOCK', 'Stock insuffisant pour Samsung S24 (demandé 3, disponible 1)');
    expect(view(at(1)).refusees).toEqual([
      {
        numero_facture: 'A',
        terminal: 'Caisse 1',
        caisse: 'caisse-1',
        montant: '10.00',
        recue: 'il y a 1 min',
        raison: 'Stock insuffisant pour Samsung S24 (demandé 3, disponible 1)',
        que_faire: 'Enregistrer la livraison ou le comptage sur le serveur, puis renvoyer la vente',
      },
    ]);
    expect(view(at(1)).refusees_non_montrees).toBe(0);
  });
});
