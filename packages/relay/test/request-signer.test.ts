import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '@ventesync/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestSigner, SIGN_AHEAD_MAX_SECONDS, SIGN_PAST_MARGIN_SECONDS } from '../src/request-signer.js';
import { openDatabase as openServerDatabase } from '../../server/src/db/open-database.js';
import { createAgent, createUpstream } from '../src/upstream.js';

// Checked against the text of CONTRACT §6 alone, never with the production code.
function v1Of(secret: string, t: number, method: string, url: string, body = ''): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
}
const parse = (header: string) => {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) throw new Error(`bad header ${header}`);
  return { t: Number(m[1]), v1: m[2]! };
};

const credentials = { id: 7, secret: randomBytes(32).toString('base64url') };
const NOW_MS = 1_764_000_000_500;

describe('request signer', () => {
  it('signs the method, path and query, and body with the relay secret and names the relay', () => {
    const signer = createRequestSigner(credentials, () => NOW_MS);
    const headers = signer.sign('POST', '/api/v2/simple/ventes/sync/', '[{"a":1}]')!;
    expect(headers['X-Relay-Id']).toBe('7');
    const { t, v1 } = parse(headers['X-Signature']!);
    expect(t).toBe(1_764_000_000);
    expect(v1).toBe(v1Of(credentials.secret, t, 'POST', '/api/v2/simple/ventes/sync/', '[{"a":1}]'));
    expect(JSON.stringify(headers)).not.toContain(credentials.secret);
  });

  it('never gives the same v1 twice: an identical request gets the current second, then past free seconds newest first, never more than 2 s ahead; none free: null', () => {
    let now = NOW_MS;
    const signer = createRequestSigner(credentials, () => now);
    const tOf = () => {
      const headers = signer.sign('GET', '/api/v2/simple/articles/');
      if (headers === null) return null;
      const { t, v1 } = parse(headers['X-Signature']!);
      expect(v1).toBe(v1Of(credentials.secret, t, 'GET', '/api/v2/simple/articles/'));
      return t;
    };
    const T = 1_764_000_000;
    expect([tOf(), tOf()]).toEqual([T, T - 1]);
    // Another message in that second keeps the clock's t.
    expect(parse(signer.sign('GET', '/api/v2/simple/statistiques/')!['X-Signature']!).t).toBe(T);
    now += 10_000;
    expect([tOf(), tOf(), tOf()]).toEqual([T + 10, T + 9, T + 8]);
    // Every past second of the usable window taken: one or two ahead, then nothing.
    const usable = 300 - SIGN_PAST_MARGIN_SECONDS;
    const ts: Array<number | null> = [];
    for (let i = 0; i < usable + 10; i++) ts.push(tOf());
    const signed = ts.filter((t): t is number => t !== null);
    expect(new Set(signed).size).toBe(signed.length);
    expect(Math.max(...signed)).toBe(T + 10 + SIGN_AHEAD_MAX_SECONDS);
    expect(Math.min(...signed)).toBe(T + 10 - usable);
    expect(ts.at(-1)).toBeNull();
  });

  it("signs on the server's time once an EXPIRED answer gave it", () => {
    let now = NOW_MS;
    const signer = createRequestSigner(credentials, () => now);
    signer.adjust(NOW_MS + 3_600_000);
    expect(parse(signer.sign('GET', '/x')!['X-Signature']!).t).toBe(1_764_003_600);
    now += 10_000;
    expect(parse(signer.sign('GET', '/y')!['X-Signature']!).t).toBe(1_764_003_610);
  });
});

describe('upstream with a signer', () => {
  let server: Server | undefined;
  const agent = createAgent({ connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000 });
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });
  async function serve(handler: (req: IncomingMessage, body: string) => { status: number; body: unknown; headers?: Record<string, string> }) {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const answer = handler(req, body);
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('sends X-Relay-Id and X-Signature over the path and query as sent, the till named by X-Device-Serial; reports the list version', async () => {
    const seen: Array<{ url: string; serial: unknown; relay: unknown; ok: boolean }> = [];
    const url = await serve((req, body) => {
      const { t, v1 } = parse(String(req.headers['x-signature']));
      seen.push({ url: req.url!, serial: req.headers['x-device-serial'], relay: req.headers['x-relay-id'], ok: v1 === v1Of(credentials.secret, t, req.method!, req.url!, body) });
      return { status: 200, body: { success: true }, headers: { 'X-Relais-Terminaux-Version': 'v-42' } };
    });
    const versions: string[] = [];
    const upstream = createUpstream(url, agent, { signer: createRequestSigner(credentials, () => Date.now()), onTerminalsVersion: (v) => versions.push(v) });
    await upstream.get('/api/v2/simple/ventes/historique/?limit=5&offset=0', 'caisse-1');
    await upstream.postSync('caisse-2', '[]');
    await upstream.getRelayTerminals();
    expect(seen).toEqual([
      { url: '/api/v2/simple/ventes/historique/?limit=5&offset=0', serial: 'caisse-1', relay: '7', ok: true },
      { url: '/api/v2/simple/ventes/sync/', serial: 'caisse-2', relay: '7', ok: true },
      { url: '/api/v2/simple/relais/terminaux/', serial: undefined, relay: '7', ok: true },
    ]);
    expect(versions).toEqual(['v-42', 'v-42', 'v-42']);
  });

  it("a signature refused as expired is signed again on the server's Date and sent once more", async () => {
    const serverNow = Math.floor(Date.now() / 1000) + 3_600;
    let calls = 0;
    const url = await serve((req) => {
      calls++;
      const { t } = parse(String(req.headers['x-signature']));
      if (Math.abs(t - serverNow) > 300) return { status: 401, body: { code: 'SIGNATURE_EXPIRED', error: 'Signature expirée' }, headers: { date: new Date(serverNow * 1000).toUTCString() } };
      return { status: 200, body: { success: true } };
    });
    const upstream = createUpstream(url, agent, { signer: createRequestSigner(credentials, () => Date.now()) });
    const answer = await upstream.postSync('caisse-1', '[]');
    expect(answer).toMatchObject({ kind: 'response', status: 200 });
    expect(calls).toBe(2);
  });

  it('without a signer, nothing of the relay is sent (as before)', async () => {
    const headers: IncomingMessage['headers'][] = [];
    const url = await serve((req) => (headers.push(req.headers), { status: 200, body: {} }));
    await createUpstream(url, agent).postSync('caisse-1', '[]');
    expect(headers[0]!['x-relay-id']).toBeUndefined();
    expect(headers[0]!['x-signature']).toBeUndefined();
  });
});

describe('two tills reading one URL through the relay, against a real server, on a simulated clock', () => {
  const ARTICLES = '/api/v2/simple/articles/';
  const MINUTES = 10;

  async function realServer(clock: () => number) {
    // The server's own opening (schema and its SQL functions), as `serve` does.
    const db = openServerDatabase(':memory:');
    db.exec(`
      INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique');
      INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('caisse-1', 'Caisse 1', 2), ('caisse-2', 'Caisse 2', 2);
    `);
    const { id } = db.prepare("INSERT INTO relais (nom, secret) VALUES ('Relais', ?) RETURNING id").get(relaySecret) as { id: number };
    db.prepare('INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES (?, 2)').run(id);
    const app = await buildApp({ db, logger: false, now: () => new Date(clock()) });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, id, close: async () => (await app.close(), db.close()) };
  }
  const relaySecret = randomBytes(32).toString('base64url');

  /** Each simulated second, `perSecond(s)` reads of the URL by the two tills in turn; the answers' statuses and codes. */
  async function run(perSecond: (second: number) => number) {
    let clock = NOW_MS;
    const server = await realServer(() => clock);
    const agent = createAgent({ connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000 });
    try {
      const upstream = createUpstream(server.url, agent, { signer: createRequestSigner({ id: server.id, secret: relaySecret }, () => clock) });
      const answers: Array<{ second: number; status: number; code: string | null; retryAfterMs: number | null }> = [];
      for (let second = 0; second < MINUTES * 60; second++) {
        clock = NOW_MS + second * 1000;
        for (let i = 0; i < perSecond(second); i++) {
          const answer = await upstream.get(ARTICLES, i % 2 === 0 ? 'caisse-1' : 'caisse-2');
          if (answer.kind !== 'response') throw new Error(answer.reason);
          const code = (answer.body as { code?: string }).code ?? null;
          answers.push({ second, status: answer.status, code, retryAfterMs: answer.retryAfterMs });
        }
      }
      return answers;
    } finally {
      await agent.close();
      await server.close();
    }
  }

  it('both tills reading every second for 10 minutes: the server never refuses the relay (no SIGNATURE_EXPIRED or REPLAYED); a read the relay cannot sign yet is 503 Retry-After 1 s, not sent', async () => {
    const answers = await run(() => 2);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    for (const a of answers.filter((x) => x.status === 503)) expect(a).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfterMs: 1000 });
    // The free past seconds carry both tills, each read answered, for the first minutes.
    expect(answers.filter((a) => a.second < 2 * 60 && a.status !== 200)).toEqual([]);
    // Then one read a second at least: the server accepts a v1 once per message and second.
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(MINUTES * 60);
  }, 120_000);

  it('the two tills reading in the same second, every other second, for 10 minutes: every read answered 200', async () => {
    const answers = await run((second) => (second % 2 === 0 ? 2 : 0));
    expect(answers.length).toBe(MINUTES * 60);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  }, 120_000);
});
