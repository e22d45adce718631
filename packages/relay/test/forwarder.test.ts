import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, type ForwarderConfig } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { startFakeUpstream } from './fake-upstream.js';

const SERIAL = '0a1badae951f8473';
const quietLogger = { info() {}, warn() {}, error() {} };
const CONFIG: ForwarderConfig = {
  batchSize: 5,
  intervalMs: 60_000,
  debounceMs: 1,
  parallelTills: 4,
  networkRetry: { baseMs: 1, capMs: 4, factor: 2 },
  stockRetry: { baseMs: 2, capMs: 4, factor: 2, maxAttempts: 3 },
};

let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
let store: RelayStore;
let agent: ReturnType<typeof createAgent>;

function setup(config: Partial<ForwarderConfig> = {}, headersMs = 5_000) {
  const timeouts = { connectMs: 1_000, headersMs, bodyMs: headersMs };
  agent = createAgent(timeouts);
  const upstream = createUpstream(fake.url, agent, timeouts);
  return createForwarder({ store, upstream, config: { ...CONFIG, ...config }, logger: quietLogger });
}

function hold(count: number, serial = SERIAL, lignes: Array<Record<string, unknown>> = [{ article_id: 6 }]) {
  const items = Array.from({ length: count }, (_, i) => ({ numero_facture: `${serial.slice(0, 4)}-${store.summary().length}-${Date.now()}-${i}`, lignes }));
  return createSaleIntake(store).take({ serial, boutique_id: 2 }, items, new Date()).creees.map((v) => v.numero_facture);
}

/** Runs passes until nothing is due or `rounds` is spent, waiting out the tiny test backoffs. */
async function drain(forwarder: ReturnType<typeof createForwarder>, rounds = 50) {
  for (let i = 0; i < rounds && store.byStatut('EN_ATTENTE').length > 0; i++) {
    await forwarder.runOnce();
    await new Promise((r) => setTimeout(r, 8));
  }
}

beforeEach(async () => {
  // undici checks headers timeouts on a coarse (~0.5 s) clock: the slow answer must overshoot it clearly.
  fake = await startFakeUpstream({ slowMs: 2_500 });
  store = createRelayStore(openDatabase(':memory:'));
});
afterEach(async () => {
  await agent?.close();
  await fake.close();
});

describe('forwarder', () => {
  it('sends held sales oldest first in batches no larger than the batch size, and marks them synced', async () => {
    const numeros = hold(12);
    const forwarder = setup();
    await drain(forwarder);
    expect(fake.batchSizes).toEqual([5, 5, 2]);
    expect([...fake.createdCount.keys()]).toEqual(numeros);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(12);
    expect(store.byStatut('SYNCHRONISEE')[0]!.montant_serveur).toBe('10.00');
  });

  it('forwards each till with its own serial', async () => {
    hold(2, 'caisse-A');
    hold(3, 'caisse-B');
    await drain(setup());
    expect(fake.serials.sort()).toEqual(['caisse-A', 'caisse-B']);
  });

  it('a 503, a 429 and a refused connection make the batch wait and retry; every sale ends created once', async () => {
    hold(7);
    fake.script.push('fail-503', 'fail-429', 'fail-503');
    await drain(setup());
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(0);
    expect([...fake.createdCount.values()].every((n) => n === 1)).toBe(true);
    expect(fake.createdCount.size).toBe(7);
    expect(Math.max(...fake.batchSizes)).toBeLessThanOrEqual(5);
  });

  it('a server that is down leaves every sale waiting, with the reason recorded', async () => {
    hold(3);
    await fake.close();
    const forwarder = setup();
    const report = await forwarder.runOnce();
    expect(report.erreurs[0]).toMatch(/Serveur injoignable/);
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(3);
    expect(store.getEtat('serveur_joignable')).toBe('non');
    expect(store.terminal(SERIAL)?.derniere_erreur).toMatch(/ECONNREFUSED/);
    fake = await startFakeUpstream();
  });

  it('a connection dropped after the server committed: the resend is an identical DUPLICATE, marked synced, created once', async () => {
    hold(4);
    fake.script.push('drop-after-commit');
    await drain(setup());
    expect(fake.batchSizes).toEqual([4, 4]);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(4);
    expect([...fake.createdCount.values()]).toEqual([1, 1, 1, 1]);
  });

  it('an answer slower than the timeout is retried, and the sales are still created once', async () => {
    hold(3);
    fake.script.push('slow-after-commit');
    await drain(setup({}, 200));
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(3);
    expect([...fake.createdCount.values()]).toEqual([1, 1, 1]);
    expect(fake.batchSizes.length).toBeGreaterThanOrEqual(2);
  });

  it('a numero the server holds for another sale is REJETEE with the reason, and not sent again', async () => {
    const [numero] = hold(1);
    fake.preexisting.set(numero!, 'autre contenu');
    await drain(setup());
    const [rejected] = store.byStatut('REJETEE');
    expect(rejected).toMatchObject({ numero_facture: numero, code_erreur: 'DUPLICATE' });
    expect(rejected!.erreur).toMatch(/réutilisé/);
    await setup().runOnce();
    expect(fake.batchSizes).toEqual([1]);
  });

  it('INSUFFICIENT_STOCK is retried with backoff a bounded number of times, then REJETEE', async () => {
    hold(1, SERIAL, [{ article_id: 7 }]);
    hold(1);
    fake.outOfStock.add(7);
    await drain(setup(), 100);
    const [rejected] = store.byStatut('REJETEE');
    expect(rejected).toMatchObject({ code_erreur: 'INSUFFICIENT_STOCK', tentatives_stock: 2 });
    expect(rejected!.erreur).toMatch(/Stock insuffisant.*après 3 essais/);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(1);
  });

  it('a sale retried after the stock was corrected goes through', async () => {
    const [numero] = hold(1, SERIAL, [{ article_id: 7 }]);
    fake.outOfStock.add(7);
    await drain(setup(), 100);
    expect(store.byStatut('REJETEE')).toHaveLength(1);
    fake.outOfStock.clear();
    expect(store.retry([numero!])).toEqual([1]);
    await drain(setup());
    expect(store.byNumero(numero!)[0]!.statut).toBe('SYNCHRONISEE');
  });

  it('sales the answer does not mention stay waiting, and the till backs off instead of resending in a loop', async () => {
    hold(5);
    fake.script.push('forget-last');
    const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } });
    const report = await forwarder.runOnce();
    expect(report.synchronisees).toBe(4);
    expect(report.erreurs[0]).toMatch(/absente/);
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(1);
    await forwarder.runOnce();
    expect(fake.batchSizes).toEqual([5]);
  });

  it('ARTICLE_NOT_FOUND is REJETEE at once with the server message', async () => {
    hold(1, SERIAL, [{ article_id: 404 }]);
    await setup().runOnce();
    expect(store.byStatut('REJETEE')[0]).toMatchObject({ code_erreur: 'ARTICLE_NOT_FOUND', erreur: "l'article 404 n'existe pas" });
  });

  it("404 TERMINAL_NOT_FOUND holds that till's sales and records why", async () => {
    hold(2);
    fake.script.push('terminal-not-found');
    await setup().runOnce();
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(2);
    expect(store.terminal(SERIAL)).toMatchObject({ statut: 'INCONNU', derniere_erreur: expect.stringMatching(/ne connaît pas ce terminal/) });
  });

  it('once started, it keeps trying by itself: sales refused by a failing server go out without anyone asking', async () => {
    hold(3);
    fake.script.push('fail-503', 'fail-503');
    const forwarder = setup({ intervalMs: 30 });
    forwarder.start();
    const deadline = Date.now() + 5_000;
    while (store.byStatut('SYNCHRONISEE').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await forwarder.stop();
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(3);
    expect(fake.batchSizes).toEqual([3, 3, 3]);
  });

  it('notify() forwards new sales shortly after they arrive, as one batch for a burst', async () => {
    const forwarder = setup({ debounceMs: 30 });
    hold(2);
    forwarder.notify();
    hold(2);
    forwarder.notify();
    const deadline = Date.now() + 3_000;
    while (store.byStatut('SYNCHRONISEE').length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fake.batchSizes).toEqual([4]);
    await forwarder.stop();
  });

  it('stop() abandons the batch in flight safely: its sales stay waiting', async () => {
    hold(3);
    fake.script.push('slow-after-commit');
    const forwarder = setup();
    forwarder.start();
    await new Promise((r) => setTimeout(r, 50));
    await forwarder.stop();
    expect(store.byStatut('EN_ATTENTE')).toHaveLength(3);
    // The server had it: the next run settles it as an identical duplicate.
    await drain(setup());
    expect([...fake.createdCount.values()]).toEqual([1, 1, 1]);
  });
});
