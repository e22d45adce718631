import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { openTestDb, SERIAL, SYNC, vente } from './helpers.js';

async function appLoggingAt(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const db = openTestDb();
  const app = await buildApp({ db, logger: pino({ level }, stream) });
  const send = (body: unknown) =>
    app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL }, payload: JSON.stringify(body) });
  return { lines, send, close: async () => (await app.close(), db.close()) };
}

describe('what a sync request costs the log', () => {
  it('one info line per sync: the guide’s message and counts together with the status, duration and serial', async () => {
    const log = await appLoggingAt('info');
    await log.send([vente('UNE-1', [{ article_id: 6 }]), vente('UNE-1', [{ article_id: 6 }])]);
    await log.close();
    const requestLines = log.lines.filter((l) => l.reqId !== undefined && l.level === 30);
    expect(requestLines).toEqual([
      expect.objectContaining({
        msg: 'Synchronisation ventes pour boutique: Ma Boutique (Terminal: Terminal messie vanza)',
        method: 'POST',
        route: SYNC,
        status: 201,
        duration_ms: expect.any(Number),
        serial: SERIAL,
        creees: 1,
        doublons: 1,
        refusees: 0,
      }),
    ]);
  });

  it('at warn: the refused sale’s line and nothing at info', async () => {
    const log = await appLoggingAt('warn');
    await log.send([vente('W-1', [{ article_id: 6 }]), vente('W-2', [{ article_id: 6, quantite: 0 }])]);
    await log.close();
    expect(log.lines.filter((l) => l.reqId !== undefined).map((l) => [l.level, l.numero_facture])).toEqual([[40, 'W-2']]);
  });
});
