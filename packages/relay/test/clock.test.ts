import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLOCK_CONFIRMATIONS, CLOCK_MAX_CORRECTION_MS, CLOCK_WARN_MS, createClockWatch, describeClockGap } from '../src/clock.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type RealServer, SERIAL, startRealServer } from './real-server.js';

const HOUR = 3_600_000;
let store: RelayStore;
let logs: Array<{ level: string; msg: string }>;
const logger = {
  info: (_o: object, msg: string) => void logs.push({ level: 'info', msg }),
  warn: (_o: object, msg: string) => void logs.push({ level: 'warn', msg }),
  error: (_o: object, msg: string) => void logs.push({ level: 'error', msg }),
};

beforeEach(() => {
  store = createRelayStore(openDatabase(':memory:'));
  logs = [];
});

/** The same measure from enough answers in a row to be believed. */
function observeConfirmed(watch: ReturnType<typeof createClockWatch>, offsetMs: number) {
  for (let i = 0; i < CLOCK_CONFIRMATIONS; i++) watch.observe(offsetMs);
}

const stamped = (numero: string) => (JSON.parse(store.byNumero(numero)[0]!.contenu) as { date_vente: string }).date_vente;

describe('clock watch', () => {
  it('beyond two minutes: said in the log, recorded for status, and the stamped date_vente is on the server time', () => {
    observeConfirmed(createClockWatch(store, logger), HOUR);
    expect(store.clockOffsetMs()).toBe(HOUR);
    expect(JSON.parse(store.getEtat('horloge_decalee')!)).toMatchObject({ decalage_ms: HOUR });
    expect(logs).toEqual([{ level: 'warn', msg: expect.stringMatching(/retarde d'environ 1 h sur celle du serveur/) }]);

    const receivedAt = new Date('2026-03-10T12:00:00.000Z');
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-1', lignes: [{ article_id: 6 }] }], receivedAt);
    expect(stamped('H-1')).toBe('2026-03-10T13:00:00.000Z');
  });

  it("a till's own date_vente is kept as the till sent it", () => {
    observeConfirmed(createClockWatch(store, logger), HOUR);
    const sent = '2026-03-10T08:00:00.000Z';
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-2', date_vente: sent, lignes: [{ article_id: 6 }] }], new Date());
    expect(Date.parse(stamped('H-2'))).toBe(Date.parse(sent));
  });

  it('a gap within the measuring error changes nothing; a gap under two minutes corrects without alarm', () => {
    const watch = createClockWatch(store, logger);
    watch.observe(1_200);
    expect(store.getEtat('decalage_horloge_ms')).toBeNull();
    observeConfirmed(watch, -30_000);
    expect(store.clockOffsetMs()).toBe(-30_000);
    expect(store.getEtat('horloge_decalee')).toBeNull();
    expect(logs).toEqual([]);
  });

  it('when the clock is set right, the alarm is cleared and the log says so', () => {
    const watch = createClockWatch(store, logger);
    observeConfirmed(watch, -2 * CLOCK_WARN_MS);
    observeConfirmed(watch, 300);
    expect(store.clockOffsetMs()).toBe(0);
    expect(store.getEtat('horloge_decalee')).toBeNull();
    expect(logs.map((l) => l.msg)).toEqual([expect.stringMatching(/avance/), expect.stringMatching(/de nouveau à l'heure/)]);
  });
});

describe('a clock measure is believed only when it holds, and never beyond reason', () => {
  it('one answer dated 1970 changes nothing: a gap is believed only after several answers in a row agree', () => {
    const watch = createClockWatch(store, logger);
    const in1970 = Date.parse('1970-01-01T00:00:00Z') - Date.now();
    watch.observe(in1970);
    watch.observe(0);
    watch.observe(in1970);
    expect(store.getEtat('decalage_horloge_ms')).toBeNull();
    expect(logs).toEqual([]);
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-3', lignes: [{ article_id: 6 }] }], new Date('2026-03-10T12:00:00Z'));
    expect(stamped('H-3')).toBe('2026-03-10T12:00:00.000Z');
  });

  it('a confirmed gap beyond 48 h is not corrected: said loudly (log and status) in words, sales keep this machine\'s time', () => {
    const watch = createClockWatch(store, logger);
    const gap = -(CLOCK_MAX_CORRECTION_MS + 5 * 24 * HOUR);
    observeConfirmed(watch, gap);
    expect(store.clockOffsetMs()).toBe(0);
    expect(JSON.parse(store.getEtat('horloge_decalee')!)).toMatchObject({ decalage_ms: gap, corrige: false });
    expect(logs).toEqual([{ level: 'error', msg: expect.stringMatching(/diffèrent d'environ 7 j : l'une des deux est fausse/) }]);
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-4', lignes: [{ article_id: 6 }] }], new Date('2026-03-10T12:00:00Z'));
    expect(stamped('H-4')).toBe('2026-03-10T12:00:00.000Z');
  });

  it('even a gap written in the file beyond 48 h is not applied to a stamped date', () => {
    store.setEtat('decalage_horloge_ms', String(-56 * 365 * 24 * HOUR));
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-5', lignes: [{ article_id: 6 }] }], new Date('2026-03-10T12:00:00Z'));
    expect(stamped('H-5')).toBe('2026-03-10T12:00:00.000Z');
  });

  it('gaps read as a person says them', () => {
    expect(describeClockGap(45 * 60_000)).toBe('45 min');
    expect(describeClockGap(-(8 * HOUR + 19 * 60_000))).toBe('8 h 19 min');
    expect(describeClockGap(3 * HOUR)).toBe('3 h');
    expect(describeClockGap(29_926_630 * 60_000)).toBe('20 782 j 9 h');
  });
});

describe('clock watch, wired as the daemon does, against the real server', () => {
  let server: RealServer;
  let proxy: FaultProxy;
  const agent = createAgent();
  beforeEach(async () => {
    server = await startRealServer();
    proxy = await startFaultProxy(server.url);
  });
  afterEach(async () => {
    await proxy.close();
    await server.close();
  });

  it("a relay an hour behind the server learns it from the server's answers and dates later sales on the server's clock", async () => {
    proxy.shiftDate(HOUR);
    const watch = createClockWatch(store, logger);
    const upstream = createUpstream(proxy.url, agent);
    const intake = createSaleIntake(store);
    const forwarder = createForwarder({ store, upstream, config: DEFAULT_FORWARDER_CONFIG, logger, onClockOffset: (ms) => watch.observe(ms) });
    for (let i = 1; i <= CLOCK_CONFIRMATIONS; i++) {
      intake.take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: `C-1-${i}`, lignes: [{ article_id: 6 }] }], new Date());
      await forwarder.runOnce();
    }
    expect(Math.abs(store.clockOffsetMs() - HOUR)).toBeLessThan(2_000);

    const receivedAt = new Date();
    intake.take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'C-2', lignes: [{ article_id: 6 }] }], receivedAt);
    expect(Math.abs(Date.parse(stamped('C-2')) - (receivedAt.getTime() + HOUR))).toBeLessThan(2_000);
    expect(logs.some((l) => l.level === 'warn' && /horloge/.test(l.msg))).toBe(true);
  });

  it("only sync answers that validate measure the clock: an error page's or a failed batch's Date header is not read", async () => {
    proxy.shiftDate(-56 * 365 * 24 * HOUR);
    const watch = createClockWatch(store, logger);
    const measured: number[] = [];
    const forwarder = createForwarder({
      store,
      upstream: createUpstream(proxy.url, agent),
      config: { ...DEFAULT_FORWARDER_CONFIG, networkRetry: { baseMs: 1, capMs: 2, factor: 2 }, bisectPaceMs: 1 },
      logger,
      onClockOffset: (ms) => {
        measured.push(ms);
        watch.observe(ms);
      },
    });
    proxy.rules.push(() => ({ kind: 'answer', status: 500, body: '<html>Erreur</html>' }));
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'C-3', lignes: [{ article_id: 6 }] }], new Date());
    for (let i = 0; i < 5; i++) await forwarder.runOnce();
    await createUpstream(proxy.url, agent).get('/api/v2/simple/articles/', SERIAL);
    expect(measured).toEqual([]);
    expect(store.getEtat('decalage_horloge_ms')).toBeNull();
  });
});
