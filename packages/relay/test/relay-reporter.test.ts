import { prepareDatabase } from '@ventesync/runtime/sqlite';
import { buildApp } from '@ventesync/server';
import { MIGRATIONS as SERVER_MIGRATIONS } from '@ventesync/server/schema';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, startCliProcess } from '../../../test-support/cli-process.js';
import { openDatabase } from '../src/db/open-database.js';
import { RELAY_VERSION } from '../src/relay-metrics.js';
import { LAST_RECONCILIATION_KEY } from '../src/reconcile.js';
import { buildRelayReport, createRelayReporter } from '../src/relay-reporter.js';
import { createRelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;
let relayDb: string;
const cleanup: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-relay-report-'));
  relayDb = join(dir, 'relay.db');
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

/** A relay file holding: A waiting since 08:00, B waiting since 09:00, C rejected, D synchronised. */
function heldSales() {
  const db = openDatabase(relayDb);
  const store = createRelayStore(db);
  const intake = createSaleIntake(store);
  const take = (numero: string, at: string) =>
    intake.take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_facture: numero, lignes: [{ article_id: 6, prix_unitaire: 10 }] }], new Date(at));
  take('A', '2026-11-25T08:00:00Z');
  take('B', '2026-11-25T09:00:00Z');
  take('C', '2026-11-25T09:30:00Z');
  take('D', '2026-11-25T09:40:00Z');
  store.markRejected(store.byNumero('C')[0]!.id, 'ARTICLE_NOT_FOUND', 'absent');
  store.markSynced(store.byNumero('D')[0]!.id, '10.00', new Date('2026-11-25T09:41:00Z'));
  store.setEtat('derniere_sync', '2026-11-25T09:41:00.000Z');
  return { db, store };
}

async function until<T>(read: () => T, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} : toujours pas après ${timeoutMs} ms (${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the relay’s report of its state', () => {
  it('counts its sales by state, the oldest wait, the last success and the last reconciliation', () => {
    const { db, store } = heldSales();
    store.setEtat(
      LAST_RECONCILIATION_KEY,
      JSON.stringify({ jour: '2026-11-24', le: '2026-11-25T02:00:00.000Z', accord: false, numeros_differents: 2, non_verifies: 0, terminaux_en_desaccord: ['caisse-1'], automatique: true }),
    );
    const report = buildRelayReport(store, new Date('2026-11-25T10:00:00Z'), '1.2.3');
    expect(report).toEqual({
      version: '1.2.3',
      ventes: { en_attente: 2, rejetees: 1, abandonnees: 0, synchronisees: 1 },
      attente_plus_ancienne_s: 7200,
      dernier_succes: '2026-11-25T09:41:00.000Z',
      derniere_reconciliation: { jour: '2026-11-24', le: '2026-11-25T02:00:00.000Z', accord: false, numeros_differents: 2, non_verifies: 0 },
    });
    db.close();
  });

  it('says nothing waits, never succeeded, no reconciliation (or one it cannot read), and a clock set back is no negative wait', () => {
    const db = openDatabase(relayDb);
    const store = createRelayStore(db);
    store.setEtat(LAST_RECONCILIATION_KEY, '{pas du json');
    expect(buildRelayReport(store, new Date(), RELAY_VERSION)).toMatchObject({
      ventes: { en_attente: 0, rejetees: 0, abandonnees: 0, synchronisees: 0 },
      attente_plus_ancienne_s: null,
      dernier_succes: null,
      derniere_reconciliation: null,
    });
    db.close();
    const held = heldSales();
    expect(buildRelayReport(held.store, new Date('2026-11-25T07:00:00Z'), RELAY_VERSION).attente_plus_ancienne_s).toBe(0);
    held.db.close();
  });

  it('a refusal is logged once while it lasts; the server away is not a warning', async () => {
    const db = openDatabase(relayDb);
    const store = createRelayStore(db);
    const warnings: string[] = [];
    const answers = [
      { kind: 'response' as const, status: 401, body: { code: 'RELAY_NOT_FOUND' }, retryAfterMs: null },
      { kind: 'response' as const, status: 401, body: { code: 'RELAY_NOT_FOUND' }, retryAfterMs: null },
      { kind: 'network-error' as const, reason: 'Serveur injoignable (ECONNREFUSED)' },
      { kind: 'response' as const, status: 200, body: { success: true }, retryAfterMs: null },
    ];
    const sent: string[] = [];
    const reporter = createRelayReporter({
      store,
      send: async (body) => (sent.push(body), answers.shift()!),
      logger: { warn: (_o, msg) => void warnings.push(msg), debug: () => {} },
      version: RELAY_VERSION,
    });
    expect([await reporter.reportOnce(), await reporter.reportOnce(), await reporter.reportOnce(), await reporter.reportOnce()]).toEqual([
      'refused',
      'refused',
      'unreachable',
      'sent',
    ]);
    expect(warnings).toEqual(["Rapport d'état refusé par le serveur (RELAY_NOT_FOUND)"]);
    expect(JSON.parse(sent[0]!)).toMatchObject({ version: RELAY_VERSION, ventes: { en_attente: 0 } });
    db.close();
  });
});

describe('a registered relay daemon reports to a real server', () => {
  let daemon: CliProcess | undefined;

  it('sends its state over its signed link as soon as it starts: the server keeps it as the relay’s last report', async () => {
    const serverDb = join(dir, 'server.db');
    const db = new Database(serverDb);
    prepareDatabase(db, SERVER_MIGRATIONS);
    db.exec("INSERT INTO boutiques (id, nom) VALUES (2, 'Ma Boutique')");
    const secret = randomBytes(32).toString('base64url');
    const { id } = db.prepare("INSERT INTO relais (nom, secret) VALUES ('Relais Ma Boutique', ?) RETURNING id").get(secret) as { id: number };
    db.prepare('INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES (?, 2)').run(id);
    const app = await buildApp({ db, logger: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(async () => {
      await app.close();
      db.close();
    });

    // A rejected sale stays on the relay until someone decides: the report must carry it.
    const held = heldSales();
    held.db.exec("DELETE FROM ventes WHERE statut = 'EN_ATTENTE'");
    held.db.close();

    const secretFile = join(dir, 'relais.secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    daemon = await startCliProcess(RELAY_CLI, [
      'start', '--upstream', url, '--db', relayDb, '--host', '127.0.0.1', '--port', '0', '--relay-id', String(id), '--relay-secret-file', secretFile,
    ]);
    cleanup.push(() => daemon?.stop());

    const readReport = db.prepare<[number], { rapport: string }>('SELECT rapport FROM relais_rapports WHERE relais_id = ?');
    const row = await until(() => readReport.get(id), (r) => r !== undefined, 'rapport du relais reçu par le serveur');
    expect(JSON.parse(row!.rapport)).toEqual({
      version: RELAY_VERSION,
      ventes: { en_attente: 0, rejetees: 1, abandonnees: 0, synchronisees: 1 },
      attente_plus_ancienne_s: null,
      dernier_succes: '2026-11-25T09:41:00.000Z',
      derniere_reconciliation: null,
    });
    expect(daemon.lines.join('\n')).not.toContain(secret);
  });
});
