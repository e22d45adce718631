import { createHash, createHmac } from 'node:crypto';
import { join } from 'node:path';
import { MAX_REPORT_AHEAD_MS } from '@ventesync/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../../../test-support/prometheus-text.js';
import { buildApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayRegistry } from '../src/relay-registry.js';
import { createRelayReports, SILENT_AFTER_MS, STALE_PENDING_AFTER_SECONDS } from '../src/relay-reports.js';
import { runCli } from './child-server.js';
import { checkAnswersAgainstOpenApi } from './openapi-conformance.js';
import { openTestDb, tempDir } from './helpers.js';

// Signatures computed here from the text of CONTRACT §6 alone, never with the production code.
const NOW = 1_764_000_000;
function sign(secret: string, method: string, url: string, body = '', t = NOW): string {
  const bodyHash = createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const v1 = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${method}.${url}.${bodyHash}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

const ETAT = '/api/v2/simple/relais/etat/';
const TOKEN = 'jeton-de-test-metrics-assez-long';

const REPORT = {
  version: '0.1.0',
  ventes: { en_attente: 12, rejetees: 1, abandonnees: 0, synchronisees: 2048 },
  attente_plus_ancienne_s: 754,
  dernier_succes: new Date((NOW - 30) * 1000).toISOString(),
  derniere_reconciliation: null,
};

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

/** `conformance`: every answer checked against /openapi.json (/metrics is outside it). */
async function setup(conformance = true) {
  const db = openTestDb();
  let clock = NOW * 1000;
  const app = await buildApp({ db, logger: false, now: () => new Date(clock), metricsToken: TOKEN });
  if (conformance) checkAnswersAgainstOpenApi(app);
  open.push(async () => {
    await app.close();
    if (db.open) db.close();
  });
  const relays = createRelayRegistry(db);
  const relay = relays.add('Relais Ma Boutique', [2]);
  let t = NOW;
  /** A report signed as the relay would (a fresh t each time: a v1 is good once). */
  const report = (body: unknown, headers: Record<string, string> = {}, secret = relay.secret) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    t += 1;
    return app.inject({
      method: 'POST',
      url: ETAT,
      headers: { 'content-type': 'application/json', 'x-relay-id': String(relay.id), 'x-signature': sign(secret, 'POST', ETAT, text, t), ...headers },
      payload: text,
    });
  };
  const stored = () => db.prepare('SELECT relais_id, recu_le, rapport FROM relais_rapports').all() as Array<{ relais_id: number; recu_le: string; rapport: string }>;
  const metrics = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    return parsePrometheusText(res.body);
  };
  return { app, db, relays, relay, report, stored, metrics, advance: (ms: number) => void (clock += ms) };
}

describe('relay reports: every shop’s relay seen from the centre', () => {
  it('a registered relay’s signed report is kept as its last one: the next replaces it, one row per relay', async () => {
    const s = await setup();
    const first = await s.report(REPORT);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ success: true, relais_id: s.relay.id, recu_le: new Date(NOW * 1000).toISOString() });
    s.advance(60_000);
    const next = { ...REPORT, ventes: { ...REPORT.ventes, en_attente: 0 }, attente_plus_ancienne_s: null };
    expect((await s.report(next)).statusCode).toBe(200);
    const rows = s.stored();
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.rapport)).toEqual(next);
    expect(rows[0]!.recu_le).toBe(new Date(NOW * 1000 + 60_000).toISOString());
  });

  it('a report with absurd numbers, dates or fields is refused 400 INVALID_FORMAT, and the last good one stays', async () => {
    const s = await setup();
    await s.report(REPORT);
    const before = s.stored();
    const absurd: Array<[string, unknown]> = [
      ['negative count', { ...REPORT, ventes: { ...REPORT.ventes, en_attente: -1 } }],
      ['huge count', { ...REPORT, ventes: { ...REPORT.ventes, synchronisees: 1e15 } }],
      ['fractional count', { ...REPORT, ventes: { ...REPORT.ventes, rejetees: 1.5 } }],
      ['negative age', { ...REPORT, attente_plus_ancienne_s: -5 }],
      ['age of centuries', { ...REPORT, attente_plus_ancienne_s: 1e12 }],
      ['far-future success', { ...REPORT, dernier_succes: '2999-01-01T00:00:00Z' }],
      ['success two days ahead', { ...REPORT, dernier_succes: new Date((NOW + 2 * 86_400) * 1000).toISOString() }],
      ['not a date', { ...REPORT, dernier_succes: 'hier' }],
      ['unknown field', { ...REPORT, secret: 'x' }],
      ['missing backlog', { ...REPORT, ventes: undefined }],
      ['odd version', { ...REPORT, version: '<script>' }],
      ['far-future reconciliation', { ...REPORT, derniere_reconciliation: { jour: '2999-01-01', le: '2999-01-01T03:00:00Z', accord: true, numeros_differents: 0, non_verifies: 0 } }],
      ['not an object', [1, 2, 3]],
    ];
    for (const [name, body] of absurd) {
      const res = await s.report(body);
      expect(res.statusCode, name).toBe(400);
      expect(res.json().code, name).toBe('INVALID_FORMAT');
    }
    expect(s.stored()).toEqual(before);
  });

  it('an inconsistent report (waiting sales without their age, a reconciled day after tomorrow, a date minutes ahead) is refused 400, nothing stored', async () => {
    const s = await setup();
    await s.report(REPORT);
    const before = s.stored();
    const at = (seconds: number) => new Date((NOW + seconds) * 1000).toISOString();
    const day = (days: number) => at(days * 86_400).slice(0, 10);
    const reconciled = (jour: string) => ({ ...REPORT, derniere_reconciliation: { jour, le: at(-60), accord: true, numeros_differents: 0, non_verifies: 0 } });
    const inconsistent: Array<[string, unknown, RegExp]> = [
      ['waiting without age', { ...REPORT, ventes: { ...REPORT.ventes, en_attente: 3 }, attente_plus_ancienne_s: null }, /attente_plus_ancienne_s : absente alors que 3 vente/],
      ['day after tomorrow', reconciled(day(2)), /derniere_reconciliation\.jour : .* est après demain/],
      ['success 23 h ahead', { ...REPORT, dernier_succes: at(23 * 3600) }, /dernier_succes : .* dans le futur \(plus de 5 min/],
      ['success just past the tolerance', { ...REPORT, dernier_succes: new Date((NOW + 1) * 1000 + MAX_REPORT_AHEAD_MS).toISOString() }, /dernier_succes/],
    ];
    for (const [name, body, said] of inconsistent) {
      const res = await s.report(body);
      expect(res.statusCode, name).toBe(400);
      expect(res.json().code, name).toBe('INVALID_FORMAT');
      expect(res.json().error, name).toMatch(said);
    }
    expect(s.stored()).toEqual(before);
    // Within the tolerance, tomorrow's day, no sale waiting without an age: taken.
    expect((await s.report({ ...reconciled(day(1)), dernier_succes: at(MAX_REPORT_AHEAD_MS / 1000 - 1) })).statusCode).toBe(200);
    expect((await s.report({ ...REPORT, ventes: { ...REPORT.ventes, en_attente: 0 }, attente_plus_ancienne_s: null })).statusCode).toBe(200);
  });

  it('a disabled relay, a wrong signature, or a till without a relay id: 401, nothing stored', async () => {
    const s = await setup();
    expect((await s.report(REPORT, {}, 'un-autre-secret-qui-ne-signe-pas-ce-relais-0')).json().code).toBe('INVALID_SIGNATURE');
    expect((await s.report(REPORT, { 'x-relay-id': '' })).json().code).toBe('RELAY_NOT_FOUND');
    const till = await s.app.inject({ method: 'POST', url: ETAT, headers: { 'content-type': 'application/json', 'x-device-serial': '0a1badae951f8473' }, payload: JSON.stringify(REPORT) });
    expect(till.statusCode).toBe(401);
    s.relays.disable(s.relay.id);
    const disabled = await s.report(REPORT);
    expect(disabled.statusCode).toBe(401);
    expect(disabled.json().code).toBe('RELAY_NOT_FOUND');
    expect(s.stored()).toEqual([]);
  });

  it('/metrics carries each active relay’s last report, labelled by relay id', async () => {
    const s = await setup(false);
    await s.report(REPORT);
    let families = await s.metrics();
    const relay = String(s.relay.id);
    expect(sampleValue(families, 'ventesync_relay_report_backlog_sales', { relay, state: 'en_attente' })).toBe(12);
    expect(sampleValue(families, 'ventesync_relay_report_backlog_sales', { relay, state: 'synchronisees' })).toBe(2048);
    expect(sampleValue(families, 'ventesync_relay_report_oldest_pending_age_seconds', { relay })).toBe(754);
    expect(sampleValue(families, 'ventesync_relay_report_timestamp_seconds', { relay })).toBe(NOW);
    expect(sampleValue(families, 'ventesync_relay_report_last_success_timestamp_seconds', { relay })).toBe(NOW - 30);
    expect(sampleValue(families, 'ventesync_relay_report_silent', { relay })).toBe(0);
    s.advance(SILENT_AFTER_MS + 60_000);
    families = await s.metrics();
    expect(sampleValue(families, 'ventesync_relay_report_silent', { relay })).toBe(1);
    s.relays.disable(s.relay.id);
    s.advance(60_000);
    families = await s.metrics();
    expect(sampleValue(families, 'ventesync_relay_report_silent', { relay })).toBeUndefined();
  });
});

describe('ventesync-server relais list', () => {
  it('shows each relay’s last report, flags the silent and the stale ones, in a table or JSON; never a secret', () => {
    const tmp = tempDir();
    open.push(async () => tmp.cleanup());
    const file = join(tmp.dir, 'relais.db');
    const db = openTestDb(file);
    const registry = createRelayRegistry(db);
    const fresh = registry.add('Relais Gombe', [3]);
    const silent = registry.add('Relais Ma Boutique', [2]);
    const stale = registry.add('Relais Limete', [2]);
    const never = registry.add('Relais Neuf', [2]);
    const reports = createRelayReports(db);
    const now = Date.now();
    reports.save(fresh.id, REPORT, new Date(now - 60_000));
    reports.save(silent.id, REPORT, new Date(now - SILENT_AFTER_MS - 60_000));
    reports.save(stale.id, { ...REPORT, attente_plus_ancienne_s: STALE_PENDING_AFTER_SECONDS + 3900 }, new Date(now - 30_000));
    db.close();

    const json = JSON.parse(runCli(['relais', 'list', '--json', '--db', file]).stdout) as Array<Record<string, unknown>>;
    expect(json.map((r) => [r.id, r.silencieux, r.en_retard])).toEqual([
      [fresh.id, false, false],
      [silent.id, true, false],
      [stale.id, false, true],
      [never.id, true, false],
    ]);
    expect(json[0]).toMatchObject({ nom: 'Relais Gombe', boutiques: [3], actif: true, dernier_rapport: { ...REPORT, recu_le: new Date(now - 60_000).toISOString() } });
    expect(json[3]!.dernier_rapport).toBeNull();

    const table = runCli(['relais', 'list', '--db', file]);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+NOM\s+BOUTIQUES\s+RAPPORT\s+ATTENTE\s+DEPUIS\s+REJET\.\s+ALERTE$/);
    const line = (id: number) => lines.find((l) => l.startsWith(`${id} `))!;
    const local = new Date(now - 60_000);
    const hhmm = `${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}`;
    expect(line(fresh.id)).toMatch(new RegExp(`${hhmm}\\s+12\\s+12 min\\s+1\\s+ok$`));
    expect(line(silent.id)).toMatch(/SILENCE$/);
    expect(line(stale.id)).toMatch(/2 h 05\s+1\s+RETARD$/);
    expect(line(never.id)).toMatch(/aucun\s+SILENCE$/);
    expect(table.stdout).toContain('SILENCE : aucun rapport depuis 10 min');
    expect(table.stdout).toContain('RETARD : une vente attend sur le relais depuis plus de 1 h 00');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    for (const secret of [fresh.secret, silent.secret, stale.secret, never.secret]) {
      expect(table.stdout + JSON.stringify(json)).not.toContain(secret);
    }
  });

  it('a relay disabled is listed as such, never flagged', () => {
    const tmp = tempDir();
    open.push(async () => tmp.cleanup());
    const file = join(tmp.dir, 'relais.db');
    const db = openDatabase(file);
    db.exec("INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique')");
    const registry = createRelayRegistry(db);
    const r = registry.add('Ancien relais', [2]);
    registry.disable(r.id);
    db.close();
    expect(JSON.parse(runCli(['relais', 'list', '--json', '--db', file]).stdout)).toEqual([
      { id: r.id, nom: 'Ancien relais', boutiques: [2], actif: false, dernier_rapport: null, silencieux: false, en_retard: false },
    ]);
    expect(runCli(['relais', 'list', '--db', file]).stdout).toMatch(/aucun\s+désactivé\n/);
  });
});
