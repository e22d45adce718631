import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamAnswer } from '../src/classify.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, type ForwarderConfig, POISON_MAX_ALONE_FAILURES } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { discardRetour } from '../src/sale-decisions.js';
import { createSaleIntake } from '../src/sale-intake.js';
import type { Upstream } from '../src/upstream.js';

// The forwarder's returns (issue 10): after their sale, with the sales' backoff, 413 halving
// and poison isolation, against a scripted server.

const CONFIG: ForwarderConfig = {
  batchSize: 4,
  intervalMs: 60_000,
  debounceMs: 1,
  debounceMaxMs: 1_000,
  parallelTills: 4,
  networkRetry: { baseMs: 1, capMs: 2, factor: 2 },
  stockRetry: { baseMs: 2, capMs: 4, factor: 2, maxAttempts: 3 },
  bisectPaceMs: 1,
};
const SERIAL = 'caisse-1';
const WHO = { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal: 'Caisse 1' };

let db: ReturnType<typeof openDatabase>;
let store: RelayStore;
let sent: Array<{ path: 'sync' | 'retours'; numeros: string[] }>;
/** What the scripted server does with one return (by numero); created when not said. */
let retourFate: (numero: string, batchSize: number) => 'created' | 'SALE_NOT_FOUND' | '413' | '500' | 'away' | 'timeout';
/** Tills the scripted server does not know (404 TERMINAL_NOT_FOUND). */
let unknownTills: Set<string>;
const tillUnknown = () => response(404, { error: 'Terminal inconnu', code: 'TERMINAL_NOT_FOUND' });

const response = (status: number, body: unknown): UpstreamAnswer => ({ kind: 'response', status, body, retryAfterMs: null });

const fake: Upstream = {
  baseUrl: 'http://fake',
  signed: false,
  postSync: async (serial: string, body: string) => {
    if (unknownTills.has(serial)) return tillUnknown();
    const ventes = JSON.parse(body) as Array<{ numero_facture: string }>;
    sent.push({ path: 'sync', numeros: ventes.map((v) => v.numero_facture) });
    const ventes_creees = ventes.map((v) => ({ numero_facture: v.numero_facture, montant_total: '10.00', lignes: [] }));
    return response(201, { success: true, message: '', ...WHO, statistiques: { total_envoyees: ventes.length, reussies: ventes.length, erreurs: 0 }, ventes_creees, ventes_erreurs: null });
  },
  postRetours: async (serial: string, body: string) => {
    if (unknownTills.has(serial)) return tillUnknown();
    const retours = JSON.parse(body) as Array<{ numero_retour: string; numero_facture: string }>;
    sent.push({ path: 'retours', numeros: retours.map((r) => r.numero_retour) });
    const fates = retours.map((r) => retourFate(r.numero_retour, retours.length));
    if (fates.includes('away')) return { kind: 'network-error', reason: 'Serveur injoignable (ECONNREFUSED)', maybeReceived: false };
    if (fates.includes('timeout')) return { kind: 'network-error', reason: "Délai d'attente dépassé", maybeReceived: true };
    if (fates.includes('413')) return response(413, { error: 'Trop gros', code: 'PAYLOAD_TOO_LARGE' });
    if (fates.includes('500')) return response(500, { error: 'Erreur interne', code: 'INTERNAL' });
    const crees = retours.filter((_, i) => fates[i] === 'created').map((r) => ({ numero_retour: r.numero_retour, numero_facture: r.numero_facture, montant_total: '10.00', lignes: [] }));
    const erreurs = retours.flatMap((r, i) =>
      fates[i] === 'SALE_NOT_FOUND' ? [{ index: i + 1, numero_retour: r.numero_retour, numero_facture: r.numero_facture, erreur: `Vente ${r.numero_facture} introuvable`, code: 'SALE_NOT_FOUND' }] : [],
    );
    return response(crees.length > 0 ? 201 : 200, {
      success: crees.length > 0, message: '', ...WHO,
      statistiques: { total_envoyees: retours.length, reussies: crees.length, erreurs: erreurs.length },
      retours_crees: crees, retours_erreurs: erreurs.length > 0 ? erreurs : null,
    });
  },
} as unknown as Upstream;

const logs: string[] = [];
const logger = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
let forwarder: ReturnType<typeof createForwarder>;

const sell = (numero: string) =>
  createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: numero, lignes: [{ article_id: 6, quantite: 5, prix_unitaire: 10 }] }], new Date());
const give = (...pairs: Array<[string, string]>) =>
  createRetourIntake(store).take({ serial: SERIAL, boutique_id: 2 }, pairs.map(([n, f]) => ({ numero_retour: n, numero_facture: f, lignes: [{ article_id: 6, quantite: 1 }] })), new Date());
const retour = (numero: string) => store.retours.byNumero(numero)[0]!;

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createRelayStore(db);
  sent = [];
  logs.length = 0;
  retourFate = () => 'created';
  unknownTills = new Set();
  forwarder = createForwarder({ store, upstream: fake, config: CONFIG, logger });
});
afterEach(async () => {
  await forwarder.stop();
  db.close();
});

/** Passes until the condition holds (each pass waits out the till's short backoff first). */
async function passUntil(done: () => boolean, passes = 50): Promise<void> {
  for (let i = 0; i < passes && !done(); i++) await forwarder.syncNow();
  expect(done()).toBe(true);
}

describe('the forwarder sends returns after their sale', () => {
  it("a till's sale goes first, then its return, in the same pass; both synced", async () => {
    give(['R-0', 'V-1']);
    sell('V-1');
    expect(await forwarder.runOnce()).toMatchObject({ synchronisees: 1, retours_synchronises: 1, retours_rejetes: 0 });
    expect(sent).toEqual([
      { path: 'sync', numeros: ['V-1'] },
      { path: 'retours', numeros: ['R-0'] },
    ]);
    expect(retour('R-0')).toMatchObject({ statut: 'SYNCHRONISEE', montant_serveur: '10.00', tentatives: 1 });
  });

  it("a return taken at another till than its sale goes in the same sync, once that till's sale is synced", async () => {
    sell('V-9');
    createRetourIntake(store).take({ serial: 'caisse-0', boutique_id: 2 }, [{ numero_retour: 'R-9', numero_facture: 'V-9', lignes: [{ article_id: 6 }] }], new Date());
    await forwarder.runOnce();
    expect(sent.map((s) => s.path)).toEqual(['sync', 'retours']);
    expect(retour('R-9').statut).toBe('SYNCHRONISEE');
  });

  it('a server away leaves the returns waiting, their sends counted; they go when it is back', async () => {
    give(['R-1', 'X-1']);
    retourFate = () => 'away';
    await forwarder.runOnce();
    expect(retour('R-1')).toMatchObject({ statut: 'EN_ATTENTE', tentatives: 1 });
    retourFate = () => 'created';
    await passUntil(() => retour('R-1').statut === 'SYNCHRONISEE');
  });

  it('a 413 halves the batch; a return the server fails alone is REJETEE after the poison limit, the others synced', async () => {
    give(['R-a', 'X-1'], ['R-b', 'X-1'], ['R-bad', 'X-1'], ['R-c', 'X-1']);
    let first = true;
    retourFate = (numero, size) => {
      if (first && size === 4) return (first = false), '413';
      return numero === 'R-bad' ? '500' : 'created';
    };
    await passUntil(() => retour('R-bad').statut === 'REJETEE');
    expect(sent[0]).toEqual({ path: 'retours', numeros: ['R-a', 'R-b', 'R-bad', 'R-c'] });
    expect(sent[1]!.numeros).toHaveLength(2);
    expect(['R-a', 'R-b', 'R-c'].map((n) => retour(n).statut)).toEqual(['SYNCHRONISEE', 'SYNCHRONISEE', 'SYNCHRONISEE']);
    expect(retour('R-bad')).toMatchObject({ code_erreur: 'INTERNAL', echecs_seul: POISON_MAX_ALONE_FAILURES });
    expect(retour('R-bad').erreur).toContain('Le serveur échoue sur ce retour');
    // Set aside after its first failure alone: R-c went on before R-bad was judged.
    const lastBad = sent.map((s) => s.numeros.join()).lastIndexOf('R-bad');
    expect(sent.findIndex((s) => s.numeros.join() === 'R-c')).toBeLessThan(lastBad);
  });

  it('SALE_NOT_FOUND makes the return REJETEE with the reason, unless its sale waits on the relay again: then it waits for it', async () => {
    give(['R-x', 'AILLEURS-1']);
    retourFate = () => 'SALE_NOT_FOUND';
    await forwarder.runOnce();
    expect(retour('R-x')).toMatchObject({ statut: 'REJETEE', code_erreur: 'SALE_NOT_FOUND', erreur: 'Vente AILLEURS-1 introuvable' });

    sell('V-2');
    give(['R-y', 'V-2']);
    const v2 = store.byNumero('V-2')[0]!;
    store.markSynced(v2.id, '50.00', new Date());
    // Claimed while the sale was synced; a person puts the sale back to waiting before the answer.
    retourFate = () => {
      db.prepare("UPDATE ventes SET statut = 'EN_ATTENTE' WHERE numero_facture = 'V-2'").run();
      return 'SALE_NOT_FOUND';
    };
    await forwarder.runOnce();
    expect(retour('R-y')).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: 'SALE_NOT_FOUND' });
    expect(store.retours.hasDue(SERIAL)).toBe(false);
  });

  it('a return sent without a clear answer (timeout) cannot be discarded until an answer comes; show lists its sends', async () => {
    give(['NV1', 'X-1']);
    retourFate = () => 'timeout';
    await forwarder.runOnce();
    expect(retour('NV1')).toMatchObject({ statut: 'EN_ATTENTE', tentatives: 1 });
    expect(discardRetour(store, 'NV1', 'client parti')).toEqual({ ok: false, refusal: 'SANS_VERDICT' });
    expect(retour('NV1').statut).toBe('EN_ATTENTE');
    retourFate = () => 'SALE_NOT_FOUND';
    await passUntil(() => retour('NV1').statut === 'REJETEE');
    expect(store.retours.tentatives(retour('NV1').id).map((t) => [t.resultat, t.code])).toEqual([
      ['ECHEC', 'SANS_VERDICT'],
      ['REJETEE', 'SALE_NOT_FOUND'],
    ]);
    expect(discardRetour(store, 'NV1', 'client parti')).toEqual({ ok: true });
    expect(retour('NV1').statut).toBe('ABANDONNEE');
  });

  it("a till the server does not know holds no other till's returns: they go, and a till that only sent returns becomes known with its boutique", async () => {
    sell('42');
    await forwarder.runOnce();
    unknownTills.add('caisse-C');
    // caisse-C came while the server was away: its boutique unknown, its sale "42" waits.
    createSaleIntake(store).take({ serial: 'caisse-C', boutique_id: null }, [{ numero_facture: '42', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], new Date());
    give(['X1', '42']);
    createRetourIntake(store).take({ serial: 'caisse-B', boutique_id: null }, [{ numero_retour: 'X2', numero_facture: '42', lignes: [{ article_id: 6 }] }], new Date());
    await passUntil(() => retour('X1').statut === 'SYNCHRONISEE' && retour('X2').statut === 'SYNCHRONISEE');
    expect(store.terminal('caisse-C')?.statut).toBe('INCONNU');
    expect(store.terminal('caisse-B')).toMatchObject({ statut: 'CONNU', boutique_id: 2, terminal_nom: 'Caisse 1' });
    expect(store.byNumero('42').map((v) => [v.serial, v.statut])).toEqual([[SERIAL, 'SYNCHRONISEE'], ['caisse-C', 'EN_ATTENTE']]);
  });
});

describe('a till the server refuses as unknown for its returns', () => {
  it("its returns wait out the same backoff as an unknown till's sales, even while its own sales keep going through", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const UNKNOWN = 'caisse-inconnue';
    const sends = { retours: 0, unknownSales: 0 };
    // The server takes this till's sales but answers 404 TERMINAL_NOT_FOUND to its returns;
    // another till gets the same 404 on its sales: the behaviour to compare with.
    const upstream = {
      ...fake,
      postSync: async (serial: string, body: string) => {
        if (serial !== UNKNOWN) return fake.postSync(serial, body);
        sends.unknownSales++;
        return tillUnknown();
      },
      postRetours: async () => {
        sends.retours++;
        return tillUnknown();
      },
    } as unknown as Upstream;
    const timed = createForwarder({
      store,
      upstream,
      logger,
      random: () => 1,
      monotonic: () => Date.now(),
      config: { ...CONFIG, intervalMs: 30_000, networkRetry: { baseMs: 1_000, capMs: 5 * 60_000, factor: 2 } },
    });
    try {
      give(['R-1', 'V-ailleurs']);
      createSaleIntake(store).take({ serial: UNKNOWN, boutique_id: null }, [{ numero_facture: 'U-1', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: 10 }] }], new Date());
      timed.start();
      // Five minutes of a till selling every 7 seconds.
      for (let second = 0; second < 300; second++) {
        if (second % 7 === 0) {
          sell(`V-${second}`);
          timed.notify();
        }
        await vi.advanceTimersByTimeAsync(1_000);
      }
      await timed.stop();
      expect(store.byStatut('SYNCHRONISEE').length).toBeGreaterThanOrEqual(40);
      expect(retour('R-1').statut).toBe('EN_ATTENTE');
      const history = store.retours.tentatives(retour('R-1').id);
      expect(history.every((t) => t.resultat === 'ECHEC')).toBe(true);
      // Waits of 1, 2, 4… 256 s: nine sends in five minutes for the unknown till's sales, and
      // the same for the returns, not one after each of the till's 43 sales batches.
      expect(sends.unknownSales).toBe(9);
      expect(sends.retours).toBe(sends.unknownSales);
      expect(history).toHaveLength(sends.retours);
    } finally {
      await timed.stop();
      vi.useRealTimers();
    }
  });
});
