import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLOCK_WARN_MS, createClockWatch } from '../src/clock.js';
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

const stamped = (numero: string) => (JSON.parse(store.byNumero(numero)[0]!.contenu) as { date_vente: string }).date_vente;

describe('clock watch', () => {
  it('beyond two minutes: said in the log, recorded for status, and the stamped date_vente is on the server time', () => {
    createClockWatch(store, logger).observe(HOUR);
    expect(store.clockOffsetMs()).toBe(HOUR);
    expect(JSON.parse(store.getEtat('horloge_decalee')!)).toMatchObject({ decalage_ms: HOUR });
    expect(logs).toEqual([{ level: 'warn', msg: expect.stringMatching(/retarde d'environ 60 min/) }]);

    const receivedAt = new Date('2026-03-10T12:00:00.000Z');
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-1', lignes: [{ article_id: 6 }] }], receivedAt);
    expect(stamped('H-1')).toBe('2026-03-10T13:00:00.000Z');
  });

  it("a till's own date_vente is kept as the till sent it", () => {
    createClockWatch(store, logger).observe(HOUR);
    const sent = '2026-03-10T08:00:00.000Z';
    createSaleIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'H-2', date_vente: sent, lignes: [{ article_id: 6 }] }], new Date());
    expect(Date.parse(stamped('H-2'))).toBe(Date.parse(sent));
  });

  it('a gap within the measuring error changes nothing; a gap under two minutes corrects without alarm', () => {
    const watch = createClockWatch(store, logger);
    watch.observe(1_200);
    expect(store.getEtat('decalage_horloge_ms')).toBeNull();
    watch.observe(-30_000);
    expect(store.clockOffsetMs()).toBe(-30_000);
    expect(store.getEtat('horloge_decalee')).toBeNull();
    expect(logs).toEqual([]);
  });

  it('when the clock is set right, the alarm is cleared and the log says so', () => {
    const watch = createClockWatch(store, logger);
    watch.observe(-2 * CLOCK_WARN_MS);
    watch.observe(300);
    expect(store.clockOffsetMs()).toBe(0);
    expect(store.getEtat('horloge_decalee')).toBeNull();
    expect(logs.map((l) => l.msg)).toEqual([expect.stringMatching(/avance/), expect.stringMatching(/de nouveau à l'heure/)]);
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
    const upstream = createUpstream(proxy.url, agent, { onClockOffset: (ms) => watch.observe(ms) });
    const intake = createSaleIntake(store);
    intake.take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'C-1', lignes: [{ article_id: 6 }] }], new Date());
    await createForwarder({ store, upstream, config: DEFAULT_FORWARDER_CONFIG, logger }).runOnce();
    expect(Math.abs(store.clockOffsetMs() - HOUR)).toBeLessThan(2_000);

    const receivedAt = new Date();
    intake.take({ serial: SERIAL, boutique_id: 2 }, [{ numero_facture: 'C-2', lignes: [{ article_id: 6 }] }], receivedAt);
    expect(Math.abs(Date.parse(stamped('C-2')) - (receivedAt.getTime() + HOUR))).toBeLessThan(2_000);
    expect(logs.some((l) => l.level === 'warn' && /horloge/.test(l.msg))).toBe(true);
  });
});
