import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import {
  AUTO_RECONCILED_DAY_KEY,
  createDailyReconciliation,
  createReconcileBooks,
  exitStatusOf,
  LAST_RECONCILIATION_KEY,
  reconcile,
  type ReconciliationReport,
  type TillReconciliation,
  tillsOf,
  yesterdayLocal,
} from '../src/reconcile.js';
import { relayUpstream, runReconcileCommand } from '../src/reconcile-command.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { renderStatus, statusReport } from '../src/status-report.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type RealServer, SERIAL, startRealServer, TILLS } from './real-server.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** The built CLI in its own process; this one keeps answering as the server meanwhile (no spawnSync). */
function relayCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_CLI, ...args, '--db', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const JOUR = '2025-10-29';

let dir: string;
let file: string;
let server: RealServer;
let db: ReturnType<typeof openDatabase>;
let store: RelayStore;
let agent: ReturnType<typeof createAgent>;
let logs: string[];
const logger = {
  info: (_o: object, m: string) => void logs.push(m),
  warn: (_o: object, m: string) => void logs.push(m),
  error: (_o: object, m: string) => void logs.push(m),
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-reconcile-'));
  file = join(dir, 'relay.db');
  server = await startRealServer();
  db = openDatabase(file);
  store = createRelayStore(db);
  store.setEtat('serveur_url', server.url);
  agent = createAgent();
  logs = [];
});
afterEach(async () => {
  db.close();
  await agent.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const upstream = () => createUpstream(server.url, agent);
/** A till's sale as it reaches the relay, at `date` (the till's own clock), of `prix` on article 6. */
const sale = (numero: string, date: string, prix = 10) => ({ numero_facture: numero, date_vente: date, lignes: [{ article_id: 6, prix_unitaire: prix }] });
const take = (items: unknown[], serial = SERIAL) => createSaleIntake(store).take({ serial, boutique_id: 2 }, items, new Date('2025-10-30T08:00:00Z'));
/** Everything waiting goes to the real server, as the daemon would send it. */
async function forward(): Promise<void> {
  const forwarder = createForwarder({ store, upstream: upstream(), config: DEFAULT_FORWARDER_CONFIG, logger });
  await forwarder.runOnce();
  expect(store.countStatut('EN_ATTENTE')).toBe(0);
}
const run = (jour = JOUR): Promise<ReconciliationReport> => reconcile(upstream(), createReconcileBooks(db), tillsOf(store), jour, new Date('2025-10-30T08:00:00Z'));
const till = (report: ReconciliationReport, serial = SERIAL): TillReconciliation => report.terminaux.find((t) => t.serial === serial)!;
const removeOnServer = (numero: string) => {
  server.db.prepare('DELETE FROM lignes_vente WHERE vente_id = (SELECT id FROM ventes WHERE numero_facture = ?)').run(numero);
  server.db.prepare('DELETE FROM ventes WHERE numero_facture = ?').run(numero);
};
/** The command as a person runs it, in this process: its exit status and what it printed. */
async function command(args: { jour?: string; json?: boolean; upstream?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runReconcileCommand(
    { db: file, jour: args.jour ?? JOUR, json: args.json ?? false, upstream: args.upstream },
    { out: (t) => void out.push(t), err: (t) => void err.push(t) },
  );
  // Lines wrap at 80 columns: the text is read with its spaces and line breaks as one space.
  const text = out.join('\n');
  return { status, out: args.json ? text : text.replace(/\s+/g, ' '), err: err.join('\n').replace(/\s+/g, ' ') };
}

describe('reconcile: relay and server agree', () => {
  it('sums past 2^53 centimes stay exact, as the server counts them: the day agrees to the centime, and a 1-centime sale missing is a gap of exactly -1', async () => {
    // Two sales of nearly 50,000 billion each: the day passes 2^53 centimes (9,007,199,254,740,992).
    take([
      { numero_facture: 'GROS-1', date_vente: '2025-10-29T08:00:00Z', lignes: [{ article_id: 6, quantite: 5, prix_unitaire: '9999999999999.99' }] },
      { numero_facture: 'GROS-2', date_vente: '2025-10-29T09:00:00Z', lignes: [{ article_id: 6, quantite: 5, prix_unitaire: '9999999999999.98' }] },
      { numero_facture: 'PETIT-1', date_vente: '2025-10-29T10:00:00Z', lignes: [{ article_id: 6, quantite: 1, prix_unitaire: '0.01' }] },
    ]);
    await forward();
    const total = 4999999999999995n + 4999999999999990n + 1n;
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(till(await run())).toMatchObject({ statut: 'ACCORD', relais: { nombre_ventes: 3, montant_centimes: total }, serveur: { montant_centimes: total } });
    const agreed = await command();
    expect(agreed.out).toContain("D'ACCORD au centime : 3 vente(s), 99999999999999.86 des deux côtés");

    removeOnServer('PETIT-1');
    const report = till(await run());
    expect(report).toMatchObject({ statut: 'DESACCORD', absentes_du_serveur: ['PETIT-1'], ecart_centimes: -1, serveur: { montant_centimes: total - 1n } });
    // Scripts read the exact digits (a JSON number, as written, whatever the reader's precision).
    const json = await command({ json: true });
    expect(json.out).toContain(`"montant_centimes": ${total}`);
    expect(json.out).toContain(`"montant_centimes": ${total - 1n}`);
    expect(json.out).toContain('"ecart_centimes": -1');
    expect((await command()).out).toContain('écart (serveur − relais) : -1 centimes (-0.01)');
  });

  it('after a normal day, every till agrees to the centime and the command exits 0', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), sale('V-2', '2025-10-29T12:00:00Z', 20.5), sale('V-HIER', '2025-10-28T12:00:00Z')]);
    take([sale('B-1', '2025-10-29T09:00:00Z', 7)], TILLS[1]);
    await forward();

    const report = await run();
    expect(report).toMatchObject({ jour: JOUR, accord: true, numeros_differents: 0, non_verifies: 0 });
    expect(till(report)).toMatchObject({
      statut: 'ACCORD',
      fuseau: 'UTC',
      relais: { nombre_ventes: 2, montant_centimes: 3050 },
      serveur: { nombre_ventes: 2, montant_centimes: 3050 },
      ecart_centimes: 0,
      en_attente: [],
    });
    expect(till(report, TILLS[1])).toMatchObject({ statut: 'ACCORD', relais: { nombre_ventes: 1, montant_centimes: 700 } });

    const { status, out } = await command();
    expect(status).toBe(0);
    expect(out).toContain("D'ACCORD au centime : 2 vente(s), 30.50 des deux côtés");
    expect(out).toContain("Résultat : tout est d'accord.");
  });

  it('agrees on the fingerprint alone, one question per till, also when UTF-8 and UTF-16 orders differ (Ａ U+FF21, 😀 U+1F600)', async () => {
    take([sale('\u{1F600}', '2025-10-29T08:00:00Z'), sale('\uFF21', '2025-10-29T09:00:00Z'), sale('Z', '2025-10-29T10:00:00Z')]);
    await forward();
    const asked: string[] = [];
    const counting = { get: (path: string, serial: string, deadlineMs?: number) => (asked.push(path), upstream().get(path, serial, deadlineMs)) };
    const report = await reconcile(counting, createReconcileBooks(db), tillsOf(store), JOUR, new Date());
    expect(till(report)).toMatchObject({ statut: 'ACCORD', relais: { nombre_ventes: 3 } });
    expect(asked).toEqual([`/api/v2/simple/reconciliation/?jour=${JOUR}`]);
  });

  it('a sale on the relay not yet synced is pending, said so, and not a disagreement', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z')]);
    await forward();
    take([sale('V-ATTEND', '2025-10-29T18:00:00Z')]);

    const report = await run();
    expect(till(report)).toMatchObject({ statut: 'ACCORD', en_attente: ['V-ATTEND'], relais: { nombre_ventes: 1 } });
    const { status, out } = await command();
    expect(status).toBe(0);
    expect(out).toContain("1 vente(s) de ce jour encore en attente d'envoi, pas comptées (pas un désaccord) : V-ATTEND");
  });

  it('a sale waiting on the relay that the server already has (its answer was lost) is pending too', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z')]);
    await forward();
    take([sale('V-PERDUE', '2025-10-29T09:00:00Z')]);
    // Sent and created, the answer never read: the relay still holds it as waiting.
    const sent = await upstream().postSync(SERIAL, `[${store.byNumero('V-PERDUE')[0]!.contenu}]`);
    expect(sent.kind === 'response' && sent.status).toBe(201);
    expect(store.byNumero('V-PERDUE')[0]!.statut).toBe('EN_ATTENTE');

    expect(till(await run())).toMatchObject({ statut: 'ACCORD', en_attente: ['V-PERDUE'], absentes_du_relais: [], relais: { nombre_ventes: 1 } });
  });
});

describe('reconcile: returns, which tills send to the server directly', () => {
  it('a sale with a return still agrees: the server counts it net, the relay sent it whole; the returns are said', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), { numero_facture: 'V-2', date_vente: '2025-10-29T09:00:00Z', lignes: [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }] }]);
    await forward();
    const res = await fetch(`${server.url}/api/v2/simple/ventes/retours/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      body: JSON.stringify([{ numero_retour: 'RET-1', numero_facture: 'V-2', lignes: [{ article_id: 7, quantite: 1 }] }]),
    });
    expect(res.status).toBe(201);

    const t = till(await run());
    expect(t).toMatchObject({
      statut: 'ACCORD',
      relais: { nombre_ventes: 2, montant_centimes: 5001000 },
      serveur: { nombre_ventes: 2, montant_centimes: 2501000, retours_centimes: 2500000 },
    });
    const { status, out } = await command();
    expect(status).toBe(0);
    expect(out).toContain('retours enregistrés au serveur sur ces ventes : 25000.00 (net 25010.00)');

    // A sale gone from the server is still named, returns or not.
    removeOnServer('V-1');
    expect(till(await run())).toMatchObject({ statut: 'DESACCORD', absentes_du_serveur: ['V-1'], montants_differents: [], ecart_centimes: -1000 });
  });
});

describe('reconcile: returns the relay forwarded', () => {
  it('agrees after a day with a return sent through the relay; names the return deleted from the server by hand, with the gap; exit 1', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), { numero_facture: 'V-2', date_vente: '2025-10-29T09:00:00Z', lignes: [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }] }]);
    createRetourIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_retour: 'RET-R', numero_facture: 'V-2', lignes: [{ article_id: 7, quantite: 1 }] }], new Date('2025-10-30T08:00:00Z'));
    await forward();
    expect(store.retours.byNumero('RET-R')[0]!.statut).toBe('SYNCHRONISEE');

    expect(till(await run())).toMatchObject({
      statut: 'ACCORD',
      relais: { nombre_ventes: 2, montant_centimes: 5001000, retours_centimes: 2500000 },
      serveur: { montant_centimes: 2501000, retours_centimes: 2500000 },
      retours_absents_du_serveur: [],
    });
    expect((await command()).status).toBe(0);

    server.db.prepare("DELETE FROM lignes_retour WHERE retour_id = (SELECT id FROM retours WHERE numero_retour = 'RET-R')").run();
    server.db.prepare("DELETE FROM retours WHERE numero_retour = 'RET-R'").run();
    const report = await run();
    expect(report).toMatchObject({ accord: false, numeros_differents: 1 });
    expect(till(report)).toMatchObject({
      statut: 'DESACCORD',
      absentes_du_serveur: [],
      montants_differents: [],
      retours_absents_du_serveur: ['RET-R'],
      // The server holds the sale whole: 25000.00 more than the relay's books, net.
      ecart_centimes: 2500000,
    });
    const { status, out } = await command();
    expect(status).toBe(1);
    expect(out).toContain('retours transmis absents du serveur (1) : RET-R');
    expect(out).toContain('écart (serveur − relais) : +2500000 centimes (25000.00)');
  });

  it('names a return discarded on the relay that the server holds all the same (answer lost mid-send), with the gap; exit 1', async () => {
    take([{ numero_facture: 'V-2', date_vente: '2025-10-29T09:00:00Z', lignes: [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }] }]);
    createRetourIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_retour: 'RET-K', numero_facture: 'V-2', lignes: [{ article_id: 7, quantite: 1 }] }], new Date('2025-10-30T08:00:00Z'));
    await forward();
    // The server took it; the relay's books say a person discarded it (its answer never written).
    db.prepare("UPDATE retours SET statut = 'ABANDONNEE', decision = 'client parti', montant_serveur = NULL WHERE numero_retour = 'RET-K'").run();
    const report = await run();
    expect(report).toMatchObject({ accord: false, numeros_differents: 1 });
    expect(till(report)).toMatchObject({
      statut: 'DESACCORD',
      absentes_du_serveur: [],
      absentes_du_relais: [],
      retours_absents_du_serveur: [],
      retours_abandonnes_au_serveur: ['RET-K'],
      // The server holds 25000.00 less, net, than the relay's books.
      ecart_centimes: -2500000,
    });
    const { status, out } = await command();
    expect(status).toBe(1);
    expect(out).toContain('retours abandonnés sur le relais mais enregistrés au serveur (1) : RET-K');
  });

  it('names a sale discarded on the relay that the server holds all the same as absent from the relay', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), sale('V-K', '2025-10-29T09:00:00Z', 20)]);
    await forward();
    db.prepare("UPDATE ventes SET statut = 'ABANDONNEE', decision = 'annulée' WHERE numero_facture = 'V-K'").run();
    expect(till(await run())).toMatchObject({ statut: 'DESACCORD', absentes_du_relais: ['V-K'], absentes_du_serveur: [], ecart_centimes: 2000 });
  });

  it('a return a till sent to the server itself (not through the relay) is no disagreement', async () => {
    take([{ numero_facture: 'V-2', date_vente: '2025-10-29T09:00:00Z', lignes: [{ article_id: 7, quantite: 2, prix_unitaire: 25000 }] }]);
    createRetourIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [{ numero_retour: 'RET-R', numero_facture: 'V-2', lignes: [{ article_id: 7, quantite: 1 }] }], new Date('2025-10-30T08:00:00Z'));
    await forward();
    const res = await fetch(`${server.url}/api/v2/simple/ventes/retours/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
      body: JSON.stringify([{ numero_retour: 'RET-DIRECT', numero_facture: 'V-2', lignes: [{ article_id: 7, quantite: 1 }] }]),
    });
    expect(res.status).toBe(201);
    expect(till(await run())).toMatchObject({ statut: 'ACCORD', retours_absents_du_serveur: [], serveur: { retours_centimes: 5000000 } });
  });
});

describe('reconcile: relay and server disagree', () => {
  it('names the exact numero after one sale is removed from the server’s database by hand, with the gap in centimes; exit 1', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), sale('V-2', '2025-10-29T09:00:00Z', 40000), sale('V-3', '2025-10-29T10:00:00Z', 5.25)]);
    await forward();
    removeOnServer('V-2');

    const report = await run();
    expect(report).toMatchObject({ accord: false, numeros_differents: 1 });
    expect(till(report)).toMatchObject({
      statut: 'DESACCORD',
      absentes_du_serveur: ['V-2'],
      absentes_du_relais: [],
      montants_differents: [],
      ecart_centimes: -4000000,
      serveur: { nombre_ventes: 2, montant_centimes: 1525 },
      relais: { nombre_ventes: 3, montant_centimes: 4001525 },
    });

    const { status, out } = await command();
    expect(status).toBe(1);
    expect(out).toContain('absentes du serveur (1) : V-2');
    expect(out).toContain('écart (serveur − relais) : -4000000 centimes (-40000.00)');
    expect(out).toContain('Résultat : DÉSACCORD, 1 numéro(s) diffèrent.');
  });

  it('names a sale the server has and the relay does not (sent to the server directly), and an amount changed on the server', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z', 10), sale('V-2', '2025-10-29T09:00:00Z', 20)]);
    await forward();
    const direct = await upstream().postSync(SERIAL, JSON.stringify([sale('DIRECT-1', '2025-10-29T11:00:00Z', 3)]));
    expect(direct.kind === 'response' && direct.status).toBe(201);
    server.db.prepare("UPDATE ventes SET montant_total = 2100 WHERE numero_facture = 'V-2'").run();

    const t = till(await run());
    expect(t).toMatchObject({
      statut: 'DESACCORD',
      absentes_du_serveur: [],
      absentes_du_relais: ['DIRECT-1'],
      montants_differents: [{ numero_facture: 'V-2', relais_centimes: 2000, serveur_centimes: 2100 }],
      ecart_centimes: 400,
    });
    const { out } = await command();
    expect(out).toContain('absentes du relais (1) : DIRECT-1');
    expect(out).toContain('montant différent : V-2 : relais 20.00, serveur 21.00');
  });

  it('--json gives the whole report, lists included', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z'), sale('V-2', '2025-10-29T09:00:00Z')]);
    await forward();
    removeOnServer('V-1');
    const { status, out } = await command({ json: true });
    expect(status).toBe(1);
    const report = JSON.parse(out) as ReconciliationReport;
    expect(report.terminaux[0]).toMatchObject({ serial: SERIAL, statut: 'DESACCORD', absentes_du_serveur: ['V-1'], ecart_centimes: -1000 });
  });
});

describe('reconcile: the boutique’s local day', () => {
  // 22:30 and 23:30 UTC on the 28th: 23:30 / 00:30 in Kinshasa (+1), 00:30 / 01:30 in Lubumbashi (+2).
  beforeEach(async () => {
    take([
      sale('AVANT', '2025-10-28T22:30:00Z', 1),
      // The till's own offset: the same instant as 23:30 UTC.
      sale('APRES', '2025-10-29T00:30:00+01:00', 2),
      sale('FIN', '2025-10-29T21:59:59Z', 4),
      sale('TARD', '2025-10-29T22:30:00Z', 8),
    ]);
    await forward();
  });
  const setFuseau = (fuseau: string) => server.db.prepare('UPDATE boutiques SET fuseau = ? WHERE id = 2').run(fuseau);

  it('in a +1 zone the relay compares the same local day as the server: agreement, then the exact numero', async () => {
    setFuseau('Africa/Kinshasa');
    expect(till(await run())).toMatchObject({ statut: 'ACCORD', fuseau: 'Africa/Kinshasa', relais: { nombre_ventes: 3, montant_centimes: 1400 } });
    expect(till(await run('2025-10-28'))).toMatchObject({ statut: 'ACCORD', relais: { nombre_ventes: 1, montant_centimes: 100 } });
    removeOnServer('APRES');
    expect(till(await run())).toMatchObject({ statut: 'DESACCORD', absentes_du_serveur: ['APRES'], ecart_centimes: -200 });
    expect(till(await run('2025-10-28'))).toMatchObject({ statut: 'ACCORD' });
  });

  it('in a +2 zone both late sales of the 28th UTC are on the 29th, and 22:30 UTC on the 29th is already the 30th', async () => {
    setFuseau('Africa/Lubumbashi');
    expect(till(await run())).toMatchObject({ statut: 'ACCORD', fuseau: 'Africa/Lubumbashi', relais: { nombre_ventes: 3, montant_centimes: 700 } });
    expect(till(await run('2025-10-30'))).toMatchObject({ statut: 'ACCORD', relais: { nombre_ventes: 1, montant_centimes: 800 } });
    removeOnServer('AVANT');
    expect(till(await run())).toMatchObject({ statut: 'DESACCORD', absentes_du_serveur: ['AVANT'], ecart_centimes: -100 });
  });
});

describe('reconcile: the server cannot be asked', () => {
  it('says which tills were not checked and exits 2, distinct from a disagreement', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z')]);
    await forward();
    const closed = server.url;
    await server.close();
    server = await startRealServer();
    const { status, out, err } = await command({ upstream: closed });
    expect(status).toBe(2);
    expect(out).toMatch(/NON VÉRIFIÉ : serveur injoignable \(Serveur injoignable \(ECONNREFUSED/);
    expect(err).toContain(`le serveur ${closed} n'a pas pu être interrogé pour 1 terminal(aux)`);
  });

  it('refuses a day that is not a real day, before asking anything', async () => {
    const { status, err } = await command({ jour: '2026-02-30' });
    expect(status).toBe(1);
    expect(err).toContain('--jour : jour réel AAAA-MM-JJ attendu');
  });
});

describe('reconcile as a registered relay (CONTRACT §6)', () => {
  it('signs its questions with the relay’s credentials, as the daemon does: a till with a secret is reconciled', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z')]);
    await forward();
    const relaySecret = 'R'.repeat(43);
    server.db.prepare("INSERT INTO relais (id, nom, secret, actif) VALUES (1, 'Relais Ma Boutique', ?, 1)").run(relaySecret);
    server.db.prepare('INSERT INTO relais_boutiques (relais_id, boutique_id) VALUES (1, 2)').run();
    server.db.prepare('UPDATE terminaux SET secret = ? WHERE serial = ?').run('T'.repeat(43), SERIAL);

    const unsigned = await command();
    expect(unsigned.status).toBe(2);
    expect(unsigned.out).toContain('NON VÉRIFIÉ : le serveur a refusé la demande (SIGNATURE_REQUIRED');

    const secretFile = join(dir, 'relais.secret');
    writeFileSync(secretFile, `${relaySecret}\n`);
    const out: string[] = [];
    const status = await runReconcileCommand({ db: file, jour: JOUR, json: false }, { out: (t) => void out.push(t), err: (t) => void out.push(t) }, relayUpstream({ relayId: '1', relaySecretFile: secretFile }));
    expect(out.join('\n')).toContain("D'ACCORD au centime : 1 vente(s), 10.00 des deux côtés");
    expect(status).toBe(0);
  });
});

describe('a till pointed at the relay', () => {
  it('asks its reconciliation through the relay as from the server, and gets the same answer', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z')]);
    await forward();
    const up = upstream();
    const forwarder = createForwarder({ store, upstream: up, config: DEFAULT_FORWARDER_CONFIG, logger });
    const app = await buildRelayApp({ store, upstream: up, forwarder, directory: createTerminalDirectory(store, up), logger: false });
    try {
      const url = `/api/v2/simple/reconciliation/?jour=${JOUR}&detail=1`;
      const viaRelay = await app.inject({ method: 'GET', url, headers: { 'x-device-serial': SERIAL } });
      expect(viaRelay.statusCode).toBe(200);
      const direct = await up.get(url, SERIAL);
      expect(direct.kind === 'response' && direct.body).toEqual(viaRelay.json());
      expect(viaRelay.json()).toMatchObject({ nombre_ventes: 1, ventes: [{ numero_facture: 'V-1', montant_total: '10.00' }] });
    } finally {
      await app.close();
    }
  });
});

describe('reconcile from the command line, and in status', () => {
  it('exits 0, then 1 once a sale is gone from the server; status shows the last result', async () => {
    take([sale('V-1', '2025-10-29T08:00:00Z'), sale('V-2', '2025-10-29T09:00:00Z')]);
    await forward();
    const ok = await relayCli('reconcile', '--jour', JOUR);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("D'ACCORD au centime");
    expect((await relayCli('status')).stdout.replace(/\s+/g, ' ')).toMatch(/Rapprochement : 2025-10-29 : d'accord avec le serveur \(fait /);

    removeOnServer('V-2');
    const ko = await relayCli('reconcile', '--jour', JOUR);
    expect(ko.code).toBe(1);
    expect(ko.stdout).toContain('absentes du serveur (1) : V-2');
    const status = (await relayCli('status')).stdout.replace(/\s+/g, ' ');
    expect(status).toMatch(/Rapprochement : 2025-10-29 : DÉSACCORD avec le serveur, 1 numéro\(s\) diffèrent/);
    expect(status).toContain('reconcile --jour 2025-10-29');
    const json = JSON.parse((await relayCli('status', '--json')).stdout);
    expect(json.rapprochement).toMatchObject({ jour: JOUR, accord: false, numeros_differents: 1, terminaux_en_desaccord: [SERIAL], automatique: false });
  });

  it('a bad --jour is refused with exit 1', async () => {
    const r = await relayCli('reconcile', '--jour', '29/10/2025');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--jour : jour réel AAAA-MM-JJ attendu');
  });

  it('--jour given twice is refused with exit 1, not run on the last one', async () => {
    const r = await relayCli('reconcile', '--jour', '2025-10-28', '--jour', JOUR);
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toContain("Erreur : l'option « --jour <AAAA-MM-JJ> » : donnée deux fois : une seule valeur attendue");
  });
});

describe('reconcile: the default day and the exit status', () => {
  it('yesterday is the day before on this machine’s calendar, across months and years', () => {
    expect(yesterdayLocal(new Date(2026, 0, 1, 10))).toBe('2025-12-31');
    expect(yesterdayLocal(new Date(2024, 2, 1, 0, 30))).toBe('2024-02-29');
    expect(yesterdayLocal(new Date(2025, 9, 30, 23, 59))).toBe('2025-10-29');
  });

  it('exits 1 on any disagreement, else 2 when a till could not be checked, else 0', () => {
    const base = { serial: 's', terminal: null, boutique: null };
    const agreed = { ...base, statut: 'ACCORD' as const, fuseau: 'UTC', serveur: { nombre_ventes: 0, montant_centimes: 0, retours_centimes: 0 }, relais: { nombre_ventes: 0, montant_centimes: 0, retours_centimes: 0 }, en_attente: [], absentes_du_serveur: [], absentes_du_relais: [], montants_differents: [], retours_absents_du_serveur: [], retours_abandonnes_au_serveur: [], ecart_centimes: 0 };
    const report = (terminaux: TillReconciliation[]): ReconciliationReport => ({
      jour: JOUR,
      le: '',
      accord: terminaux.every((t) => t.statut === 'ACCORD'),
      numeros_differents: 0,
      non_verifies: terminaux.filter((t) => t.statut === 'INJOIGNABLE' || t.statut === 'REFUSE').length,
      terminaux,
    });
    const away = { ...base, statut: 'INJOIGNABLE' as const, raison: 'ECONNREFUSED' };
    expect(exitStatusOf(report([agreed]))).toBe(0);
    expect(exitStatusOf(report([]))).toBe(0);
    expect(exitStatusOf(report([agreed, away]))).toBe(2);
    expect(exitStatusOf(report([{ ...agreed, statut: 'DESACCORD' }, away]))).toBe(1);
  });
});

describe('the daemon reconciles the day before, once a day', () => {
  /** A local date-time on this machine's calendar. */
  const local = (y: number, m: number, d: number, h: number) => new Date(y, m - 1, d, h, 0, 0);

  it('waits for the hour, runs for the day before once, keeps the verdict for status, and retries a day the server missed', async () => {
    take([sale('V-1', new Date(2025, 9, 29, 12).toISOString())]);
    await forward();
    let now = local(2025, 10, 30, 1);
    const daily = createDailyReconciliation({ store, books: createReconcileBooks(db), upstream: upstream(), logger, now: () => now });

    expect(await daily.runIfDue()).toBeNull();
    expect(store.getEtat(LAST_RECONCILIATION_KEY)).toBeNull();

    now = local(2025, 10, 30, 3);
    const report = await daily.runIfDue();
    expect(report).toMatchObject({ jour: JOUR, accord: true });
    expect(JSON.parse(store.getEtat(LAST_RECONCILIATION_KEY)!)).toMatchObject({ jour: JOUR, accord: true, automatique: true });
    expect(store.getEtat(AUTO_RECONCILED_DAY_KEY)).toBe(JOUR);
    expect(logs).toContain(`Rapprochement du ${JOUR} : d'accord avec le serveur`);
    // Done for the day: not again.
    expect(await daily.runIfDue()).toBeNull();

    // The next day, with the server away: tried, said, and tried again at the next look.
    const away = createDailyReconciliation({
      store,
      books: createReconcileBooks(db),
      upstream: { get: async () => ({ kind: 'network-error', reason: 'Serveur injoignable (ECONNREFUSED)' }) },
      logger,
      now: () => local(2025, 10, 31, 3),
    });
    expect(await away.runIfDue()).toMatchObject({ jour: '2025-10-30', non_verifies: 1 });
    expect(store.getEtat(AUTO_RECONCILED_DAY_KEY)).toBe(JOUR);
    expect(await away.runIfDue()).toMatchObject({ jour: '2025-10-30', non_verifies: 1 });
    const commands = { relay: 'ventesync-relay', server: 'ventesync-server' };
    const stopped = { running: false as const, url: null, reason: 'arrêté' };
    const lines = renderStatus(statusReport(store, stopped, commands), { now: local(2025, 10, 31, 4), utc: false }, commands).replace(/\s+/g, ' ');
    expect(lines).toMatch(/Rapprochement : 2025-10-30 : 1 terminal\(aux\) non vérifié\(s\), serveur injoignable \(fait .* par le relais\)/);
  });
});
