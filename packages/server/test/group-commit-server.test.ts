import Database from 'better-sqlite3';
import * as http from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { type ChildServer, startServer } from './child-server.js';
import { openTestDb, SERIAL, SYNC, tempDir, vente } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dbFile: string;
let server: ChildServer | undefined;

beforeEach(() => {
  tmp = tempDir();
  dbFile = join(tmp.dir, 'server.db');
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  tmp.cleanup();
});

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${SYNC}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Demo data with stock enough for any number of sales of articles 6 and 7. */
const INITIAL_STOCK = 1_000_000;
function prepareDemoDb(): void {
  const db = openTestDb(dbFile);
  db.prepare('UPDATE articles SET quantite_stock = ? WHERE id IN (6, 7)').run(INITIAL_STOCK);
  db.prepare("UPDATE mouvements_stock SET quantite = ?, stock_apres = ? WHERE article_id IN (6, 7) AND type = 'ENTREE'").run(INITIAL_STOCK, INITIAL_STOCK);
  db.close();
}

const twoLines = (numero: string) => vente(numero, [{ article_id: 6 }, { article_id: 7, quantite: 2 }]);

/** Every sale whole (2 lines, 2 SORTIE) and, per article, the stock is what its movements say. */
function expectConsistent(db: Database.Database): void {
  const partial = db
    .prepare(
      `SELECT v.numero_facture FROM ventes v
       WHERE (SELECT COUNT(*) FROM lignes_vente l WHERE l.vente_id = v.id) != 2
          OR (SELECT COUNT(*) FROM mouvements_stock m WHERE m.reference = v.numero_facture AND m.type = 'SORTIE') != 2`,
    )
    .pluck()
    .all();
  expect(partial).toEqual([]);
  for (const [id, perSale] of [[6, 1], [7, 2]] as const) {
    const stock = db.prepare('SELECT quantite_stock FROM articles WHERE id = ?').pluck().get(id) as number;
    const sorties = db.prepare("SELECT COALESCE(SUM(quantite), 0) FROM mouvements_stock WHERE article_id = ? AND type = 'SORTIE'").pluck().get(id) as number;
    const lignes = db.prepare('SELECT COALESCE(SUM(quantite), 0) FROM lignes_vente WHERE article_id = ?').pluck().get(id) as number;
    const ventes = db.prepare('SELECT COUNT(*) FROM ventes').pluck().get() as number;
    expect({ id, stock, lignes }).toEqual({ id, stock: INITIAL_STOCK - sorties, lignes: sorties });
    expect(sorties).toBe(ventes * perSale);
  }
}

describe('group commit in the running server', () => {
  it('many tills sending one sale each at once: all answered, all on disk, fewer commits than requests', async () => {
    prepareDemoDb();
    server = await startServer(dbFile);
    const tills = 32;
    const rounds = 5;
    const answers = await Promise.all(
      Array.from({ length: tills }, async (_, t) => {
        const statuses: number[] = [];
        for (let r = 0; r < rounds; r++) statuses.push((await post(server!.url, [twoLines(`T${t}-R${r}`)])).status);
        return statuses;
      }),
    );
    expect(answers.flat()).toEqual(Array(tills * rounds).fill(201));
    await server.stop();
    const line = server.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => 'ecritures_groupees' in l);
    server = undefined;
    const stats = line!.ecritures_groupees as { commits: number; requests: number; salesWritten: number; maxGroupRequests: number };
    expect(stats).toMatchObject({ requests: tills * rounds, salesWritten: tills * rounds, failedGroups: 0 });
    expect(stats.maxGroupRequests).toBeGreaterThan(1);
    expect(stats.commits).toBeLessThan(tills * rounds);

    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(tills * rounds);
    expectConsistent(db);
    db.close();
  });

  it('kill -9 while tills are sending, three times over: every answered sale is on disk, none half-written', async () => {
    prepareDemoDb();
    const answered = new Set<string>();
    for (let attempt = 0; attempt < 3; attempt++) {
      server = await startServer(dbFile);
      const url = server.url;
      let killed = false;
      let sent = 0;
      // Requests the kill left without an answer: the server held them (parsing, queued or in
      // the group being written) when it died.
      let cut = 0;
      const till = async (t: number) => {
        for (let r = 0; !killed; r++) {
          const numero = `K${attempt}-T${t}-R${r}`;
          sent++;
          try {
            const res = await post(url, [twoLines(numero)]);
            if (res.status === 201) answered.add(numero);
          } catch {
            cut++;
            return; // the server is gone
          }
        }
      };
      const tills = Array.from({ length: 16 }, (_, t) => till(t));
      const deadline = Date.now() + 20_000;
      while (sent < 300) {
        if (Date.now() > deadline) throw new Error('the tills never got going');
        await new Promise((r) => setImmediate(r));
      }
      killed = true;
      server.child.kill('SIGKILL');
      await Promise.all(tills);
      await server.stop();
      server = undefined;
      expect(cut).toBeGreaterThan(0);
    }

    const db = new Database(dbFile, { readonly: true });
    const stored = new Set(db.prepare('SELECT numero_facture FROM ventes').pluck().all() as string[]);
    expect([...answered].filter((n) => !stored.has(n))).toEqual([]);
    expect(answered.size).toBeGreaterThan(0);
    expectConsistent(db);
    db.close();
  });
});

/** POSTs with no Content-Length, the body in two chunks: what .NET's PostAsJsonAsync sends. */
function postChunked(port: number, agent: http.Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: SYNC, method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 5));
    req.end(body.slice(5));
  });
}

describe('tills that send their body chunked (no Content-Length)', () => {
  it('are weighed by the bytes received: many one-sale requests at once are all written, in shared groups', async () => {
    prepareDemoDb();
    const db = openDatabase(dbFile);
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const app = await buildApp({ db, logger: pino({ level: 'info' }, stream) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const tills = 32;
    const rounds = 5;
    try {
      const statuses = await Promise.all(
        Array.from({ length: tills }, async (_, t) => {
          const seen: number[] = [];
          for (let r = 0; r < rounds; r++) seen.push(await postChunked(port, agent, JSON.stringify([twoLines(`CH-T${t}-R${r}`)])));
          return seen;
        }),
      );
      expect(statuses.flat()).toEqual(Array(tills * rounds).fill(201));
    } finally {
      agent.destroy();
      await app.close();
    }
    expect(db.prepare('SELECT COUNT(*) FROM ventes').pluck().get()).toBe(tills * rounds);
    db.close();
    const stats = lines.find((l) => 'ecritures_groupees' in l)!.ecritures_groupees as { maxGroupRequests: number; refused: number };
    // Weighed as the largest body allowed (5 MiB), no more than 3 fitted in a 16 MiB group.
    expect(stats.refused).toBe(0);
    expect(stats.maxGroupRequests).toBeGreaterThan(3);
  });
});

describe('the sync route past the write queue bound', () => {
  it('answers 503 OVERLOADED with Retry-After and writes nothing of that request', async () => {
    const db = openTestDb(dbFile);
    const app = await buildApp({ db, logger: false, groupCommit: { maxQueuedRequests: 1 } });
    const send = (numero: string) =>
      app.inject({
        method: 'POST',
        url: SYNC,
        headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
        payload: JSON.stringify([vente(numero, [{ article_id: 6 }])]),
      });
    // Both handlers run before the queue is written: the second finds it full.
    const [first, second] = await Promise.all([send('FILE-1'), send('FILE-2')]);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json()).toMatchObject({ code: 'OVERLOADED', error: expect.stringContaining('réessayez') });
    expect(db.prepare('SELECT numero_facture FROM ventes').pluck().all()).toEqual(['FILE-1']);
    await app.close();
    db.close();
  });
});
