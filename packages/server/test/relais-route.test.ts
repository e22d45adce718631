import { createHash, createHmac } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createCatalogueStore } from '../src/catalogue-store.js';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayRegistry } from '../src/relay-registry.js';
import { checkAnswersAgainstOpenApi } from './openapi-conformance.js';
import { INACTIVE_SERIAL, OTHER_SERIAL, SECOND_SERIAL, SERIAL, SYNC, openTestDb, tempDir } from './helpers.js';

// Signatures computed here from the text of CONTRACT §6 alone, never with the production code.
const NOW = 1_764_000_000;
function sign(secret: string, method: string, url: string, body = '', t = NOW): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

const TERMINAUX = '/api/v2/simple/relais/terminaux/';
const VERSION = 'x-relais-terminaux-version';

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

async function setup(options: { requireSignatures?: boolean; file?: string } = {}) {
  const db = options.file ? openTestDb(options.file) : openTestDb();
  const app = await buildApp({ db, logger: false, now: () => new Date(NOW * 1000), ...(options.requireSignatures ? { requireSignatures: true } : {}) });
  checkAnswersAgainstOpenApi(app);
  open.push({ close: async () => { await app.close(); if (db.open) db.close(); } });
  const catalogue = createCatalogueStore(db);
  const relays = createRelayRegistry(db);
  const get = (headers: Record<string, string>, url = TERMINAUX) => app.inject({ method: 'GET', url, headers });
  return { app, db, catalogue, relays, get };
}

describe('the relays-only endpoint (CONTRACT §6)', () => {
  it("gives a registered relay its boutiques' terminals with their secrets, null for a till that does not sign", async () => {
    const s = await setup({ requireSignatures: true });
    const { secret } = s.catalogue.issueTerminalSecret(SERIAL, false);
    const relay = s.relays.add('Relais Ma Boutique', [2]);
    const res = await s.get({ 'x-relay-id': String(relay.id), 'x-signature': sign(relay.secret, 'GET', TERMINAUX) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, relais_id: relay.id, signatures_requises: true });
    expect(body.version).toBe(res.headers[VERSION]);
    expect(res.headers['cache-control']).toBe('no-store');
    const bySerial = new Map(body.terminaux.map((t: { serial: string }) => [t.serial, t]));
    expect(bySerial.get(SERIAL)).toEqual({ serial: SERIAL, boutique_id: 2, actif: true, secret });
    expect(bySerial.get(SECOND_SERIAL)).toEqual({ serial: SECOND_SERIAL, boutique_id: 2, actif: true, secret: null });
    expect(bySerial.get(INACTIVE_SERIAL)).toMatchObject({ actif: false });
    // Another boutique's till is not this relay's to know.
    expect(bySerial.has(OTHER_SERIAL)).toBe(false);
  });

  it('refuses everyone else with the §6 codes: no relay id, unknown or disabled relay, no or wrong signature, replay', async () => {
    const s = await setup();
    s.catalogue.issueTerminalSecret(SERIAL, false);
    const relay = s.relays.add('Relais Ma Boutique', [2]);
    const id = String(relay.id);
    const noRelay = await s.get({ 'x-device-serial': SERIAL, 'x-signature': sign(relay.secret, 'GET', TERMINAUX) });
    expect(noRelay.statusCode).toBe(401);
    expect(noRelay.json().code).toBe('RELAY_NOT_FOUND');
    expect((await s.get({ 'x-relay-id': '999', 'x-signature': sign(relay.secret, 'GET', TERMINAUX) })).json().code).toBe('RELAY_NOT_FOUND');
    expect((await s.get({ 'x-relay-id': id })).json().code).toBe('SIGNATURE_REQUIRED');
    const wrong = await s.get({ 'x-relay-id': id, 'x-signature': sign('x'.repeat(43), 'GET', TERMINAUX) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('INVALID_SIGNATURE');
    expect(wrong.headers[VERSION]).toBeUndefined();
    expect(JSON.stringify(wrong.json())).not.toContain(relay.secret);
    const headers = { 'x-relay-id': id, 'x-signature': sign(relay.secret, 'GET', TERMINAUX) };
    expect((await s.get(headers)).statusCode).toBe(200);
    expect((await s.get(headers)).json().code).toBe('SIGNATURE_REPLAYED');
    s.relays.disable(relay.id);
    const disabled = await s.get({ 'x-relay-id': id, 'x-signature': sign(relay.secret, 'GET', TERMINAUX, '', NOW + 1) });
    expect(disabled.json().code).toBe('RELAY_NOT_FOUND');
  });

  it("every answer to a relay-signed request carries the list's version, which moves when a secret is rotated from another process", async () => {
    const tmp = tempDir();
    open.push({ close: async () => tmp.cleanup() });
    const file = join(tmp.dir, 'relais.db');
    const s = await setup({ file });
    const relay = s.relays.add('Relais Ma Boutique', [2]);
    const readVia = (t: number) =>
      s.get({ 'x-relay-id': String(relay.id), 'x-device-serial': SERIAL, 'x-signature': sign(relay.secret, 'GET', '/api/v2/simple/articles/', '', t) }, '/api/v2/simple/articles/');
    const first = await readVia(NOW);
    expect(first.statusCode).toBe(200);
    const v1 = first.headers[VERSION];
    expect(typeof v1).toBe('string');
    expect((await readVia(NOW + 1)).headers[VERSION]).toBe(v1);
    // The CLI is another process: another connection to the same file.
    const cli = openDatabase(file);
    createCatalogueStore(cli).issueTerminalSecret(SECOND_SERIAL, false);
    cli.close();
    const after = await readVia(NOW + 2);
    expect(after.headers[VERSION]).not.toBe(v1);
    const list = await s.get({ 'x-relay-id': String(relay.id), 'x-signature': sign(relay.secret, 'GET', TERMINAUX, '', NOW + 3) });
    expect(list.json().version).toBe(after.headers[VERSION]);
    // A refusal for a till of another boutique tells the version too: the relay learns its list changed.
    const forbidden = await s.get(
      { 'x-relay-id': String(relay.id), 'x-device-serial': OTHER_SERIAL, 'x-signature': sign(relay.secret, 'GET', '/api/v2/simple/articles/', '', NOW + 4) },
      '/api/v2/simple/articles/',
    );
    expect(forbidden.json().code).toBe('RELAY_FORBIDDEN');
    expect(forbidden.headers[VERSION]).toBe(after.headers[VERSION]);
    const forbiddenPost = await s.app.inject({
      method: 'POST',
      url: SYNC,
      headers: { 'x-relay-id': String(relay.id), 'x-device-serial': OTHER_SERIAL, 'content-type': 'application/json', 'x-signature': sign(relay.secret, 'POST', SYNC, '[]', NOW + 5) },
      payload: '[]',
    });
    expect(forbiddenPost.json().code).toBe('RELAY_FORBIDDEN');
    expect(forbiddenPost.headers[VERSION]).toBe(after.headers[VERSION]);
    // A till's own request is told nothing of relays.
    const till = await s.app.inject({ method: 'POST', url: SYNC, headers: { 'x-device-serial': SERIAL, 'content-type': 'application/json' }, payload: '[]' });
    expect(till.headers[VERSION]).toBeUndefined();
  });
});
