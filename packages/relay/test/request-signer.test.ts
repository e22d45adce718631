import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestSigner } from '../src/request-signer.js';
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
    const headers = signer.sign('POST', '/api/v2/simple/ventes/sync/', '[{"a":1}]');
    expect(headers['X-Relay-Id']).toBe('7');
    const { t, v1 } = parse(headers['X-Signature']!);
    expect(t).toBe(1_764_000_000);
    expect(v1).toBe(v1Of(credentials.secret, t, 'POST', '/api/v2/simple/ventes/sync/', '[{"a":1}]'));
    expect(JSON.stringify(headers)).not.toContain(credentials.secret);
  });

  it('never gives the same v1 twice: an identical request in the same second is signed one second on', () => {
    const signer = createRequestSigner(credentials, () => NOW_MS);
    const seen = new Set<string>();
    const ts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { t, v1 } = parse(signer.sign('GET', '/api/v2/simple/articles/')['X-Signature']!);
      expect(v1).toBe(v1Of(credentials.secret, t, 'GET', '/api/v2/simple/articles/'));
      seen.add(v1);
      ts.push(t);
    }
    expect(seen.size).toBe(5);
    expect(ts).toEqual([0, 1, 2, 3, 4].map((i) => 1_764_000_000 + i));
    // Another message in that second keeps the clock's t.
    expect(parse(signer.sign('GET', '/api/v2/simple/statistiques/')['X-Signature']!).t).toBe(1_764_000_000);
  });

  it("signs on the server's time once an EXPIRED answer gave it", () => {
    let now = NOW_MS;
    const signer = createRequestSigner(credentials, () => now);
    signer.adjust(NOW_MS + 3_600_000);
    expect(parse(signer.sign('GET', '/x')['X-Signature']!).t).toBe(1_764_003_600);
    now += 10_000;
    expect(parse(signer.sign('GET', '/y')['X-Signature']!).t).toBe(1_764_003_610);
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
