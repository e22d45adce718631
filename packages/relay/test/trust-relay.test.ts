import { prepareDatabase, protectRelayFile } from '@ventesync/runtime/sqlite';
import { buildApp } from '@ventesync/server';
import { MIGRATIONS as SERVER_MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, runCliSync, startCliProcess } from '../../../test-support/cli-process.js';
import { openDatabase as openServerDatabase } from '../../server/src/db/open-database.js';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import type { RelayCredentials } from '../src/relay-credentials.js';
import { createRelayStore } from '../src/relay-store.js';
import { createRelayTrust } from '../src/relay-trust.js';
import { createRequestSigner } from '../src/request-signer.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream, DEFAULT_TIMEOUTS } from '../src/upstream.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

// Signatures and secrets made here from the text of CONTRACT §6 alone, never with the production code.
function sign(secret: string, method: string, url: string, body = '', t = Math.floor(Date.now() / 1000)): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}
const newSecret = () => randomBytes(32).toString('base64url');

const SYNC = '/api/v2/simple/ventes/sync/';
const ARTICLES = '/api/v2/simple/articles/';
const SIGNED = 'caisse-signee';
const LEGACY = 'caisse-ancienne';
const GOMBE = 'caisse-gombe';

const vente = (numero: string, article = 6) =>
  JSON.stringify([{ numero_facture: numero, mode_paiement: 'CASH', paye: true, lignes: [{ article_id: article, quantite: 1, prix_unitaire: 40000 }] }]);

let dir: string;
let serverDb: string;
let relayDb: string;
let tillSecret: string;
let relay: RelayCredentials;
const cleanup: Array<() => Promise<void> | void> = [];

/** Another process's connection to the server's file, as `ventesync-server` commands are. */
function serverCli<T>(run: (db: Database.Database) => T): T {
  const db = new Database(serverDb);
  try {
    return run(db);
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-trust-relay-'));
  serverDb = join(dir, 'server.db');
  relayDb = join(dir, 'relay.db');
  tillSecret = newSecret();
  const db = new Database(serverDb);
  prepareDatabase(db, SERVER_MIGRATIONS);
  db.exec(`
    INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique'), (3, 'Gombe');
    INSERT INTO terminaux (serial, nom, boutique_id) VALUES ('${SIGNED}', 'Caisse 1', 2), ('${LEGACY}', 'Caisse 2', 2), ('${GOMBE}', 'Caisse G', 3);
    INSERT INTO articles (id, boutique_id, nom, prix_vente, quantite_stock) VALUES (6, 2, 'Samsung S24', 4000000, 1000), (8, 3, 'Chargeur', 4000000, 1000);
  `);
  db.prepare('UPDATE terminaux SET secret = ? WHERE serial = ?').run(tillSecret, SIGNED);
  const secret = newSecret();
  const { id } = db.prepare("INSERT INTO relais (nom, secret) VALUES ('Relais Ma Boutique', ?) RETURNING id").get(secret) as { id: number };
  db.prepare('INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES (?, 2)').run(id);
  db.close();
  relay = { id, secret };
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(options: { port?: number; tls?: { cert: Buffer; key: Buffer } } = {}) {
  // The server's own opening (schema and its SQL functions), as `serve` does.
  const db = openServerDatabase(serverDb);
  const app = await buildApp({ db, logger: false, ...(options.tls ? { tls: options.tls } : {}) });
  const url = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    db.close();
  };
  cleanup.push(close);
  const numeros = () => db.prepare<[], string>('SELECT numero_facture FROM ventes ORDER BY id').pluck().all();
  return { url, port: Number(new URL(url).port), numeros, close };
}

/** The relay as its daemon assembles it, in this process: logs captured, restartable on its file. */
async function startRelay(upstreamUrl: string, credentials: RelayCredentials | null, options: { ca?: Buffer; clockSkewMs?: number } = {}) {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) }));
  const db = openDatabase(relayDb);
  protectRelayFile(relayDb);
  const store = createRelayStore(db);
  store.releaseAllClaims();
  const agent = createAgent(DEFAULT_TIMEOUTS, options.ca);
  // As the daemon: this machine's clock (here skewed as asked), corrected by what the signer learns.
  const nowMs = () => Date.now() + (options.clockSkewMs ?? 0);
  let trust: ReturnType<typeof createRelayTrust> | undefined;
  const signer = credentials ? createRequestSigner(credentials, nowMs) : null;
  const upstream = createUpstream(upstreamUrl, agent, {
    ...(signer ? { signer, onTerminalsVersion: (v: string) => trust?.noteVersion(v) } : {}),
  });
  trust = createRelayTrust({ db, store, upstream, credentials, logger, nowMs: signer ? signer.serverNowMs : nowMs });
  const forwarder = createForwarder({
    store,
    upstream,
    config: { ...DEFAULT_FORWARDER_CONFIG, intervalMs: 60_000, debounceMs: 10, debounceMaxMs: 50 },
    logger,
  });
  const directory = createTerminalDirectory(store, upstream);
  const app = await buildRelayApp({ store, upstream, forwarder, directory, logger, trust });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  forwarder.start();
  const initial = await trust.refresh();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await forwarder.stop();
    await app.close();
    await agent.close();
    db.close();
  };
  cleanup.push(close);
  const post = async (serial: string, body: string, signature?: string) => {
    const res = await request(`${url}${SYNC}`, {
      method: 'POST',
      headers: { 'x-device-serial': serial, 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) },
      body,
    });
    return { status: res.statusCode, json: (await res.body.json()) as { code?: string; error?: string } & Record<string, unknown> };
  };
  const sales = () => db.prepare<[], { numero_facture: string; statut: string }>('SELECT numero_facture, statut FROM ventes ORDER BY id').all();
  const tillError = (serial: string) => db.prepare<[string], string | null>('SELECT derniere_erreur FROM terminaux WHERE serial = ?').pluck().get(serial) ?? null;
  return { url, trust, store, db, logs, post, sales, tillError, forwarder, initial, close };
}

/** Waits for a condition, failing after the deadline with what was last seen. */
async function until<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

describe('trust on the relay side (CONTRACT §6)', () => {
  it('a signed till through a registered relay reaches the server; the relay refuses a wrong signature and a replay at its door', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    expect(shop.initial).toBe('ok');
    const body = vente('SIGNE-1');
    const signature = sign(tillSecret, 'POST', SYNC, body);
    const res = await shop.post(SIGNED, body, signature);
    expect(res.status).toBe(201);
    await until(server.numeros, (n) => n.includes('SIGNE-1'));

    const wrong = await shop.post(SIGNED, vente('SIGNE-2'), sign(newSecret(), 'POST', SYNC, vente('SIGNE-2')));
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ code: 'INVALID_SIGNATURE', error: expect.stringContaining('Signature invalide') });
    const replay = await shop.post(SIGNED, body, signature);
    expect(replay.json.code).toBe('SIGNATURE_REPLAYED');
    expect((await shop.post(SIGNED, vente('SIGNE-3'))).json.code).toBe('SIGNATURE_REQUIRED');
    expect(shop.sales().map((s) => s.numero_facture)).toEqual(['SIGNE-1']);
    // A serial the server does not list for this relay's boutiques: refused as the server would.
    expect((await shop.post(GOMBE, vente('G-1', 8))).status).toBe(404);
    // Reads too: signed, they pass (forwarded under the relay's own signature); unsigned, refused.
    const signedRead = await request(`${shop.url}${ARTICLES}`, { headers: { 'x-device-serial': SIGNED, 'x-signature': sign(tillSecret, 'GET', ARTICLES) } });
    expect(signedRead.statusCode).toBe(200);
    expect(((await signedRead.body.json()) as { boutique_id: number }).boutique_id).toBe(2);
    const unsignedRead = await request(`${shop.url}${ARTICLES}`, { headers: { 'x-device-serial': SIGNED } });
    expect(unsignedRead.statusCode).toBe(401);
    expect(((await unsignedRead.body.json()) as { code: string }).code).toBe('SIGNATURE_REQUIRED');
  });

  it('with the server stopped, the relay still refuses a wrong signature and a replay, and takes a right one', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    await server.close();
    const body = vente('HORS-LIGNE-1');
    const signature = sign(tillSecret, 'POST', SYNC, body);
    expect((await shop.post(SIGNED, body, sign(newSecret(), 'POST', SYNC, body))).json.code).toBe('INVALID_SIGNATURE');
    expect((await shop.post(SIGNED, body, signature)).status).toBe(201);
    expect((await shop.post(SIGNED, body, signature)).json.code).toBe('SIGNATURE_REPLAYED');
    // Signed over the body: the same signature on another body does not pass.
    expect((await shop.post(SIGNED, vente('HORS-LIGNE-2'), sign(tillSecret, 'POST', SYNC, body, Math.floor(Date.now() / 1000) - 1))).json.code).toBe(
      'INVALID_SIGNATURE',
    );
    expect(shop.sales()).toEqual([{ numero_facture: 'HORS-LIGNE-1', statut: 'EN_ATTENTE' }]);
  });

  it('refuses a replay after a restart, from the secrets kept encrypted in its file (mode 0600), server away', async () => {
    const server = await startServer();
    const first = await startRelay(server.url, relay);
    const body = vente('REDEMARRE-1');
    const signature = sign(tillSecret, 'POST', SYNC, body);
    expect((await first.post(SIGNED, body, signature)).status).toBe(201);
    await first.close();
    await server.close();

    // A copy of the file alone does not give the till's secret.
    expect(readFileSync(relayDb).includes(Buffer.from(tillSecret))).toBe(false);
    expect(statSync(relayDb).mode & 0o777).toBe(0o600);

    const second = await startRelay(server.url, relay);
    expect(second.initial).toBe('unreachable');
    expect((await second.post(SIGNED, body, signature)).json.code).toBe('SIGNATURE_REPLAYED');
    expect((await second.post(SIGNED, vente('REDEMARRE-2'), sign(newSecret(), 'POST', SYNC, vente('REDEMARRE-2')))).json.code).toBe('INVALID_SIGNATURE');
    expect((await second.post(SIGNED, vente('REDEMARRE-3'), sign(tillSecret, 'POST', SYNC, vente('REDEMARRE-3')))).status).toBe(201);
  });

  it("a secret rotated on the server reaches the relay at its next contact; the old one is then refused by the relay", async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    const before = shop.trust.version();
    const rotated = newSecret();
    serverCli((db) => db.prepare('UPDATE terminaux SET secret = ? WHERE serial = ?').run(rotated, SIGNED));
    // Any contact: here a legacy till's sale forwarded by the relay.
    expect((await shop.post(LEGACY, vente('CONTACT-1'))).status).toBe(201);
    await until(() => shop.trust.version(), (v) => v !== before);
    const old = await shop.post(SIGNED, vente('ROT-1'), sign(tillSecret, 'POST', SYNC, vente('ROT-1')));
    expect(old.json.code).toBe('INVALID_SIGNATURE');
    expect((await shop.post(SIGNED, vente('ROT-2'), sign(rotated, 'POST', SYNC, vente('ROT-2')))).status).toBe(201);
    await until(server.numeros, (n) => n.includes('ROT-2'));
    expect(server.numeros()).not.toContain('ROT-1');
  });

  it("a relay PC whose clock is an hour behind still signs within the server's window, and judges its tills on the server's time", async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay, { clockSkewMs: -3_600_000 });
    expect(shop.initial).toBe('ok');
    const body = vente('HORLOGE-1');
    expect((await shop.post(SIGNED, body, sign(tillSecret, 'POST', SYNC, body))).status).toBe(201);
    await until(server.numeros, (n) => n.includes('HORLOGE-1'));
  });

  it("a registered relay that never reached the server turns every till away (503, Retry-After, in French) until it has the list; nothing unsigned reaches the server", async () => {
    const server = await startServer();
    const port = server.port;
    await server.close();
    const shop = await startRelay(`http://127.0.0.1:${port}`, relay);
    expect(shop.initial).toBe('unreachable');
    const body = vente('SANS-LISTE-1');
    const unsigned = await request(`${shop.url}${SYNC}`, {
      method: 'POST',
      headers: { 'x-device-serial': SIGNED, 'content-type': 'application/json' },
      body,
    });
    expect(unsigned.statusCode).toBe(503);
    expect(Number(unsigned.headers['retry-after'])).toBeGreaterThan(0);
    const answer = (await unsigned.body.json()) as { code: string; error: string };
    expect(answer.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.error).toContain("le relais n'a pas encore reçu du serveur la liste de ses terminaux");
    expect((await shop.post(SIGNED, body, sign(newSecret(), 'POST', SYNC, body))).status).toBe(503);
    expect((await shop.post(LEGACY, vente('SANS-LISTE-2'))).status).toBe(503);
    expect(shop.sales()).toEqual([]);
    expect(shop.store.getEtat('porte_fermee')).toContain("n'a pas encore reçu");

    // The server comes back: the list arrives, the door applies it.
    const back = await startServer({ port });
    expect(await shop.trust.refresh()).toBe('ok');
    expect((await shop.post(SIGNED, body)).json.code).toBe('SIGNATURE_REQUIRED');
    expect((await shop.post(SIGNED, body, sign(tillSecret, 'POST', SYNC, body))).status).toBe(201);
    await until(back.numeros, (n) => n.includes('SANS-LISTE-1'));
    expect(shop.store.getEtat('porte_fermee')).toBeNull();
  });

  it('a legacy till (no secret) is served as before, through a registered relay and through one without credentials', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    expect((await shop.post(LEGACY, vente('ANCIENNE-1'))).status).toBe(201);
    await until(server.numeros, (n) => n.includes('ANCIENNE-1'));
    const read = await request(`${shop.url}${ARTICLES}`, { headers: { 'x-device-serial': LEGACY } });
    expect(read.statusCode).toBe(200);
    await read.body.dump();
    await shop.close();

    const plain = await startRelay(server.url, null);
    expect((await plain.post(LEGACY, vente('ANCIENNE-2'))).status).toBe(201);
    await until(server.numeros, (n) => n.includes('ANCIENNE-2'));
  });

  it("a relay without credentials: a signing till's sales wait, saying the relay needs --relay-id; none REJETEE", async () => {
    const server = await startServer();
    const plain = await startRelay(server.url, null);
    expect((await plain.post(SIGNED, vente('SANS-ID-1'))).status).toBe(201);
    const reason = await until(() => plain.tillError(SIGNED), (e) => e !== null);
    expect(reason).toContain('--relay-id');
    expect(plain.sales()).toEqual([{ numero_facture: 'SANS-ID-1', statut: 'EN_ATTENTE' }]);
    expect(server.numeros()).toEqual([]);
  });

  it('a till of a boutique the relay no longer serves: its sales wait with the RELAY_FORBIDDEN reason, none REJETEE', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    const before = shop.trust.version();
    // The relay still holds its list when the server moves it to boutique 3.
    serverCli((db) => db.prepare('UPDATE relais_boutiques SET boutique_id = 3 WHERE relais_id = ?').run(relay.id));
    expect((await shop.post(LEGACY, vente('INTERDITE-1'))).status).toBe(201);
    const reason = await until(() => shop.tillError(LEGACY), (e) => e !== null);
    expect(reason).toContain("n'est pas une de celles du relais");
    expect(reason).toContain('RELAY_FORBIDDEN');
    expect(shop.sales()).toEqual([{ numero_facture: 'INTERDITE-1', statut: 'EN_ATTENTE' }]);
    expect(shop.logs.join('')).toContain('RELAY_FORBIDDEN');
    expect(server.numeros()).toEqual([]);
    // The refusal named the list's new version: the relay fetched it, and the till is now refused at its door.
    await until(() => shop.trust.version(), (v) => v !== before);
    expect((await shop.post(LEGACY, vente('INTERDITE-2'))).status).toBe(404);
  });

  it('a disabled relay: sales wait with the RELAY_NOT_FOUND reason for the staff', async () => {
    const server = await startServer();
    const shop = await startRelay(server.url, relay);
    serverCli((db) => db.prepare('UPDATE relais SET actif = 0 WHERE id = ?').run(relay.id));
    expect((await shop.post(SIGNED, vente('DESACTIVE-1'), sign(tillSecret, 'POST', SYNC, vente('DESACTIVE-1')))).status).toBe(201);
    const reason = await until(() => shop.tillError(SIGNED), (e) => e !== null);
    expect(reason).toContain('relais inconnu ou désactivé sur le serveur : vérifiez --relay-id et le secret');
    expect(shop.sales()).toEqual([{ numero_facture: 'DESACTIVE-1', statut: 'EN_ATTENTE' }]);
  });

  it('forwards to an https:// server whose certificate a private authority signed, trusted with --ca', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    // A self-signed certificate of the test's own: its own authority.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    const server = await startServer({ tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    expect(server.url.startsWith('https://')).toBe(true);

    const untrusted = await startRelay(server.url, relay);
    expect(untrusted.initial).toBe('unreachable');
    await untrusted.close();

    const shop = await startRelay(server.url, relay, { ca: readFileSync(cert) });
    expect(shop.initial).toBe('ok');
    expect((await shop.post(SIGNED, vente('TLS-1'), sign(tillSecret, 'POST', SYNC, vente('TLS-1')))).status).toBe(201);
    await until(server.numeros, (n) => n.includes('TLS-1'));
  });
});

describe('the relay CLI with credentials', () => {
  const running: CliProcess[] = [];
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
  });
  const relayCli = (args: string[], env: Record<string, string> = {}) => {
    const r = execFileSyncSafe(RELAY_CLI, [...args, '--db', relayDb], env);
    return r;
  };

  it('starts with --relay-id and --relay-secret-file (newline allowed); the secrets are in no log and no status output', async () => {
    const server = await startServer();
    const file = join(dir, 'relais.secret');
    writeFileSync(file, `${relay.secret}\n`, { mode: 0o600 });
    const daemon = await startCliProcess(RELAY_CLI, [
      'start', '--upstream', server.url, '--db', relayDb, '--host', '127.0.0.1', '--port', '0', '--relay-id', String(relay.id), '--relay-secret-file', file,
    ]);
    running.push(daemon);
    await daemon.waitForLine(/Terminaux des boutiques du relais reçus/);
    const body = vente('CLI-1');
    const res = await request(`${daemon.url}${SYNC}`, {
      method: 'POST',
      headers: { 'x-device-serial': SIGNED, 'x-signature': sign(tillSecret, 'POST', SYNC, body), 'content-type': 'application/json' },
      body,
    });
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    await until(server.numeros, (n) => n.includes('CLI-1'));
    const refused = await request(`${daemon.url}${SYNC}`, {
      method: 'POST',
      headers: { 'x-device-serial': SIGNED, 'x-signature': sign(newSecret(), 'POST', SYNC, body), 'content-type': 'application/json' },
      body,
    });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();

    const status = relayCli(['status']);
    const statusJson = relayCli(['status', '--json']);
    expect(status.code).toBe(0);
    const everything = [daemon.lines.join('\n'), status.stdout, status.stderr, statusJson.stdout, statusJson.stderr].join('\n');
    for (const secret of [relay.secret, tillSecret]) expect(everything).not.toContain(secret);
  });

  it('started with credentials but never having reached the server: says in its log and in status that tills are turned away until it does', async () => {
    const server = await startServer();
    await server.close();
    const file = join(dir, 'relais.secret');
    writeFileSync(file, `${relay.secret}\n`, { mode: 0o600 });
    const daemon = await startCliProcess(RELAY_CLI, [
      'start', '--upstream', server.url, '--db', relayDb, '--host', '127.0.0.1', '--port', '0', '--relay-id', String(relay.id), '--relay-secret-file', file,
    ]);
    running.push(daemon);
    expect(await daemon.waitForLine(/Caisses refusées \(503\)/)).toContain("n'a pas encore reçu du serveur la liste de ses terminaux");
    const res = await request(`${daemon.url}${SYNC}`, { method: 'POST', headers: { 'x-device-serial': LEGACY, 'content-type': 'application/json' }, body: vente('CLI-2') });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    const status = relayCli(['status']);
    const words = status.stdout.replace(/\s+/g, ' '); // lines wrapped to the screen
    expect(words).toContain('Les caisses sont refusées (503)');
    expect(words).toContain("n'a pas encore reçu du serveur la liste de ses terminaux");
  });

  it('refuses a missing, empty or malformed secret file, or a relay id without a secret: a French error, exit 1, the secret never echoed', () => {
    const start = ['start', '--upstream', 'http://127.0.0.1:9', '--port', '0', '--host', '127.0.0.1'];
    const missing = relayCli([...start, '--relay-id', '1', '--relay-secret-file', join(dir, 'absent')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('introuvable');
    const empty = join(dir, 'vide');
    writeFileSync(empty, '\n');
    expect(relayCli([...start, '--relay-id', '1', '--relay-secret-file', empty]).stderr).toContain('est vide');
    const bad = join(dir, 'mauvais');
    writeFileSync(bad, 'pas-un-secret-mais-presque-0123456789abcdefghi\n');
    const malformed = relayCli([...start, '--relay-id', '1', '--relay-secret-file', bad]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('ne contient pas un secret de relais valide');
    expect(malformed.stderr).not.toContain('pas-un-secret');
    const noSecret = relayCli([...start, '--relay-id', '1']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('--relay-secret-file');
    const badEnv = relayCli(start, { VENTESYNC_RELAY_ID: '1', VENTESYNC_RELAY_SECRET: 'trop-court' });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toContain('VENTESYNC_RELAY_SECRET');
    expect(badEnv.stderr).not.toContain('trop-court');
  });
});

function execFileSyncSafe(cli: string, args: string[], env: Record<string, string>) {
  if (Object.keys(env).length === 0) return runCliSync(cli, args);
  try {
    const stdout = execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: 'pipe' });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}
