import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChildServer, runCli, startServer } from './child-server.js';
import { tempDir } from './helpers.js';

// Signatures computed from the text of CONTRACT §6 alone, never with the production code.
function sign(secret: string, method: string, url: string, body = '', t = Math.floor(Date.now() / 1000)): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

const ARTICLES = '/api/v2/simple/articles/';
const SYNC = '/api/v2/simple/ventes/sync/';

let tmp: ReturnType<typeof tempDir>;
let db: string;
let cert: string;
let key: string;
const servers: ChildServer[] = [];
const cli = (...args: string[]) => runCli([...args, '--db', db]);

beforeEach(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'trust.db');
  cert = join(tmp.dir, 'cert.pem');
  key = join(tmp.dir, 'key.pem');
  // A certificate of the test's own, for this machine only, valid one day.
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  cli('boutique', 'add', 'Ma Boutique', '--id', '2');
  cli('boutique', 'add', 'Gombe', '--id', '3');
  cli('terminal', 'add', 'caisse-signee', 'Caisse 1', '--boutique', '2');
  cli('terminal', 'add', 'caisse-ancienne', 'Caisse 2', '--boutique', '2');
  cli('terminal', 'add', 'caisse-gombe', 'Caisse G', '--boutique', '3');
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  tmp.cleanup();
});

/** One HTTPS request that trusts only the test's certificate. */
function call(base: string, method: string, path: string, headers: Record<string, string>, body = '') {
  return new Promise<{ status: number; json: { code?: string } & Record<string, unknown> }>((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers, ca: readFileSync(cert) }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('ventesync-server on the internet: HTTPS, signatures, relays (real process)', () => {
  it('serves HTTPS with its own certificate; signed tills and registered relays pass, unsigned ones are refused; a replay is refused after a restart; no secret is ever logged', async () => {
    const { secret } = JSON.parse(cli('terminal', 'secret', 'caisse-signee', '--json').stdout) as { secret: string };
    const relay = JSON.parse(cli('relais', 'add', 'Relais Ma Boutique', '--boutique', '2', '--json').stdout) as { id: number; secret: string };
    expect(relay).toEqual({ id: 1, secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const listed = cli('relais', 'list', '--json').stdout;
    expect(JSON.parse(listed)).toEqual([{ id: 1, nom: 'Relais Ma Boutique', boutiques: [2], actif: true, dernier_rapport: null, silencieux: true, en_retard: false }]);
    expect(listed).not.toContain(relay.secret);

    let server = await startServer(db, ['--tls-cert', cert, '--tls-key', key, '--require-signatures']);
    servers.push(server);
    expect(server.url).toMatch(/^https:\/\//);
    const signed = { 'x-device-serial': 'caisse-signee', 'x-signature': sign(secret, 'GET', ARTICLES) };
    expect((await call(server.url, 'GET', ARTICLES, signed)).status).toBe(200);
    expect((await call(server.url, 'GET', ARTICLES, { 'x-device-serial': 'caisse-ancienne' })).json.code).toBe('SIGNATURE_REQUIRED');
    const viaRelay = (serial: string) => ({ 'x-relay-id': '1', 'x-device-serial': serial, 'x-signature': sign(relay.secret, 'POST', SYNC, '[]') });
    expect((await call(server.url, 'POST', SYNC, { ...viaRelay('caisse-ancienne'), 'content-type': 'application/json' }, '[]')).status).toBe(200);
    expect((await call(server.url, 'POST', SYNC, viaRelay('caisse-gombe'), '[]')).json.code).toBe('RELAY_FORBIDDEN');

    await server.stop();
    server = await startServer(db, ['--tls-cert', cert, '--tls-key', key, '--require-signatures']);
    servers.push(server);
    expect((await call(server.url, 'GET', ARTICLES, signed)).json.code).toBe('SIGNATURE_REPLAYED');

    cli('relais', 'disable', '1');
    const disabled = await call(server.url, 'GET', ARTICLES, { 'x-relay-id': '1', 'x-device-serial': 'caisse-ancienne', 'x-signature': sign(relay.secret, 'GET', ARTICLES) });
    expect(disabled.json.code).toBe('RELAY_NOT_FOUND');
    const rotated = JSON.parse(cli('relais', 'secret', '1', '--rotate', '--json').stdout) as { secret: string };
    expect(rotated.secret).not.toBe(relay.secret);
    expect(cli('relais', 'secret', '1').stderr).toContain('--rotate');

    const logs = servers.flatMap((s) => s.lines).join('\n');
    expect(logs).toContain('caisse-signee');
    for (const value of [secret, relay.secret, signed['x-signature'], signed['x-signature'].split('v1=')[1]!]) {
      expect(logs).not.toContain(value);
    }
  });

  it('refuses --tls-cert without --tls-key, and a relay with no boutique or an unknown one', () => {
    const out = runCli(['serve', '--db', db, '--tls-cert', cert]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('--tls-key');
    expect(cli('relais', 'add', 'R', '--boutique', '42').stderr).toContain('Boutique 42 introuvable');
    expect(cli('relais', 'add', 'R').code).toBe(1);
    expect(JSON.parse(cli('relais', 'list', '--json').stdout)).toEqual([]);
  });
});
