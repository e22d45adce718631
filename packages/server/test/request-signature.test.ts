import { DEFAULT_HTTP_LIMITS, resolveHttpLimits, SIGNATURE_PRUNE_MARGIN_SECONDS } from '@ventesync/runtime/http';
import { createHash, createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createCatalogueStore } from '../src/catalogue-store.js';
import type { Db } from '../src/db/open-database.js';
import { createRelayRegistry } from '../src/relay-registry.js';
import { checkAnswersAgainstOpenApi } from './openapi-conformance.js';
import { INACTIVE_SERIAL, OTHER_SERIAL, SECOND_SERIAL, SERIAL, SYNC, openTestDb, tempDir, vente } from './helpers.js';

// Signatures computed here from the text of CONTRACT §6 alone, never with the production code.
const NOW = 1_764_000_000;
function sign(secret: string, method: string, url: string, body = '', t = NOW): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

const BODY = JSON.stringify([vente('SIG-1', [{ article_id: 6, quantite: 1, prix_unitaire: 40000 }])]);
const ARTICLES = '/api/v2/simple/articles/';
const HISTORIQUE = '/api/v2/simple/ventes/historique/?limit=5&offset=0';

const open: Array<{ close: () => Promise<void> }> = [];

/** Waits for a condition, failing after a deadline. */
async function until(ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

async function setup(options: { requireSignatures?: boolean; db?: Db; now?: number } = {}) {
  const db = options.db ?? openTestDb();
  let clock = options.now ?? NOW;
  let clockReads = 0;
  const app = await buildApp({
    db,
    logger: false,
    now: () => (clockReads++, new Date(clock * 1000)),
    ...(options.requireSignatures ? { requireSignatures: true } : {}),
  });
  checkAnswersAgainstOpenApi(app);
  const closeable = { close: async () => { await app.close(); if (db.open) db.close(); } };
  open.push(closeable);
  const catalogue = createCatalogueStore(db);
  const relays = createRelayRegistry(db);
  const post = (headers: Record<string, string | string[]>, body = BODY, url = SYNC) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: body });
  const get = (url: string, headers: Record<string, string | string[]>) => app.inject({ method: 'GET', url, headers });
  /** What a refusal must leave untouched: sales, stock, movements and remembered signatures. */
  const state = () =>
    db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM ventes) AS ventes, (SELECT SUM(quantite_stock) FROM articles) AS stock,
                (SELECT COUNT(*) FROM mouvements_stock) AS mouvements, (SELECT COUNT(*) FROM signatures_vues) AS signatures`,
      )
      .get();
  return {
    app,
    db,
    post,
    get,
    state,
    catalogue,
    relays,
    setClock: (seconds: number) => (clock = seconds),
    clockReads: () => clockReads,
    close: closeable.close,
  };
}

describe('signed requests (CONTRACT §6) on the server', () => {
  it('a till with a secret, signing as §6 says, syncs and reads straight to the server', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const res = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'POST', SYNC, BODY) });
    expect(res.statusCode).toBe(201);
    expect(s.db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture = 'SIG-1'").pluck().get()).toBe(1);
    const articles = await s.get(ARTICLES, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES) });
    expect(articles.statusCode).toBe(200);
    const historique = await s.get(HISTORIQUE, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', HISTORIQUE) });
    expect(historique.statusCode).toBe(200);
    const stats = '/api/v2/simple/statistiques/';
    expect((await s.get(stats, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', stats) })).statusCode).toBe(200);
  });

  it('signs the path and query exactly as sent: another query or path is INVALID_SIGNATURE', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const res = await s.get(HISTORIQUE, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', '/api/v2/simple/ventes/historique/?limit=5') });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('INVALID_SIGNATURE');
    const noSlash = '/api/v2/simple/articles';
    const other = await s.get(noSlash, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES) });
    expect(other.json().code).toBe('INVALID_SIGNATURE');
  });

  it('every route under /api/ needs the signature, reads included: SIGNATURE_REQUIRED in French, nothing written', async () => {
    const s = await setup();
    s.catalogue.issueTerminalSecret(SERIAL, false);
    const before = s.state();
    for (const res of [
      await s.post({ 'x-device-serial': SERIAL }),
      await s.get(ARTICLES, { 'x-device-serial': SERIAL }),
      await s.get(HISTORIQUE, { 'x-device-serial': SERIAL }),
    ]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'SIGNATURE_REQUIRED', error: expect.stringContaining('Signature requise') });
    }
    expect(s.state()).toEqual(before);
  });

  it('a signature made with another key, or over another body, is INVALID_SIGNATURE, nothing written', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const before = s.state();
    const wrongKey = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign('A'.repeat(43), 'POST', SYNC, BODY) });
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.json().code).toBe('INVALID_SIGNATURE');
    const otherBody = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'POST', SYNC, '[]') });
    expect(otherBody.json().code).toBe('INVALID_SIGNATURE');
    const otherMethod = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', SYNC, BODY) });
    expect(otherMethod.json().code).toBe('INVALID_SIGNATURE');
    expect(s.state()).toEqual(before);
  });

  it('checks the signature before the body: broken JSON with a bad signature is 401, with a good one 400', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const broken = '[{"numero_facture": ';
    const bad = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign('B'.repeat(43), 'POST', SYNC, broken) }, broken);
    expect(bad.json().code).toBe('INVALID_SIGNATURE');
    const good = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'POST', SYNC, broken) }, broken);
    expect(good.json().code).toBe('INVALID_JSON');
  });

  it('checks the serial before the signature: no serial 400, unknown or inactive terminal 404', async () => {
    const s = await setup({ requireSignatures: true });
    expect((await s.post({ 'x-signature': 'nonsense' })).json().code).toBe('MISSING_SERIAL');
    expect((await s.post({ 'x-device-serial': 'inconnu', 'x-signature': 'nonsense' })).json().code).toBe('TERMINAL_NOT_FOUND');
    expect((await s.post({ 'x-device-serial': INACTIVE_SERIAL, 'x-signature': 'nonsense' })).json().code).toBe('TERMINAL_NOT_FOUND');
  });

  it('a t more than 300 s from the server clock, either way, is SIGNATURE_EXPIRED; 300 s is still accepted', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const before = s.state();
    for (const t of [NOW - 301, NOW + 301, NOW - 86_400 * 365, NOW + 86_400 * 365 * 50]) {
      const res = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'POST', SYNC, BODY, t) });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'SIGNATURE_EXPIRED', error: expect.stringContaining('expirée') });
    }
    expect(s.state()).toEqual(before);
    const edge = await s.get(ARTICLES, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES, '', NOW - 300) });
    expect(edge.statusCode).toBe(200);
  });

  it('the same signature twice within the window is SIGNATURE_REPLAYED, the sale written once', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const headers = { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'POST', SYNC, BODY) };
    expect((await s.post(headers)).statusCode).toBe(201);
    const before = s.state();
    const replay = await s.post(headers);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ code: 'SIGNATURE_REPLAYED', error: expect.stringContaining('déjà utilisée') });
    expect(s.state()).toEqual(before);
    const read = { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES) };
    expect((await s.get(ARTICLES, read)).statusCode).toBe(200);
    expect((await s.get(ARTICLES, read)).json().code).toBe('SIGNATURE_REPLAYED');
  });

  it('a replay is refused after a server restart too (the same database file reopened)', async () => {
    const tmp = tempDir();
    open.push({ close: async () => tmp.cleanup() });
    const file = join(tmp.dir, 'replay.db');
    const first = await setup({ db: openTestDb(file) });
    const { secret } = first.catalogue.issueTerminalSecret(SERIAL, false);
    const headers = { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES) };
    expect((await first.get(ARTICLES, headers)).statusCode).toBe(200);
    await first.close();
    const { openDatabase } = await import('../src/db/open-database.js');
    const second = await setup({ db: openDatabase(file), now: NOW + 200 });
    expect((await second.get(ARTICLES, headers)).json().code).toBe('SIGNATURE_REPLAYED');
  });

  it('a replay whose body is held back past the window after its t was checked is still SIGNATURE_REPLAYED (raw socket, stalled body)', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const signature = sign(secret, 'POST', SYNC, BODY);
    expect((await s.post({ 'x-device-serial': SERIAL, 'x-signature': signature })).statusCode).toBe(201);
    const url = new URL(await s.app.listen({ host: '127.0.0.1', port: 0 }));

    // 299 s later the replay's headers arrive: its t is within the window.
    s.setClock(NOW + 299);
    const socket = connect(Number(url.port), '127.0.0.1');
    open.push({ close: async () => void socket.destroy() });
    let answer = '';
    socket.on('data', (chunk) => (answer += String(chunk)));
    const readsBefore = s.clockReads();
    socket.write(
      `POST ${SYNC} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n` +
        `X-Device-Serial: ${SERIAL}\r\nX-Signature: ${signature}\r\nConnection: close\r\n\r\n`,
    );
    await until(() => s.clockReads() > readsBefore); // the headers were checked
    // The body comes 7 s later: past the window for the original's t.
    s.setClock(NOW + 306);
    socket.write(BODY);
    await until(() => answer.includes('\r\n\r\n{') && answer.trimEnd().endsWith('}'));
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer).toContain('SIGNATURE_REPLAYED');
    expect(s.db.prepare("SELECT COUNT(*) FROM ventes WHERE numero_facture = 'SIG-1'").pluck().get()).toBe(1);
  });

  it('remembers a v1 for longer than the window by a margin above the longest a request may take to arrive', () => {
    expect(SIGNATURE_PRUNE_MARGIN_SECONDS * 1000).toBeGreaterThanOrEqual(DEFAULT_HTTP_LIMITS.requestTimeoutMs);
    expect(SIGNATURE_PRUNE_MARGIN_SECONDS * 1000).toBeGreaterThanOrEqual(DEFAULT_HTTP_LIMITS.headersTimeoutMs);
    // The server and the relay listen with these defaults (no override outside tests).
    expect(resolveHttpLimits().requestTimeoutMs).toBe(DEFAULT_HTTP_LIMITS.requestTimeoutMs);
  });

  it('forgets signatures older than the window (their t is refused as expired anyway)', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    expect((await s.get(ARTICLES, { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES) })).statusCode).toBe(200);
    s.setClock(NOW + 1000);
    const later = { 'x-device-serial': SERIAL, 'x-signature': sign(secret, 'GET', ARTICLES, '', NOW + 1000) };
    expect((await s.get(ARTICLES, later)).statusCode).toBe(200);
    expect(s.db.prepare('SELECT t FROM signatures_vues').pluck().all()).toEqual([NOW + 1000]);
  });

  it('a rotated secret refuses the old one at once and accepts the new one', async () => {
    const s = await setup();
    const old = s.catalogue.issueTerminalSecret(SERIAL, false).secret;
    const fresh = s.catalogue.issueTerminalSecret(SERIAL, true).secret;
    const before = s.state();
    const res = await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(old, 'POST', SYNC, BODY) });
    expect(res.json().code).toBe('INVALID_SIGNATURE');
    expect(s.state()).toEqual(before);
    expect((await s.post({ 'x-device-serial': SERIAL, 'x-signature': sign(fresh, 'POST', SYNC, BODY) })).statusCode).toBe(201);
  });

  it('a till without a secret is served as the guide says, signature or not', async () => {
    const s = await setup();
    s.catalogue.issueTerminalSecret(SECOND_SERIAL, false);
    expect((await s.post({ 'x-device-serial': SERIAL })).statusCode).toBe(201);
    expect((await s.get(ARTICLES, { 'x-device-serial': SERIAL })).statusCode).toBe(200);
  });

  it('--require-signatures: a till without a secret gets SIGNATURE_REQUIRED, nothing written; a signing till is served', async () => {
    const s = await setup({ requireSignatures: true });
    const { secret } = s.catalogue.issueTerminalSecret(SECOND_SERIAL, false);
    const before = s.state();
    const res = await s.post({ 'x-device-serial': SERIAL });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ code: 'SIGNATURE_REQUIRED', error: expect.stringContaining(`terminal secret ${SERIAL}`) });
    expect((await s.get(ARTICLES, { 'x-device-serial': SERIAL })).json().code).toBe('SIGNATURE_REQUIRED');
    expect(s.state()).toEqual(before);
    expect((await s.post({ 'x-device-serial': SECOND_SERIAL, 'x-signature': sign(secret, 'POST', SYNC, BODY) })).statusCode).toBe(201);
  });

  const V1 = 'a'.repeat(64);
  it.each([
    ['missing v1', `t=${NOW}`],
    ['missing t', `v1=${V1}`],
    ['empty', ''],
    ['no equals sign', 'signature'],
    ['bad hex', `t=${NOW},v1=${'z'.repeat(64)}`],
    ['wrong hex length', `t=${NOW},v1=${'a'.repeat(63)}`],
    ['a huge v1', `t=${NOW},v1=${'a'.repeat(7000)}`],
    ['a huge t', `t=${'9'.repeat(300)},v1=${V1}`],
    ['a repeated key', `t=${NOW},v1=${V1},v1=${V1}`],
    ['a non-numeric t', `t=maintenant,v1=${V1}`],
    ['a fractional t', `t=${NOW}.5,v1=${V1}`],
    ['several X-Signature headers', [`t=${NOW},v1=${V1}`, `t=${NOW},v1=${V1}`]],
  ])('a malformed header (%s) is 401 INVALID_SIGNATURE, never 500, nothing written', async (_name, header) => {
    const s = await setup();
    s.catalogue.issueTerminalSecret(SERIAL, false);
    const before = s.state();
    const res = await s.post({ 'x-device-serial': SERIAL, 'x-signature': header });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('INVALID_SIGNATURE');
    expect(res.json().error).toMatch(/Signature invalide/);
    expect(s.state()).toEqual(before);
  });

  it('a t in the far future or past, well-formed, is SIGNATURE_EXPIRED', async () => {
    const s = await setup();
    s.catalogue.issueTerminalSecret(SERIAL, false);
    for (const t of ['0', '9999999999']) {
      expect((await s.post({ 'x-device-serial': SERIAL, 'x-signature': `t=${t},v1=${V1}` })).json().code).toBe('SIGNATURE_EXPIRED');
    }
  });

  it('never echoes the secret or the signature in an answer', async () => {
    const s = await setup();
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const header = sign(secret, 'POST', SYNC, '[]');
    const res = await s.post({ 'x-device-serial': SERIAL, 'x-signature': header });
    expect(res.body).not.toContain(secret);
    expect(res.body).not.toContain(header.slice(15));
  });
});

describe('registered relays (CONTRACT §6) on the server', () => {
  it('a relay signing with its own secret is accepted for an active terminal of its boutiques', async () => {
    const s = await setup({ requireSignatures: true });
    const tillSecret = s.catalogue.issueTerminalSecret(SERIAL, false).secret;
    const relay = s.relays.add('Relais Ma Boutique', [2]);
    const res = await s.post({ 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL, 'x-signature': sign(relay.secret, 'POST', SYNC, BODY) });
    expect(res.statusCode).toBe(201);
    // The till's own secret is not what the server checks through a relay.
    const viaTillKey = await s.get(ARTICLES, { 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL, 'x-signature': sign(tillSecret, 'GET', ARTICLES) });
    expect(viaTillKey.json().code).toBe('INVALID_SIGNATURE');
  });

  it('a terminal of another boutique is 403 RELAY_FORBIDDEN, nothing written', async () => {
    const s = await setup();
    const relay = s.relays.add('Relais Ma Boutique', [2]);
    const before = s.state();
    const body = JSON.stringify([vente('SIG-G', [{ article_id: 8, quantite: 1, prix_unitaire: 1000 }])]);
    const res = await s.post({ 'x-relay-id': String(relay.id), 'x-device-serial': OTHER_SERIAL, 'x-signature': sign(relay.secret, 'POST', SYNC, body) }, body);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ code: 'RELAY_FORBIDDEN', error: expect.stringContaining('ne dessert pas') });
    expect(s.state()).toEqual(before);
  });

  it('an inactive terminal of its own boutique is 404 TERMINAL_NOT_FOUND', async () => {
    const s = await setup();
    const relay = s.relays.add('Relais', [2]);
    const res = await s.get(ARTICLES, { 'x-relay-id': String(relay.id), 'x-device-serial': INACTIVE_SERIAL, 'x-signature': sign(relay.secret, 'GET', ARTICLES) });
    expect(res.json().code).toBe('TERMINAL_NOT_FOUND');
  });

  it.each([['an unknown id', '999'], ['not a number', 'relais-1'], ['a huge id', '9'.repeat(500)]])(
    'a relay id that is %s is 401 RELAY_NOT_FOUND, nothing written',
    async (_name, id) => {
      const s = await setup();
      const before = s.state();
      const res = await s.post({ 'x-relay-id': id, 'x-device-serial': SERIAL, 'x-signature': sign('x'.repeat(43), 'POST', SYNC, BODY) });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('RELAY_NOT_FOUND');
      expect(s.state()).toEqual(before);
    },
  );

  it('a disabled relay is 401 RELAY_NOT_FOUND; a rotated relay secret refuses the old one', async () => {
    const s = await setup();
    const relay = s.relays.add('Relais', [2]);
    const fresh = s.relays.rotate(relay.id).secret;
    const old = await s.get(ARTICLES, { 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL, 'x-signature': sign(relay.secret, 'GET', ARTICLES) });
    expect(old.json().code).toBe('INVALID_SIGNATURE');
    s.relays.disable(relay.id);
    const before = s.state();
    const res = await s.get(ARTICLES, { 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL, 'x-signature': sign(fresh, 'GET', ARTICLES) });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('RELAY_NOT_FOUND');
    expect(s.state()).toEqual(before);
  });

  it('a relay that does not sign is SIGNATURE_REQUIRED', async () => {
    const s = await setup();
    const relay = s.relays.add('Relais', [2]);
    expect((await s.get(ARTICLES, { 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL })).json().code).toBe('SIGNATURE_REQUIRED');
  });
});
