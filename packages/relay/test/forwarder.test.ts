import { DAEMON_BUSY_TIMEOUT_MS, setBusyTimeout } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../src/db/open-database.js';
import type { UpstreamAnswer } from '../src/classify.js';
import { BLAMEABLE_SALE_BYTES, createForwarder, type ForwarderConfig, POISON_MAX_ALONE_FAILURES } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { serverReachable } from '../src/server-reach.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { createAgent, createUpstream, type Upstream } from '../src/upstream.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type RealServer, SERIAL, startRealServer, TILLS } from './real-server.js';

const CONFIG: ForwarderConfig = {
  batchSize: 5,
  intervalMs: 60_000,
  debounceMs: 1,
  debounceMaxMs: 1_000,
  parallelTills: 4,
  networkRetry: { baseMs: 1, capMs: 4, factor: 2 },
  stockRetry: { baseMs: 2, capMs: 4, factor: 2, maxAttempts: 3 },
  bisectPaceMs: 1,
};

let server: RealServer;
let proxy: FaultProxy;
let store: RelayStore;
let db: ReturnType<typeof openDatabase>;
let agents: Array<ReturnType<typeof createAgent>> = [];
let forwarders: Array<ReturnType<typeof createForwarder>> = [];
let logs: string[];
let counter = 0;

const logger = {
  info: (_o: object, m: string) => void logs.push(m),
  warn: (_o: object, m: string) => void logs.push(m),
  error: (_o: object, m: string) => void logs.push(m),
};

function setup(
  config: Partial<ForwarderConfig> = {},
  options: {
    headersMs?: number;
    deadlineMs?: number;
    maxAnswerBytes?: number;
    url?: string;
    now?: () => Date;
    monotonic?: () => number;
    random?: () => number;
  } = {},
) {
  const headersMs = options.headersMs ?? 5_000;
  const timeouts = { connectMs: 1_000, headersMs, bodyMs: headersMs, deadlineMs: options.deadlineMs ?? headersMs };
  const agent = createAgent(timeouts);
  agents.push(agent);
  const upstream = createUpstream(options.url ?? proxy.url, agent, { timeouts, ...(options.maxAnswerBytes ? { maxAnswerBytes: options.maxAnswerBytes } : {}) });
  const { url: _url, headersMs: _h, deadlineMs: _d, maxAnswerBytes: _m, ...clocks } = options;
  const forwarder = createForwarder({ store, upstream, config: { ...CONFIG, ...config }, logger, ...clocks });
  forwarders.push(forwarder);
  return forwarder;
}

function hold(count: number, serial = SERIAL, lignes: Array<Record<string, unknown>> = [{ article_id: 6 }]) {
  const items = Array.from({ length: count }, () => ({ numero_facture: `V-${++counter}`, lignes }));
  return createSaleIntake(store).take({ serial, boutique_id: 2 }, items, new Date()).creees.map((v) => v.numero_facture);
}

const waiting = () => store.countStatut('EN_ATTENTE');
const statutOf = (numero: string) => store.byNumero(numero)[0]!.statut;

/** A sale weighing a fair part of the server's 5 MiB limit (written as the intake would, bypassing its checks). */
function holdBig(serial = SERIAL): string {
  const numero = `V-GROS-${++counter}`;
  const contenu = JSON.stringify({ numero_facture: numero, lignes: [{ article_id: 6 }], note: 'x'.repeat(BLAMEABLE_SALE_BYTES) });
  store.insertVente({ serial, boutique_id: 2, numero_facture: numero, numero_genere: false, contenu, empreinte: 'gros', montant_total: 4_000_000, recue_le: new Date().toISOString() });
  return numero;
}

/** Runs passes until nothing is waiting or `rounds` is spent, waiting out the tiny test backoffs. */
async function drain(forwarder: ReturnType<typeof createForwarder>, rounds = 50) {
  for (let i = 0; i < rounds && waiting() > 0; i++) {
    await forwarder.runOnce();
    await sleep(8);
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** Every numero the server holds, each exactly once. */
function expectOnServerOnce(numeros: string[]) {
  const stored = server.numeros();
  expect(stored.filter((n) => numeros.includes(n)).sort()).toEqual([...numeros].sort());
}

beforeEach(async () => {
  server = await startRealServer();
  proxy = await startFaultProxy(server.url);
  db = openDatabase(':memory:');
  store = createRelayStore(db);
  logs = [];
});
afterEach(async () => {
  for (const f of forwarders.splice(0)) await f.stop();
  for (const a of agents.splice(0)) await a.close();
  await proxy.close();
  await server.close();
});

describe('forwarder, against the real server', () => {
  it('sends held sales oldest first in batches no larger than the batch size, and marks them synced with the server amount', async () => {
    const numeros = hold(12);
    await drain(setup());
    expect(proxy.requests.map((r) => r.numeros.length)).toEqual([5, 5, 2]);
    expect(server.numeros()).toEqual(numeros);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(12);
    expect(store.byStatut('SYNCHRONISEE')[0]!.montant_serveur).toBe('40000.00');
    expect(store.byStatut('SYNCHRONISEE').every((v) => v.en_vol === null)).toBe(true);
  });

  it('forwards each till with its own serial', async () => {
    hold(2, 'caisse-A');
    hold(3, 'caisse-B');
    await drain(setup());
    expect(server.serials()).toEqual(['caisse-A', 'caisse-B']);
  });

  it('a refused connection, a 503 and a 429 make the batch wait and retry; every sale ends created once', async () => {
    const numeros = hold(7);
    const forwarder = setup();
    await proxy.refuse();
    const refused = await forwarder.runOnce();
    expect(refused.erreurs.join()).toMatch(/ECONNREFUSED/);
    await proxy.accept();
    proxy.script.push(
      { kind: 'answer', status: 503, body: { error: 'Service indisponible', code: 'SERVICE_UNAVAILABLE' } },
      { kind: 'answer', status: 429, body: { error: 'Trop de requêtes', code: 'RATE_LIMITED' }, headers: { 'retry-after': '0' } },
    );
    await drain(forwarder);
    expect(waiting()).toBe(0);
    expect(proxy.requests.map((r) => r.numeros.length)).toEqual([5, 5, 5, 2]);
    expect(server.numeros()).toEqual(numeros);
  });

  it('a server that is down leaves every sale waiting, with the reason recorded', async () => {
    hold(3);
    await proxy.refuse();
    const report = await setup().runOnce();
    expect(report.erreurs[0]).toMatch(/Serveur injoignable/);
    expect(waiting()).toBe(3);
    expect(store.getEtat('serveur_joignable')).toBe('non');
    expect(store.terminal(SERIAL)?.derniere_erreur).toMatch(/ECONNREFUSED/);
    expect(store.byStatut('EN_ATTENTE').every((v) => v.en_vol === null)).toBe(true);
  });

  it('a connection dropped after the server committed: the resend is an identical DUPLICATE, marked synced, created once', async () => {
    const numeros = hold(4);
    proxy.script.push({ kind: 'drop-after-commit' });
    await drain(setup());
    expect(proxy.requests.map((r) => r.numeros.length)).toEqual([4, 4]);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(4);
    expect(server.numeros()).toEqual(numeros);
  });

  it('an answer slower than the timeout is retried, and the sales are still created once', async () => {
    const numeros = hold(3);
    proxy.script.push({ kind: 'hold-after-commit' });
    // undici checks headers timeouts on a coarse (~0.5 s) clock.
    await drain(setup({}, { headersMs: 200 }));
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(3);
    expect(server.numeros()).toEqual(numeros);
    expect(proxy.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('a numero the server holds for another sale is REJETEE with the reason, and not sent again', async () => {
    const [numero] = hold(1);
    await createUpstream(server.url, createAgent()).postSync(SERIAL, JSON.stringify([{ numero_facture: numero, lignes: [{ article_id: 7 }] }]));
    await drain(setup());
    const [rejected] = store.byStatut('REJETEE');
    expect(rejected).toMatchObject({ numero_facture: numero, code_erreur: 'DUPLICATE' });
    expect(rejected!.erreur).toMatch(/réutilisé/);
    await setup().runOnce();
    expect(proxy.requests).toHaveLength(1);
  });

  it('INSUFFICIENT_STOCK is retried with backoff a bounded number of times, then REJETEE', async () => {
    server.setStock(7, 0);
    hold(1, SERIAL, [{ article_id: 7 }]);
    hold(1);
    await drain(setup(), 100);
    const [rejected] = store.byStatut('REJETEE');
    expect(rejected).toMatchObject({ code_erreur: 'INSUFFICIENT_STOCK', tentatives_stock: 2 });
    expect(rejected!.erreur).toMatch(/Stock insuffisant.*après 3 essais/);
    expect(store.byStatut('SYNCHRONISEE')).toHaveLength(1);
  });

  it('a sale retried after the stock was corrected goes through', async () => {
    server.setStock(7, 0);
    const [numero] = hold(1, SERIAL, [{ article_id: 7 }]);
    await drain(setup(), 100);
    expect(store.byStatut('REJETEE')).toHaveLength(1);
    server.setStock(7, 10);
    expect(store.retry([numero!])).toEqual([1]);
    await drain(setup());
    expect(statutOf(numero!)).toBe('SYNCHRONISEE');
    expect(server.numeros()).toEqual([numero]);
  });

  it('sales the answer does not mention stay waiting, and the till backs off instead of resending in a loop', async () => {
    hold(5);
    proxy.script.push({ kind: 'rewrite', edit: (status, body) => ({ status, body: { ...body, ventes_creees: body.ventes_creees.slice(0, -1) } }) });
    const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } }, { random: () => 1 });
    const report = await forwarder.runOnce();
    expect(report.synchronisees).toBe(4);
    expect(report.erreurs[0]).toMatch(/absente/);
    expect(waiting()).toBe(1);
    await forwarder.runOnce();
    expect(proxy.requests).toHaveLength(1);
  });

  it('ARTICLE_NOT_FOUND is REJETEE at once with the server message', async () => {
    hold(1, SERIAL, [{ article_id: 404 }]);
    await setup().runOnce();
    expect(store.byStatut('REJETEE')[0]).toMatchObject({ code_erreur: 'ARTICLE_NOT_FOUND', erreur: expect.stringMatching(/404/) });
  });

  it("404 TERMINAL_NOT_FOUND holds that till's sales and records why", async () => {
    hold(2, 'inconnue-du-serveur');
    await setup().runOnce();
    expect(waiting()).toBe(2);
    expect(store.terminal('inconnue-du-serveur')).toMatchObject({ statut: 'INCONNU', derniere_erreur: expect.stringMatching(/ne connaît pas ce terminal/) });
  });

  it('once started, it keeps trying by itself: sales refused by a failing server go out without anyone asking', async () => {
    const numeros = hold(3);
    const unavailable = { kind: 'answer', status: 503, body: { error: 'Service indisponible', code: 'SERVICE_UNAVAILABLE' } } as const;
    proxy.script.push(unavailable, unavailable);
    const forwarder = setup({ intervalMs: 30 });
    forwarder.start();
    await until(() => store.countStatut('SYNCHRONISEE') === 3, 'three sales synced');
    expect(proxy.requests.map((r) => r.numeros.length)).toEqual([3, 3, 3]);
    expect(server.numeros()).toEqual(numeros);
  });

  it('notify() forwards new sales shortly after they arrive, as one batch for a burst', async () => {
    const forwarder = setup({ debounceMs: 30 });
    hold(2);
    forwarder.notify();
    hold(2);
    forwarder.notify();
    await until(() => store.countStatut('SYNCHRONISEE') === 4, 'four sales synced');
    expect(proxy.requests.map((r) => r.numeros.length)).toEqual([4]);
  });

  it('a till posting every 100 ms sees its sales leave within about a second, not at the next interval tick', async () => {
    // The debounce alone (200 ms) would restart on every post and never fire while the till posts.
    const forwarder = setup({ debounceMs: 200, debounceMaxMs: 1_000, intervalMs: 600_000 });
    let posting = true;
    const till = (async () => {
      while (posting) {
        hold(1);
        forwarder.notify();
        await sleep(100);
      }
    })();
    await until(() => store.countStatut('SYNCHRONISEE') > 0, 'a sale synced while the till keeps posting', 5_000);
    posting = false;
    await till;
    expect(server.numeros().length).toBeGreaterThan(0);
  });

  it('stop() abandons the batch in flight safely: its sales stay waiting, and the server has them once', async () => {
    const numeros = hold(3);
    proxy.script.push({ kind: 'hold-after-commit' });
    const forwarder = setup();
    forwarder.start();
    await proxy.until(() => proxy.heldCount() === 1);
    expect(store.byStatut('EN_ATTENTE').every((v) => v.en_vol !== null)).toBe(true);
    await forwarder.stop();
    expect(waiting()).toBe(3);
    expect(store.byStatut('EN_ATTENTE').every((v) => v.en_vol === null)).toBe(true);
    // The server had it: the next run settles it as an identical duplicate.
    await drain(setup());
    expect(store.countStatut('SYNCHRONISEE')).toBe(3);
    expect(server.numeros()).toEqual(numeros);
  });

  it('a batch is claimed before it is sent: a second forwarder on the same file does not send it again', async () => {
    hold(3);
    proxy.script.push({ kind: 'hold-after-commit' });
    const first = setup();
    const firstRun = first.runOnce();
    await proxy.until(() => proxy.heldCount() === 1);
    const second = createForwarder({ store: createRelayStore(db), upstream: createUpstream(proxy.url, agents[0]!), config: CONFIG, logger });
    const report = await second.runOnce();
    expect(report.envoyees).toBe(0);
    expect(proxy.requests).toHaveLength(1);
    proxy.releaseHeld();
    await firstRun;
    expect(store.countStatut('SYNCHRONISEE')).toBe(3);
  });
});

describe('a slow server holds no till for ever, and no other till at all', () => {
  it("a till whose answer dribbles a byte every 100 ms does not hold back another till's sales; it gives up at the deadline", async () => {
    proxy.rules.push((req) => (req.serial === TILLS[0] ? { kind: 'dribble', everyMs: 100 } : null));
    const slow = hold(1, TILLS[0]);
    const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } }, { headersMs: 20_000, deadlineMs: 6_000 });
    const first = forwarder.runOnce();
    await proxy.until(() => proxy.requests.some((r) => r.serial === TILLS[0]));
    const other = hold(2, TILLS[1]);
    void forwarder.runOnce();
    // Well before the slow send's deadline: the other till did not wait for it at all.
    await until(() => other.every((n) => statutOf(n) === 'SYNCHRONISEE'), "the other till's sales synced while the slow answer dribbles", 2_500);
    expect(statutOf(slow[0]!)).toBe('EN_ATTENTE');
    // The slow send ends by its deadline, not by the dribble's gaps (each well under bodyMs).
    const report = await first;
    expect(report.erreurs.join()).toMatch(/DELAI_DEPASSE/);
    expect(statutOf(slow[0]!)).toBe('EN_ATTENTE');
  });
});

/** What the fakes below never use (the relays' own endpoints): typed, never called. */
const UNUSED_UPSTREAM = {} as Upstream;

describe('wake-ups: only when something can be sent', () => {
  it('a stock retry falling due while its till waits out a network backoff wakes the relay once, at the backoff\'s end, not every 50 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const answers: UpstreamAnswer[] = [];
      const fake: Upstream = {
        ...UNUSED_UPSTREAM,
        baseUrl: 'http://fake',
        postSync: async (_serial, body) => {
          const sent = JSON.parse(body) as Array<{ numero_facture: string }>;
          return (
            answers.shift() ?? {
              kind: 'network-error',
              reason: 'Serveur injoignable (ECONNREFUSED)',
              maybeReceived: false,
            }
          ) as UpstreamAnswer & { sent?: unknown[] } & { _?: typeof sent };
        },
        get: async () => ({ kind: 'network-error', reason: 'x' }),
      };
      const [stockSale] = hold(1, SERIAL, [{ article_id: 7 }]);
      answers.push({
        kind: 'response',
        status: 200,
        retryAfterMs: null,
        body: {
          success: false,
          message: '0 vente(s) synchronisée(s) avec succès',
          boutique_id: 2,
          boutique_nom: 'Ma Boutique',
          terminal: 'Terminal messie vanza',
          statistiques: { total_envoyees: 1, reussies: 0, erreurs: 1 },
          ventes_creees: [],
          ventes_erreurs: [{ index: 1, numero_facture: stockSale, erreur: 'Stock insuffisant', code: 'INSUFFICIENT_STOCK' }],
        },
      });
      let passes = 0;
      const serialsDue = store.serialsDue;
      store.serialsDue = (...args) => {
        passes++;
        return serialsDue(...args);
      };
      const forwarder = createForwarder({
        store,
        upstream: fake,
        logger,
        random: () => 1,
        monotonic: () => Date.now(),
        config: {
          ...CONFIG,
          intervalMs: 3_600_000,
          networkRetry: { baseMs: 10 * 60_000, capMs: 10 * 60_000, factor: 2 },
          stockRetry: { baseMs: 60_000, capMs: 60_000, factor: 2, maxAttempts: 5 },
        },
      });
      forwarders.push(forwarder);
      await forwarder.runOnce();
      expect(store.byNumero(stockSale!)[0]!.code_erreur).toBe('INSUFFICIENT_STOCK');
      // Another sale of the till meets a server away: the till waits 10 minutes.
      hold(1);
      await forwarder.runOnce();
      passes = 0;
      // The stock retry falls due after 1 minute; the till may send only after 10.
      await vi.advanceTimersByTimeAsync(9 * 60_000);
      expect(passes).toBeLessThanOrEqual(2);
      await vi.advanceTimersByTimeAsync(2 * 60_000);
      expect(passes).toBeGreaterThanOrEqual(1);
      expect(passes).toBeLessThanOrEqual(3);
    } finally {
      vi.useRealTimers();
    }
  });
  it("a till whose short wait runs out while another till's slow send holds the pass is sent as soon as the pass ends, not at the next interval", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const sentBy = new Map<string, number>();
      const fake: Upstream = {
        ...UNUSED_UPSTREAM,
        baseUrl: 'http://fake',
        postSync: async (serial, body) => {
          const calls = (sentBy.get(serial) ?? 0) + 1;
          sentBy.set(serial, calls);
          // A wait of its own (not cleared when the server answers another till).
          if (serial === TILLS[0] && calls === 1) {
            return { kind: 'response', status: 404, retryAfterMs: null, body: { error: 'Terminal inconnu', code: 'TERMINAL_NOT_FOUND' } } as UpstreamAnswer;
          }
          // The other till's server answer takes a whole second.
          if (serial === TILLS[1]) await new Promise((resolve) => setTimeout(resolve, 1_000));
          const sales = JSON.parse(body) as Array<{ numero_facture: string }>;
          return {
            kind: 'response',
            status: 200,
            retryAfterMs: null,
            body: {
              success: true,
              message: `${sales.length} vente(s) synchronisée(s) avec succès`,
              boutique_id: 2,
              boutique_nom: 'Ma Boutique',
              terminal: serial,
              statistiques: { total_envoyees: sales.length, reussies: sales.length, erreurs: 0 },
              ventes_creees: sales.map((v) => ({ numero_facture: v.numero_facture, montant_total: '40000.00', lignes: [] })),
              ventes_erreurs: [],
            },
          } as UpstreamAnswer;
        },
        get: async () => ({ kind: 'network-error', reason: 'x' }),
      };
      const [quick] = hold(1, TILLS[0]);
      const [slow] = hold(1, TILLS[1]);
      const forwarder = createForwarder({
        store,
        upstream: fake,
        logger,
        random: () => 1,
        monotonic: () => Date.now(),
        config: { ...CONFIG, intervalMs: 3_600_000, networkRetry: { baseMs: 100, capMs: 100, factor: 2 } },
      });
      forwarders.push(forwarder);
      const pass = forwarder.runOnce();
      await vi.advanceTimersByTimeAsync(1_000);
      await pass;
      expect(statutOf(slow!)).toBe('SYNCHRONISEE');
      expect(statutOf(quick!)).toBe('EN_ATTENTE');
      // Its 100 ms wait ended long ago: the wake-up comes at once, not in an hour.
      await vi.advanceTimersByTimeAsync(1_000);
      expect(sentBy.get(TILLS[0])).toBe(2);
      expect(statutOf(quick!)).toBe('SYNCHRONISEE');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a person\'s decisions, against what the server may have', () => {
  it('a sale whose send got no clear answer (connection reset after the server committed) cannot be discarded until the server has answered for it', async () => {
    const [numero] = hold(1);
    proxy.script.push({ kind: 'drop-after-commit' });
    const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } });
    await forwarder.runOnce();
    expect(statutOf(numero!)).toBe('EN_ATTENTE');
    expect(store.verdictUnknown(numero!)).toBe(true);
    expect(store.discard(numero!, 'annulée', new Date())).toBe(0);
    expect(statutOf(numero!)).toBe('EN_ATTENTE');
    // The next send learns the server has it: synced, never abandoned.
    await forwarder.syncNow();
    expect(statutOf(numero!)).toBe('SYNCHRONISEE');
    expect(server.numeros()).toEqual([numero]);
  });

  it('a sale never received by the server (connection refused) can still be discarded', async () => {
    const [numero] = hold(1);
    await proxy.refuse();
    await setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } }).runOnce();
    expect(store.verdictUnknown(numero!)).toBe(false);
    expect(store.discard(numero!, 'annulée', new Date())).toBe(1);
    expect(statutOf(numero!)).toBe('ABANDONNEE');
  });

  it('a send cut short by the relay stopping (claim released at the next start) leaves the verdict unknown', () => {
    const [numero] = hold(1);
    store.claimBatch(SERIAL, new Date(), new Date(Date.now() + 3_600_000), 10);
    store.releaseAllClaims();
    expect(store.verdictUnknown(numero!)).toBe(true);
    expect(store.discard(numero!, 'annulée', new Date())).toBe(0);
  });

  it('retry of a sale in flight is refused: its answer is judged against the counters retry would reset', async () => {
    server.setStock(7, 0);
    const [numero] = hold(1, SERIAL, [{ article_id: 7 }]);
    // The first stock retry comes after 40 ms, the next only after 40 s: once the held answer
    // is in, nothing is sent again before the test's own retry.
    const forwarder = setup({ stockRetry: { baseMs: 40, capMs: 60_000, factor: 1000, maxAttempts: 5 } }, { random: () => 1 });
    await forwarder.runOnce();
    expect(store.byNumero(numero!)[0]).toMatchObject({ tentatives_stock: 1, statut: 'EN_ATTENTE' });
    // Due again, the relay wakes up by itself and sends it: claimed with its stock retry time
    // still set, as `retry --all` finds it.
    proxy.script.push({ kind: 'hold-after-commit' });
    await proxy.until(() => proxy.heldCount() === 1);
    expect(store.byNumero(numero!)[0]!.prochaine_tentative).not.toBeNull();
    expect(store.retryAllRejected()).toBe(0);
    expect(store.retry([numero!])).toEqual([0]);
    expect(store.byNumero(numero!)[0]!.tentatives_stock).toBe(1);
    proxy.releaseHeld();
    await until(() => store.byNumero(numero!)[0]!.tentatives_stock === 2, 'the held answer recorded');
    expect(store.byNumero(numero!)[0]).toMatchObject({ tentatives_stock: 2, statut: 'EN_ATTENTE' });
    // Once the answer is in, retry works again.
    expect(store.retry([numero!])).toEqual([1]);
  });
});

describe('one bad sale does not hold the others back', () => {
  it('a sale that makes the server answer 500 is isolated and REJETEE with the answer; every other sale reaches the server', async () => {
    const numeros = hold(23);
    const poison = numeros[6]!;
    proxy.rules.push((req) =>
      req.numeros.includes(poison) ? { kind: 'answer', status: 500, body: { error: 'Erreur interne du serveur', code: 'INTERNAL_ERROR' } } : null,
    );
    const forwarder = setup({ batchSize: 10, intervalMs: 50, networkRetry: { baseMs: 20, capMs: 200, factor: 2 } });
    forwarder.start();
    await until(() => statutOf(poison) === 'REJETEE' && waiting() === 0, 'poisoned sale rejected, the rest sent', 60_000);
    const others = numeros.filter((n) => n !== poison);
    expect(server.numeros().sort()).toEqual(others.sort());
    expect(store.countStatut('SYNCHRONISEE')).toBe(22);
    const [rejected] = store.byStatut('REJETEE');
    expect(rejected).toMatchObject({ numero_facture: poison, code_erreur: 'INTERNAL_ERROR' });
    // Blamed only once other sales went through after its first failure alone.
    const sends = Number(/\((\d+) envois seule\)/.exec(rejected!.erreur!)?.[1]);
    expect(sends).toBeGreaterThanOrEqual(POISON_MAX_ALONE_FAILURES);
    expect(rejected!.erreur).toMatch(/envois seule.*500.*Erreur interne du serveur/);
  });

  it('an answer that does not read is a failure of the batch, and isolates its cause the same way', async () => {
    const numeros = hold(4);
    const poison = numeros[2]!;
    proxy.rules.push((req) => (req.numeros.includes(poison) ? { kind: 'answer', status: 201, body: '<html>proxy</html>' } : null));
    const forwarder = setup({ networkRetry: { baseMs: 1, capMs: 4, factor: 2 } });
    await drain(forwarder, 200);
    expect(store.byNumero(poison)[0]).toMatchObject({ statut: 'REJETEE', code_erreur: 'REPONSE_ILLISIBLE' });
    expect(server.numeros().sort()).toEqual(numeros.filter((n) => n !== poison).sort());
  });

  it('a server that fails every batch, an empty one included, gets no sale rejected: it is waited for, like a server away', async () => {
    hold(6);
    proxy.rules.push(() => ({ kind: 'answer', status: 500, body: { error: 'Base indisponible', code: 'INTERNAL_ERROR' } }));
    const forwarder = setup({ networkRetry: { baseMs: 1, capMs: 2, factor: 2 } });
    for (let i = 0; i < 40; i++) {
      await forwarder.runOnce();
      await sleep(3);
    }
    expect(proxy.requests.length).toBeGreaterThan(20);
    expect(store.countStatut('REJETEE')).toBe(0);
    expect(waiting()).toBe(6);
  });

  const brokenAnswers: Array<[string, (numeros: string[]) => import('./fault-proxy.js').Fault]> = [
    ['500', () => ({ kind: 'answer', status: 500, body: { error: 'Base indisponible', code: 'INTERNAL_ERROR' } })],
    ['a 200 that is not JSON', () => ({ kind: 'answer', status: 200, body: '<html>garbage</html>' })],
    ['a 200 of the wrong shape', () => ({ kind: 'answer', status: 200, body: { ok: true, ventes: [] } })],
    ['an answer too large to read', () => ({ kind: 'answer', status: 200, body: 'x'.repeat(100_000) })],
    ['413 even for a small sale', () => ({ kind: 'answer', status: 413, body: { error: 'Requête trop volumineuse', code: 'PAYLOAD_TOO_LARGE' } })],
  ];
  it.each(brokenAnswers)(
    'a server that fails every sale with %s but answers an empty batch: nobody is REJETEE, the log and status say the server is broken, and every sale goes once it heals',
    async (_what, fault) => {
      const numeros = hold(12);
      proxy.rules.push((req) => (req.numeros.length > 0 ? fault(req.numeros) : null));
      const forwarder = setup({ networkRetry: { baseMs: 1, capMs: 5, factor: 2 } }, { maxAnswerBytes: 64 * 1024 });
      for (let i = 0; i < 60; i++) {
        await forwarder.runOnce();
        await sleep(3);
      }
      expect(store.countStatut('REJETEE')).toBe(0);
      expect(waiting()).toBe(12);
      expect(logs.some((l) => /échoue sur toutes les ventes.*aucune vente n'est mise en cause/.test(l))).toBe(true);
      expect(JSON.parse(store.getEtat('serveur_en_panne')!)).toMatchObject({ depuis: expect.any(String), raison: expect.any(String) });
      // It answers, but it is not reachable for sales: the page's light, /ready and the gauge say so.
      expect(serverReachable(store)).toBe(false);

      proxy.rules.length = 0;
      await drain(forwarder, 200);
      expect(store.countStatut('SYNCHRONISEE')).toBe(12);
      expectOnServerOnce(numeros);
      expect(store.getEtat('serveur_en_panne')).toBeNull();
      expect(serverReachable(store)).toBe(true);
      expect(logs.some((l) => /accepte de nouveau les ventes/.test(l))).toBe(true);
    },
  );

  it('413 for every request, an empty batch included: no sale is REJETEE as too large', async () => {
    hold(20);
    proxy.rules.push(() => ({ kind: 'answer', status: 413, body: { error: 'Requête trop volumineuse', code: 'PAYLOAD_TOO_LARGE' } }));
    const forwarder = setup({ batchSize: 8, networkRetry: { baseMs: 1, capMs: 5, factor: 2 } });
    for (let i = 0; i < 60; i++) {
      await forwarder.runOnce();
      await sleep(3);
    }
    expect(store.countStatut('REJETEE')).toBe(0);
    expect(waiting()).toBe(20);
    expect(store.getEtat('serveur_en_panne')).not.toBeNull();
  });

  it('413 for every sale, a big one first in line: the big sale is not blamed either, since the small ones fail the same way', async () => {
    const big = holdBig();
    hold(5);
    proxy.rules.push((req) => (req.numeros.length > 0 ? { kind: 'answer', status: 413, body: { error: 'Requête trop volumineuse', code: 'PAYLOAD_TOO_LARGE' } } : null));
    const forwarder = setup({ networkRetry: { baseMs: 1, capMs: 5, factor: 2 } });
    for (let i = 0; i < 60; i++) {
      await forwarder.runOnce();
      await sleep(3);
    }
    expect(store.byNumero(big)[0]!.statut).toBe('EN_ATTENTE');
    expect(store.countStatut('REJETEE')).toBe(0);
    expect(store.getEtat('serveur_en_panne')).not.toBeNull();
  });

  it('a server found broken before a restart is still waited for after it, until a batch goes through', async () => {
    hold(3);
    store.setEtat('serveur_en_panne', JSON.stringify({ depuis: new Date().toISOString(), raison: 'Réponse 500 du serveur' }));
    proxy.rules.push((req) => (req.numeros.length > 0 ? { kind: 'answer', status: 500, body: { error: 'Erreur interne', code: 'INTERNAL_ERROR' } } : null));
    const forwarder = setup({ networkRetry: { baseMs: 1, capMs: 5, factor: 2 } });
    for (let i = 0; i < 30; i++) {
      await forwarder.runOnce();
      await sleep(3);
    }
    // No splitting, no sale set aside: every request is the whole batch.
    expect(proxy.requests.every((r) => r.numeros.length === 3)).toBe(true);
    proxy.rules.length = 0;
    await drain(forwarder, 100);
    expect(store.countStatut('SYNCHRONISEE')).toBe(3);
    expect(store.getEtat('serveur_en_panne')).toBeNull();
  });

  it('a big sale the server refuses as too large while an empty batch passes is REJETEE; the small ones around it go', async () => {
    const before = hold(2);
    const big = holdBig();
    const after = hold(2);
    proxy.rules.push((req) => (req.numeros.includes(big) ? { kind: 'answer', status: 413, body: { error: 'Requête trop volumineuse', code: 'PAYLOAD_TOO_LARGE' } } : null));
    await drain(setup(), 100);
    expect(store.byNumero(big)[0]).toMatchObject({ statut: 'REJETEE', code_erreur: 'PAYLOAD_TOO_LARGE' });
    expectOnServerOnce([...before, ...after]);
  });

  it('splitting a 100-sale batch to find a poisoned sale is paced: a refused batch is never followed by the next at once', async () => {
    const numeros = hold(100);
    const poison = numeros[73]!;
    proxy.rules.push((req) =>
      req.numeros.includes(poison) ? { kind: 'answer', status: 500, body: { error: 'Erreur interne du serveur', code: 'INTERNAL_ERROR' } } : null,
    );
    const paceMs = 40;
    const forwarder = setup({ batchSize: 100, bisectPaceMs: paceMs, intervalMs: 60_000, networkRetry: { baseMs: 20, capMs: 100, factor: 2 } });
    forwarder.start();
    await until(() => statutOf(poison) === 'REJETEE' && waiting() === 0, 'poisoned sale rejected, the rest sent', 25_000);
    const sends = proxy.requests.filter((r) => r.numeros.length > 0);
    const gaps = sends.slice(1).flatMap((r, i) => (sends[i]!.numeros.includes(poison) ? [r.at - sends[i]!.at] : []));
    expect(gaps.length).toBeGreaterThanOrEqual(7);
    // Timers never fire early; a millisecond for the clocks' rounding.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(paceMs - 2);
    expect(proxy.requests.length).toBeLessThan(40);
    expectOnServerOnce(numeros.filter((n) => n !== poison));
  });

  it('413: the batch size halves, comes back after successes, and a single sale too large is REJETEE', async () => {
    hold(25);
    const huge = holdBig();
    hold(4);
    const tooLarge = { kind: 'answer', status: 413, body: { error: 'Requête trop volumineuse', code: 'PAYLOAD_TOO_LARGE' } } as const;
    proxy.rules.push((req) => (req.numeros.length > 2 && req.numeros.length >= 8 && proxy.requests.length < 3 ? tooLarge : null));
    proxy.rules.push((req) => (req.numeros.includes(huge) ? tooLarge : null));
    await drain(setup({ batchSize: 8 }), 100);
    const sizes = proxy.requests.map((r) => r.numeros.length);
    expect(sizes.slice(0, 3)).toEqual([8, 4, 4]);
    expect(sizes).toContain(8);
    expect(sizes.lastIndexOf(8)).toBeGreaterThan(2);
    expect(store.byNumero(huge)[0]).toMatchObject({ statut: 'REJETEE', code_erreur: 'PAYLOAD_TOO_LARGE' });
    expect(store.byNumero(huge)[0]!.erreur).toMatch(/trop volumineuse/);
    expect(server.numeros()).toHaveLength(29);
  });
});

describe('what a sync reports', () => {
  it('counts sales, not sends: a sale sent again in the same sync (its first answer lost) counts once', async () => {
    const [a] = hold(1, TILLS[0]);
    const [b] = hold(1, TILLS[1]);
    let firstOfA = true;
    proxy.rules.push((req) => {
      if (req.serial === TILLS[0] && firstOfA) {
        firstOfA = false;
        return { kind: 'drop-after-commit' };
      }
      return req.serial === TILLS[1] && req.numeros.length > 0 ? { kind: 'hold-after-commit' } : null;
    });
    const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } });
    const sync = forwarder.syncNow();
    // Till B's answer comes after till A's was lost: the server is back, A goes again in this sync.
    await until(() => !firstOfA && proxy.requests.some((r) => r.serial === TILLS[1]) && logs.some((l) => /Envoi impossible/.test(l)), 'A failed, B waiting');
    proxy.releaseHeld();
    const report = await sync;
    expect(proxy.requests.filter((r) => r.numeros.includes(a!))).toHaveLength(2);
    expect(report).toMatchObject({ envoyees: 2, synchronisees: 2 });
    expectOnServerOnce([a!, b!]);
  });
});

describe('trust nothing the server did not clearly say', () => {
  it('ventes_creees: [null] marks nothing and counts as a failure; the sale goes through later', async () => {
    const [numero] = hold(1);
    proxy.script.push({ kind: 'rewrite', edit: (status, body) => ({ status, body: { ...body, ventes_creees: [null] } }) });
    const forwarder = setup();
    const report = await forwarder.runOnce();
    expect(report.synchronisees).toBe(0);
    expect(report.erreurs.join()).toMatch(/illisible/);
    expect(statutOf(numero!)).toBe('EN_ATTENTE');
    await drain(forwarder);
    expect(statutOf(numero!)).toBe('SYNCHRONISEE');
  });

  it('a DUPLICATE without a numero, even identique, does not mark a sale synced by its index', async () => {
    const [numero] = hold(1);
    proxy.rules.push(() => ({
      kind: 'answer',
      status: 200,
      body: {
        success: false,
        message: '0 vente(s) synchronisée(s) avec succès',
        boutique_id: 2,
        boutique_nom: 'Ma Boutique',
        terminal: 'Terminal messie vanza',
        statistiques: { total_envoyees: 1, reussies: 0, erreurs: 1 },
        ventes_creees: [],
        ventes_erreurs: [{ index: 1, numero_facture: null, erreur: 'existe déjà', code: 'DUPLICATE', identique: true, vente_existante: null }],
      },
    }));
    const report = await setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } }).runOnce();
    expect(report.synchronisees).toBe(0);
    expect(statutOf(numero!)).toBe('EN_ATTENTE');
  });

  it('Retry-After: 99999999999 waits no longer than the backoff maximum', async () => {
    const [numero] = hold(1);
    proxy.script.push({ kind: 'answer', status: 503, body: { error: 'Maintenance', code: 'SERVICE_UNAVAILABLE' }, headers: { 'retry-after': '99999999999' } });
    const forwarder = setup({ networkRetry: { baseMs: 10, capMs: 100, factor: 2 } });
    forwarder.start();
    await until(() => statutOf(numero!) === 'SYNCHRONISEE', 'sale sent after the capped wait', 15_000);
    expect(proxy.requests).toHaveLength(2);
  });
});

describe('the server comes back for everyone, and clocks do not stall forwarding', () => {
  it("one till's success after an outage clears every till's wait for the server; a till's own refusal keeps its schedule", async () => {
    const longWait = { networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } };
    const forwarder = setup(longWait, { random: () => 1 });
    hold(1, 'inconnue-du-serveur');
    await forwarder.runOnce();
    const a = hold(2, TILLS[0]);
    const b = hold(2, TILLS[1]);
    await proxy.refuse();
    await forwarder.runOnce();
    await proxy.accept();
    await forwarder.runOnce();
    expect(proxy.requests.map((r) => r.serial)).toEqual(['inconnue-du-serveur']);
    expect(waiting()).toBe(5);

    // A till that was not waiting posts: its batch goes, the server is back for every till.
    const d = hold(1, TILLS[3]);
    await forwarder.runOnce();
    await until(() => [...a, ...b, ...d].every((n) => statutOf(n) === 'SYNCHRONISEE'), 'every till drained');
    expectOnServerOnce([...a, ...b, ...d]);
    expect(proxy.requests.filter((r) => r.serial === 'inconnue-du-serveur')).toHaveLength(1);
  });

  it('a wall clock set back a day does not stall a till waiting out a backoff: waits run on the monotonic clock', async () => {
    let wall = Date.parse('2026-03-10T12:00:00Z');
    let mono = 1_000;
    const [numero] = hold(1);
    await proxy.refuse();
    const forwarder = setup({ networkRetry: { baseMs: 10_000, capMs: 10_000, factor: 2 } }, { now: () => new Date(wall), monotonic: () => mono, random: () => 1 });
    await forwarder.runOnce();
    await proxy.accept();
    mono += 5_000;
    await forwarder.runOnce();
    expect(proxy.requests).toHaveLength(0);
    wall -= 24 * 3_600_000;
    mono += 6_000;
    await forwarder.runOnce();
    expect(statutOf(numero!)).toBe('SYNCHRONISEE');
  });

  it('a stock retry written before the wall clock was set back a day is due now, not tomorrow', async () => {
    let wall = Date.now();
    server.setStock(7, 0);
    const [numero] = hold(1, SERIAL, [{ article_id: 7 }]);
    const forwarder = setup({ stockRetry: { baseMs: 60_000, capMs: 120_000, factor: 2, maxAttempts: 5 } }, { now: () => new Date(wall) });
    await forwarder.runOnce();
    expect(store.byNumero(numero!)[0]!.prochaine_tentative).not.toBeNull();
    server.setStock(7, 10);
    await forwarder.runOnce();
    expect(proxy.requests).toHaveLength(1);
    wall -= 24 * 3_600_000;
    await forwarder.runOnce();
    expect(statutOf(numero!)).toBe('SYNCHRONISEE');
  });
});

describe('the relay cannot write its own file (disk full)', () => {
  /** Fills the relay's file up to a page limit, so that the next write that needs a page fails. */
  function fillDisk() {
    db.exec('CREATE TABLE IF NOT EXISTS lest (x BLOB)');
    db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + 4}`);
    try {
      for (;;) db.prepare('INSERT INTO lest VALUES (randomblob(3000))').run();
    } catch (error) {
      expect((error as { code: string }).code).toBe('SQLITE_FULL');
    }
  }

  it('backs off instead of resending, says so in the log, and recovers by itself when space returns', async () => {
    const numeros = hold(40);
    fillDisk();
    const forwarder = setup({ batchSize: 40, networkRetry: { baseMs: 50, capMs: 100, factor: 2 } });
    forwarder.start();
    await until(() => logs.some((l) => /disque de ce PC est plein/i.test(l)), 'disk full in the log');
    // Each resend would have been a new request: the till waits instead.
    const sent = proxy.requests.length;
    expect(sent).toBeLessThanOrEqual(2);
    expect(waiting()).toBe(40);
    // For `status`: the small etat row still fits where the sales' bookkeeping does not.
    expect(JSON.parse(store.getEtat('ecriture_impossible')!)).toMatchObject({ code: 'SQLITE_FULL', message: expect.stringMatching(/disque de ce PC est plein/i) });

    // Space returns for real: the lest's few pages alone are not room for 40 sales' bookkeeping
    // (their sends' history included), which made this test fail now and then.
    db.exec('DELETE FROM lest');
    db.pragma('max_page_count = 1073741823');
    await until(() => waiting() === 0, 'sales recorded as synced once space is back');
    expect(store.countStatut('SYNCHRONISEE')).toBe(40);
    expect(server.numeros()).toEqual(numeros);
    expect(store.getEtat('ecriture_impossible')).toBeNull();
    expect(logs.some((l) => /Écriture de nouveau possible/.test(l))).toBe(true);
    expect(store.byStatut('SYNCHRONISEE').every((v) => v.en_vol === null)).toBe(true);
  });
});

describe('a staff command holding the write lock (the relay file is busy, not broken)', () => {
  it('the forwarder tries again soon, reports no disk trouble, and sends once the lock is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ventesync-forwarder-busy-'));
    db = openDatabase(join(dir, 'relay.db'));
    setBusyTimeout(db, DAEMON_BUSY_TIMEOUT_MS);
    store = createRelayStore(db);
    const other = new Database(join(dir, 'relay.db'));
    try {
      const numeros = hold(3);
      other.exec('BEGIN IMMEDIATE');
      const forwarder = setup({ networkRetry: { baseMs: 60_000, capMs: 60_000, factor: 2 } });
      const report = await forwarder.runOnce();
      expect(report.erreurs.join()).toMatch(/occupé/);
      forwarder.start();
      await until(() => logs.filter((l) => /occupé/.test(l)).length >= 2, 'tried again while the lock is held');
      expect(store.getEtat('ecriture_impossible')).toBeNull();
      expect(forwarder.writeTrouble()).toBeNull();
      expect(logs.some((l) => /disque de ce PC est plein|ne peut pas écrire/i.test(l))).toBe(false);
      expect(waiting()).toBe(3);
      other.exec('COMMIT');
      // No one asks again (the interval is a minute, the network backoff too): the short wait ends by itself.
      await until(() => waiting() === 0, 'sales sent once the lock is gone');
      expectOnServerOnce(numeros);
    } finally {
      other.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
