import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliSync, startCliProcess } from '../../../test-support/cli-process.js';
import { openDatabase } from '../src/db/open-database.js';
import { CLAIM_STALE_MS, createRelayStore } from '../src/relay-store.js';
import { MAX_ANSWER_DEADLINE_MS } from '../src/upstream.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { createRetourIntake } from '../src/retour-intake.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;
let db: string;
const relay = (...args: string[]) => runCliSync(RELAY_CLI, [...args, '--db', db]);
/** As staff run it from the repository (`pnpm relay …`), in a shop one hour east of UTC. */
function relayAs(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [RELAY_CLI, ...args, '--db', db], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const widest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));
const withStore = <T>(run: (store: ReturnType<typeof createRelayStore>) => T): T => {
  const database = openDatabase(db);
  try {
    return run(createRelayStore(database));
  } finally {
    database.close();
  }
};
const json = (...args: string[]) => JSON.parse(relay(...args, '--json').stdout);

/** A relay file as the daemon would leave it: one sale of each state, two tills. */
function prepare() {
  const database = openDatabase(db);
  const store = createRelayStore(database);
  const intake = createSaleIntake(store);
  intake.take({ serial: 'caisse-1', boutique_id: 2 }, ['A', 'B', 'C', 'D'].map((n) => ({ numero_facture: n, lignes: [{ article_id: 6, prix_unitaire: 10 }] })), new Date('2025-10-01T08:00:00Z'));
  intake.take({ serial: 'caisse-2', boutique_id: 2 }, [{ numero_facture: 'E', lignes: [{ article_id: 6, prix_unitaire: 5 }] }], new Date('2025-10-02T08:00:00Z'));
  const [a, b, c] = store.byNumero('A').concat(store.byNumero('B'), store.byNumero('C'));
  store.markSynced(a!.id, '10.00', new Date('2025-10-01T09:00:00Z'));
  store.markRejected(b!.id, 'ARTICLE_NOT_FOUND', "Ligne 1 : l'article 6 n'existe pas dans la boutique Ma Boutique");
  store.markRejected(c!.id, 'DUPLICATE', 'Vente C existe déjà, ignorée (numéro réutilisé pour une autre vente)');
  store.recordTerminalError('caisse-2', 'Serveur injoignable (ECONNREFUSED)', new Date('2025-10-02T09:00:00Z'));
  store.saveTerminal('caisse-3', 'INCONNU', { boutique_id: 2, boutique_nom: null, terminal_nom: null }, new Date('2025-10-02T09:00:00Z'));
  database.close();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-relay-cli-'));
  db = join(dir, 'relay.db');
  prepare();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ventesync-relay CLI, with the daemon stopped', () => {
  it('--help lists the commands with examples; each command has its own example', () => {
    const help = runCliSync(RELAY_CLI, ['--help']).stdout;
    for (const c of ['start', 'status', 'pending', 'rejected', 'show', 'retry', 'discard', 'sync', 'purge']) expect(help).toContain(c);
    for (const c of ['start', 'status', 'pending', 'rejected', 'show', 'retry', 'discard', 'sync', 'purge']) {
      const out = runCliSync(RELAY_CLI, [c, '--help']).stdout;
      expect(out, c).toContain('Exemple');
      expect(out, c).toContain('Utilisation :');
    }
  });

  it('status counts sales by state per till, with the oldest waiting sale and the last error', () => {
    const status = json('status');
    expect(status.relais.en_marche).toBe(false);
    expect(status.totaux).toEqual({
      en_attente: 2,
      en_attente_refusees: 0,
      synchronisees: 1,
      rejetees: 2,
      abandonnees: 0,
      plus_ancienne_en_attente: '2025-10-01T08:00:00.000Z',
    });
    expect(status.terminaux.map((t: { serial: string; en_attente: number }) => [t.serial, t.en_attente])).toEqual([
      ['caisse-1', 1],
      ['caisse-2', 1],
      ['caisse-3', 0],
    ]);
    expect(status.terminaux[1].derniere_erreur).toContain('ECONNREFUSED');
    const human = relay('status').stdout;
    expect(human).toContain('Relais            : arrêté');
    expect(human.replace(/\s+/g, ' ')).toContain("rien ne part tant qu'il est arrêté ; pour le démarrer : ventesync-relay start --upstream");
    expect(human).toMatch(/En attente\s+: 2/);
    expect(human).toContain('ventesync-relay rejected');
  });

  it('status says why the sales of a till the server refuses are waiting', () => {
    const refused = json('status').terminaux.find((t: { serial: string }) => t.serial === 'caisse-3');
    expect(refused).toMatchObject({ etat_terminal: 'INCONNU', bloque: expect.stringContaining('ne connaît pas ce terminal') });
    expect(relay('status').stdout).toContain('ne connaît pas ce terminal');
  });

  it('pending lists waiting sales oldest first, optionally for one till', () => {
    expect(json('pending').map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['D', 'E']);
    expect(json('pending', '--serial', 'caisse-2').map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['E']);
    expect(relay('pending').stdout).toMatch(/^caisse-1 : 1\nNUMERO\s+MONTANT\s+RECUE/);
  });

  it("rejected lists the refused sales with the server's reason", () => {
    const rejected = json('rejected');
    expect(rejected.map((v: { numero_facture: string; code_erreur: string }) => [v.numero_facture, v.code_erreur])).toEqual([
      ['B', 'ARTICLE_NOT_FOUND'],
      ['C', 'DUPLICATE'],
    ]);
    expect(relay('rejected').stdout).toContain("l'article 6 n'existe pas");
  });

  it('show --json gives scripts everything the relay knows of a sale, and says so when it has none', () => {
    expect(json('show', 'A')).toMatchObject({
      numero_facture: 'A',
      statut: 'SYNCHRONISEE',
      montant_total: '10.00',
      vente: { numero_facture: 'A' },
      historique: [{ resultat: 'SYNCHRONISEE', le: '2025-10-01T09:00:00.000Z' }],
    });
    const missing = relay('show', 'ZZZ');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('aucune vente ZZZ');
  });

  it('retry puts rejected sales back to EN_ATTENTE, one by one or all', () => {
    expect(relay('retry', 'B').stdout).toContain('1 vente(s) remise(s) en attente');
    expect(json('pending').map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['B', 'D', 'E']);
    const unknown = relay('retry', 'A');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('pas de vente rejetée');
    expect(relay('retry', '--all').stdout).toContain('1 vente(s)');
    expect(json('rejected')).toEqual([]);
  });

  it("discard keeps the sale with a person's reason and stops sending it", () => {
    expect(relay('discard', 'C', '--reason', 'doublon saisi deux fois, vérifié').code).toBe(0);
    expect(json('show', 'C')).toMatchObject({ statut: 'ABANDONNEE', decision: 'doublon saisi deux fois, vérifié' });
    expect(json('status').totaux.abandonnees).toBe(1);
    expect(relay('discard', 'A', '--reason', 'x').code).toBe(1);
  });

  it('status, rejected and show print names, server reasons and a discard reason from outside escaped, never raw control characters', () => {
    const esc = '\u001b]0;pwned\u0007';
    withStore((store) => {
      store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: `Boutique${esc}`, terminal_nom: `Caisse\u202e1` }, new Date('2025-10-01T08:00:00Z'));
      store.markRejected(store.byNumero('D')[0]!.id, 'ARTICLE_NOT_FOUND', `Refus\u009b2J du serveur${esc}`);
    });
    // A discard reason stored before such reasons were refused.
    const database = new Database(db);
    database.prepare("UPDATE ventes SET statut = 'ABANDONNEE', decision = 'raison' || char(27) || '[2J' WHERE numero_facture = 'C'").run();
    database.close();
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    for (const args of [['status'], ['status', '--json'], ['rejected'], ['show', 'D'], ['show', 'C'], ['show', 'C', '--json']]) {
      const out = relay(...args).stdout;
      expect(out, args.join(' ')).not.toMatch(raw);
    }
    expect(relay('status').stdout).toContain('Caisse\\u202e1');
    expect(relay('show', 'D').stdout).toContain('\\u009b2J');
    expect(relay('show', 'C').stdout).toContain('raison\\u001b[2J');
    // Scripts still read the data as stored.
    expect(json('show', 'C').decision).toBe('raison\u001b[2J');
    // And such a reason is refused at the door now.
    const refused = relay('discard', 'B', '--reason', `ok${esc}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--reason ne doit contenir ni caractère de contrôle/);
  });

  it('purge removes only synced sales older than asked', () => {
    expect(relay('purge', '--older-than', '30d').stdout).toContain('1 vente(s)');
    expect(json('status').totaux).toMatchObject({ synchronisees: 0, en_attente: 2, rejetees: 2 });
    expect(relay('purge', '--older-than', 'demain').code).not.toBe(0);
  });

  it('start refuses a --timeout above 5 minutes (a send must end before its claim counts as stale) and an --interval above a day, exit 1, nothing started', () => {
    expect(MAX_ANSWER_DEADLINE_MS).toBeLessThan(CLAIM_STALE_MS);
    for (const [option, value, words] of [
      ['--timeout', '30d', 'au plus 5m (« 30d » est trop long)'],
      ['--timeout', '6m', 'au plus 5m (« 6m » est trop long)'],
      ['--interval', '30d', 'au plus 24h (« 30d » est trop long)'],
    ] as const) {
      // Bounded: a relay that accepted the value would run until killed.
      const out = spawnSync(process.execPath, [RELAY_CLI, 'start', '--upstream', 'http://127.0.0.1:1', '--host', '127.0.0.1', '--port', '0', option, value, '--db', join(dir, 'started.db')], {
        encoding: 'utf8',
        timeout: 20_000,
        killSignal: 'SIGKILL',
      });
      expect(out.status).toBe(1);
      expect(out.stderr).toContain(words);
      expect(existsSync(join(dir, 'started.db'))).toBe(false);
    }
  });

  it('sync says plainly when the daemon is not running', () => {
    const out = relay('sync');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("le relais n'est pas en marche");
  });
});

describe('ventesync-relay CLI, read by a shop manager', () => {
  /** A till with a long name, a long generated numero, a stock refusal and a refused connection. */
  function busyShop() {
    withStore((store) => {
      store.saveTerminal('caisse-1', 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique du Grand Marché de Kinshasa', terminal_nom: 'Caisse principale près de la porte d’entrée' }, new Date());
      const intake = createSaleIntake(store);
      intake.take({ serial: 'caisse-1', boutique_id: 2 }, [{ lignes: [{ article_id: 6, quantite: 3, prix_unitaire: 40000 }] }], new Date('2025-10-03T08:00:00Z'));
      const d = store.byNumero('D')[0]!;
      store.scheduleStockRetry(d.id, 'Stock insuffisant pour Samsung S24 : demandé 1, disponible 0 (ligne 1)', new Date(Date.now() + 4 * 60_000), new Date());
      store.setEtats({
        serveur_url: 'http://serveur-central.example:8000',
        serveur_joignable: 'non',
        serveur_verifie_le: new Date().toISOString(),
        derniere_erreur: 'Serveur injoignable (ECONNREFUSED : connect ECONNREFUSED 192.0.2.10:8000)',
        derniere_erreur_le: new Date().toISOString(),
      });
    });
  }

  it('status, pending, rejected and show fit 80 columns; --wide lets lines run longer', () => {
    busyShop();
    for (const command of [['status'], ['pending'], ['rejected'], ['show', 'B'], ['show', 'D']]) {
      const out = relay(...command);
      expect(out.code, command.join(' ')).toBe(0);
      expect(widest(out.stdout), command.join(' ')).toBeLessThanOrEqual(80);
    }
    expect(widest(relay('pending', '--wide').stdout)).toBeGreaterThan(80);
  });

  it('speaks of the server in words, keeping the raw detail for --json', () => {
    busyShop();
    const human = relay('status').stdout;
    expect(human).toContain('le serveur ne répond pas (connexion refusée)');
    expect(human).not.toContain('ECONNREFUSED');
    expect(relay('pending').stdout).not.toContain('ECONNREFUSED');
    const status = json('status');
    expect(status.derniere_erreur).toMatchObject({ message: 'le serveur ne répond pas (connexion refusée)', detail: expect.stringContaining('ECONNREFUSED') });
    expect(status.terminaux.find((t: { serial: string }) => t.serial === 'caisse-2')).toMatchObject({
      derniere_erreur: expect.stringContaining('ECONNREFUSED'),
      probleme: 'le serveur ne répond pas (connexion refusée)',
    });
  });

  it("shows times in the machine's zone, or in UTC with --utc", () => {
    const east = relayAs({ TZ: 'Africa/Kinshasa' }, 'show', 'A').stdout;
    expect(east).toContain('01/10/2025 09:00:00');
    const utc = relayAs({ TZ: 'Africa/Kinshasa' }, 'show', 'A', '--utc').stdout;
    expect(utc).toContain('01/10/2025 08:00:00 UTC');
    expect(relay('pending').stdout).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it('a sale waiting out a stock refusal says so at once, with the reason, in status and pending', () => {
    busyShop();
    const status = json('status');
    expect(status.totaux.en_attente_refusees).toBe(1);
    expect(status.terminaux.find((t: { serial: string }) => t.serial === 'caisse-1').refus_serveur).toMatchObject({
      numero_facture: 'D',
      code: 'INSUFFICIENT_STOCK',
      erreur: expect.stringContaining('Stock insuffisant'),
    });
    const human = relay('status').stdout.replace(/\s+/g, ' ');
    expect(human).toContain("dont 1 refusée(s) pour l'instant par le serveur");
    expect(human).toContain("1 vente refusée pour l'instant par le serveur : D (Stock insuffisant pour Samsung S24");
    expect(relay('pending').stdout.replace(/\s+/g, ' ')).toMatch(/D .*refus du serveur : Stock insuffisant pour Samsung S24.*nouvel essai dans 4 min/);
  });

  it('show reads as a receipt: lines, amounts, state, and every send with its answer', () => {
    busyShop();
    withStore((store) => {
      const d = store.byNumero('D')[0]!;
      for (const second of [1, 2, 3]) {
        store.countAttempt([d.id], { at: new Date(`2025-10-01T08:0${second}:00Z`), reason: 'Serveur injoignable (ECONNREFUSED : connect ECONNREFUSED 127.0.0.1:8000)' });
      }
    });
    const receipt = relayAs({ TZ: 'UTC' }, 'show', 'D').stdout;
    expect(receipt).toContain('Vente D');
    expect(receipt).toContain('Caisse principale');
    expect(receipt).toMatch(/1 x article n° 6\s+10\.00\s+10\.00/);
    expect(receipt).toMatch(/TOTAL \(estimé par le relais\)\s+10\.00/);
    expect(receipt).toContain('EN ATTENTE');
    expect(receipt).toMatch(/refusée pour stock.*\(INSUFFICIENT_STOCK\)/s);
    expect(receipt).toContain('retry D');
    // An outage's failed sends, one after the other, read as one line.
    expect(receipt.replace(/\s+/g, ' ')).toContain("3 fois jusqu'à 08:03:00 : non transmise : le serveur ne répond pas (connexion refusée)");
  });

  it('a rejected sale keeps its rejection history after retry', () => {
    expect(relay('retry', 'B').code).toBe(0);
    // Waiting again to be sent, no longer because of the server's old verdict.
    expect(json('show', 'B')).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null, erreur: null });
    expect(json('status').totaux.en_attente_refusees).toBe(0);
    expect(relay('pending').stdout).not.toContain('refus du serveur');
    withStore((store) => store.markRejected(store.byNumero('B')[0]!.id, 'ARTICLE_NOT_FOUND', 'encore absent', new Date('2025-10-05T08:00:00Z')));
    const history = json('show', 'B').historique;
    expect(history.map((t: { resultat: string; message: string }) => [t.resultat, t.message])).toEqual([
      ['REJETEE', "Ligne 1 : l'article 6 n'existe pas dans la boutique Ma Boutique"],
      ['REJETEE', 'encore absent'],
    ]);
    expect(relay('show', 'B').stdout).toContain('encore absent');
  });

  it("a refused sale's receipt says what to do about it, by the server's reason", () => {
    // A long command goes on with the shell's ` \` continuation: read back as one line.
    const flat = (numero: string) => relay('show', numero).stdout.replace(/ \\\n\s*/g, ' ').replace(/\s+/g, ' ');
    expect(flat('B')).toContain(`ajouter l'article au catalogue de la boutique sur le serveur, puis renvoyer la vente : ventesync-server article add … ventesync-relay retry B --db ${db}`);
    expect(flat('C')).toContain(`faire renvoyer la vente par la caisse sous un nouveau numéro, puis abandonner celle-ci : ventesync-relay discard C --reason "…" --db ${db}`);
    busyShop();
    expect(flat('D')).toContain(`ventesync-server stock add ARTICLE QUANTITE ventesync-relay retry D --db ${db}`);
  });

  it('retry also takes a sale waiting out a stock refusal, and --all does too', () => {
    busyShop();
    expect(relay('retry', 'D').stdout).toContain('1 vente(s) remise(s) en attente');
    expect(json('show', 'D')).toMatchObject({ statut: 'EN_ATTENTE', prochaine_tentative: null });
    busyShop();
    expect(relay('retry', '--all').stdout).toContain('3 vente(s)');
  });

  it('retry and retry --all clear the decision a person had taken', () => {
    relay('discard', 'D', '--reason', 'erreur de saisie');
    relay('retry', 'D');
    expect(json('show', 'D')).toMatchObject({ statut: 'EN_ATTENTE', decision: null, decision_le: null });
    // A rejected sale that still carries a decision (a file from before this version).
    const database = openDatabase(db);
    database.prepare("UPDATE ventes SET decision = 'on verra', decision_le = '2025-10-02T00:00:00Z' WHERE numero_facture = 'B'").run();
    database.close();
    relay('retry', '--all');
    expect(json('pending').map((v: { numero_facture: string; decision: string | null }) => [v.numero_facture, v.decision])).toEqual([
      ['B', null],
      ['C', null],
      ['D', null],
      ['E', null],
    ]);
  });

  it('discard refuses a sale that is being sent; if the server confirms a discarded sale, it is SYNCHRONISEE with a note', () => {
    withStore((store) => store.claimBatch('caisse-1', new Date(), new Date(Date.now() + 86_400_000), 10));
    const refused = relay('discard', 'D', '--reason', 'annulée');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("en cours d'envoi");
    expect(json('show', 'D')).toMatchObject({ statut: 'EN_ATTENTE', decision: null });

    withStore((store) => store.release(store.byNumero('D').map((v) => v.id)));
    expect(relay('discard', 'D', '--reason', 'annulée').code).toBe(0);
    withStore((store) => store.markSynced(store.byNumero('D')[0]!.id, '10.00', new Date()));
    expect(json('show', 'D')).toMatchObject({ statut: 'SYNCHRONISEE', decision: 'annulée', note: expect.stringContaining('le serveur') });
    expect(relay('show', 'D').stdout).toContain("mais le serveur l'a reçue");
  });

  it('discard refuses a sale whose last send got no clear answer (the server may have it), and says to wait or sync', () => {
    withStore((store) => store.countAttempt(store.byNumero('D').map((v) => v.id), { at: new Date(), reason: 'Serveur injoignable (ECONNRESET)', unsure: true }));
    const refused = relay('discard', 'D', '--reason', 'annulée');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('sans réponse claire');
    expect(refused.stderr).toContain('sync');
    expect(json('show', 'D')).toMatchObject({ statut: 'EN_ATTENTE', decision: null });
    // Once the server has answered for it (here: it has it), the books say so.
    withStore((store) => store.markSynced(store.byNumero('D')[0]!.id, '10.00', new Date()));
    expect(json('show', 'D')).toMatchObject({ statut: 'SYNCHRONISEE' });
  });

  it('pending never stops silently: it says how many more there are and how to see them', () => {
    withStore((store) =>
      createSaleIntake(store).take({ serial: 'caisse-9', boutique_id: 2 }, Array.from({ length: 250 }, (_, i) => ({ numero_facture: `P-${i}`, lignes: [{ article_id: 6 }] })), new Date()),
    );
    const page = relay('pending').stdout;
    expect(page).toContain('… et 52 autre(s) : ajoutez --offset 200 pour la suite');
    expect(relay('pending', '--offset', '200').stdout).not.toContain('autre(s)');
    const scripted = relay('pending', '--json', '--limit', '100');
    expect(JSON.parse(scripted.stdout)).toHaveLength(100);
    expect(scripted.stderr).toContain('152 autre(s)');
  });

  it("status says what needs a person on the shop PC: full disk, clock far off, a new server for held sales", () => {
    withStore((store) =>
      store.setEtats({
        ecriture_impossible: JSON.stringify({ depuis: new Date().toISOString(), code: 'SQLITE_FULL', message: 'Disque plein : libérez de la place' }),
        horloge_decalee: JSON.stringify({ decalage_ms: 15 * 60_000, mesure_le: new Date().toISOString() }),
        changement_serveur: JSON.stringify({ ancien: 'http://a:8000', nouveau: 'http://b:8000', en_attente: 2, le: new Date().toISOString() }),
      }),
    );
    const human = relay('status').stdout.replace(/\s+/g, ' ');
    expect(human).toContain('ATTENTION : Disque plein');
    expect(human).toContain("L'horloge de cet ordinateur retarde d'environ 15 min");
    expect(human).toContain('les 2 vente(s) qui attendaient partent vers le nouveau serveur');
    expect(json('status').alertes.ecriture_impossible).toMatchObject({ code: 'SQLITE_FULL' });
  });

  it('messages name commands that work as typed: `pnpm relay …` when run through pnpm', () => {
    busyShop();
    const viaPnpm = relayAs({ npm_lifecycle_event: 'relay' }, 'status').stdout;
    expect(viaPnpm.replace(/\s+/g, ' ')).toContain(`à traiter : pnpm relay rejected --db ${db}`);
    expect(viaPnpm.replace(/\s+/g, ' ')).toContain('pnpm run server terminal enable caisse-3');
    expect(relay('status').stdout).toContain('ventesync-relay rejected');
  });
});

describe('ventesync-relay CLI, issue 8: staff output', () => {
  it('every command but start refuses a relay file that does not exist, naming it and how the file is chosen; nothing is created', () => {
    const missing = join(dir, 'relai', 'relay.db');
    const commands = [['status'], ['pending'], ['rejected'], ['show', 'A'], ['retry', 'A'], ['discard', 'A', '--reason', 'x'], ['sync'], ['purge', '--older-than', '30d']];
    for (const command of commands) {
      const r = runCliSync(RELAY_CLI, [...command, '--db', missing]);
      expect(r.code, command.join(' ')).not.toBe(0);
      expect(r.stderr, command.join(' ')).toContain(missing);
      for (const word of ['--db', 'VENTESYNC_RELAY_DB', './data/relay.db']) expect(r.stderr, command.join(' ')).toContain(word);
    }
    expect(existsSync(join(dir, 'relai'))).toBe(false);
  });

  it('pending with a 64-character numero fits 80 columns: the numero goes on its own line', () => {
    const numero = `V${'9'.repeat(63)}`;
    withStore((store) => createSaleIntake(store).take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_facture: numero, lignes: [{ article_id: 6, prix_unitaire: 10 }] }], new Date()));
    const out = relay('pending').stdout;
    expect(widest(out)).toBeLessThanOrEqual(80);
    expect(out.split('\n')).toContain(numero);
  });

  it('show keeps price and subtotal apart on large amounts, and never breaks a suggested command', () => {
    const numero = `R${'7'.repeat(63)}`;
    withStore((store) => {
      createSaleIntake(store).take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_facture: numero, lignes: [{ article_id: 6, quantite: 123456, prix_unitaire: '99999999.99' }] }], new Date());
      store.markRejected(store.byNumero(numero)[0]!.id, 'INSUFFICIENT_STOCK', 'Stock insuffisant');
    });
    const out = relayAs({ npm_lifecycle_event: 'relay' }, 'show', numero).stdout;
    expect(out).toMatch(/99999999\.99 +12345599998765\.44/);
    const lines = out.replace(/ \\\n\s*/g, ' ').split('\n').map((l) => l.trim());
    expect(lines).toContain('pnpm run server stock add ARTICLE QUANTITE');
    expect(widest(out)).toBeLessThanOrEqual(80);
    expect(lines).toContain(`pnpm relay retry ${numero} --db ${db}`);
  });

  it('rejected suggests commands on the same file (--db kept)', () => {
    const out = relayAs({ npm_lifecycle_event: 'relay' }, 'rejected').stdout;
    expect(out).toContain(`pnpm relay retry NUMERO --db ${db}`);
    expect(out).toContain(`pnpm relay show NUMERO --db ${db}`);
    expect(widest(out)).toBeLessThanOrEqual(80);
  });
});

describe('ventesync-relay start: a staff command holding the write lock', () => {
  it("the daemon waits for it only briefly: the till gets 503 with Retry-After, not a 5-second stall", async () => {
    const daemon = await startCliProcess(RELAY_CLI, ['start', '--upstream', 'http://127.0.0.1:9', '--host', '127.0.0.1', '--port', '0', '--db', db]);
    const other = new Database(db);
    try {
      other.exec('BEGIN IMMEDIATE');
      const { request } = await import('undici');
      // Well under the 5 s a command waits: the daemon must answer before this deadline.
      const res = await request(`${daemon.url}/api/v2/simple/ventes/sync/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-device-serial': 'caisse-1' },
        body: JSON.stringify([{ numero_facture: 'LOCK-1', lignes: [{ article_id: 6, prix_unitaire: 1 }] }]),
        headersTimeout: 3_000,
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      await res.body.dump();
    } finally {
      other.exec('ROLLBACK');
      other.close();
      await daemon.stop();
    }
    expect(withStore((store) => store.byNumero('LOCK-1'))).toEqual([]);
  });
});

describe('ventesync-relay status: running is what the daemon itself says', () => {
  let fakeDaemon: Server | undefined;
  afterEach(() => fakeDaemon?.close());

  async function answerAs(relaisId: string): Promise<string> {
    fakeDaemon = createServer((req, res) => {
      res.writeHead(req.url === '/relay/status' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ relais_id: relaisId, pid: 4242, demarre_le: new Date().toISOString() }));
    });
    await new Promise<void>((r) => fakeDaemon!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(fakeDaemon.address() as { port: number }).port}`;
  }
  const statusAsync = async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [RELAY_CLI, 'status', '--json', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.once('exit', r));
    return JSON.parse(out);
  };

  it('sync says in words what the server now has, what it refused, and what to do next', async () => {
    fakeDaemon = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, envoyees: 3, synchronisees: 2, rejetees: 0, en_attente_stock: 1, erreurs: [] }));
    });
    await new Promise<void>((r) => fakeDaemon!.listen(0, '127.0.0.1', r));
    withStore((store) => store.setEtat('daemon_url', `http://127.0.0.1:${(fakeDaemon!.address() as { port: number }).port}`));
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [RELAY_CLI, 'sync', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_lifecycle_event: 'relay' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.once('exit', r));
    expect(out.replace(/\s+/g, ' ')).toContain("Synchronisation : 3 vente(s) envoyée(s) : 2 reçue(s) par le serveur, 1 refusée(s) pour l'instant (stock).");
    expect(out.replace(/\s+/g, ' ')).toContain(`après correction du stock sur le serveur : pnpm relay retry --all --db ${db}`);
  });

  async function syncAnswering(body: object) {
    fakeDaemon = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, ...body }));
    });
    await new Promise<void>((r) => fakeDaemon!.listen(0, '127.0.0.1', r));
    withStore((store) => store.setEtat('daemon_url', `http://127.0.0.1:${(fakeDaemon!.address() as { port: number }).port}`));
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [RELAY_CLI, 'sync', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_lifecycle_event: 'relay' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.once('exit', r));
    return out;
  }

  it('sync wraps its summary at 80 columns', async () => {
    const out = await syncAnswering({ envoyees: 300, synchronisees: 120, rejetees: 40, en_attente_stock: 60, erreurs: [] });
    expect(widest(out)).toBeLessThanOrEqual(80);
    expect(out.replace(/\s+/g, ' ')).toContain("300 vente(s) envoyée(s) : 120 reçue(s) par le serveur, 60 refusée(s) pour l'instant (stock), 40 rejetée(s), 80 toujours en attente.");
  });

  it('sync never says "nothing to send" while sales wait: it says why nothing left', async () => {
    const full = 'Disque plein : le relais ne peut plus rien écrire ; libérez de la place sur cet ordinateur (les ventes restent gardées)';
    const out = await syncAnswering({ envoyees: 0, synchronisees: 0, rejetees: 0, en_attente_stock: 0, erreurs: [`caisse-1 : ${full}`] });
    expect(out).not.toContain('rien à envoyer');
    expect(out).toContain("rien n'a pu être envoyé, 2 vente(s) attendent");
    expect(out.replace(/\s+/g, ' ')).toContain('Disque plein');
    expect(widest(out)).toBeLessThanOrEqual(80);
  });

  it('sync says how many returns the server now has and how many it refused', async () => {
    const out = await syncAnswering({ envoyees: 0, synchronisees: 0, rejetees: 0, en_attente_stock: 0, retours_synchronises: 2, retours_rejetes: 1, erreurs: [] });
    expect(out.replace(/\s+/g, ' ')).toContain('Retours : 2 reçu(s) par le serveur, 1 rejeté(s).');
    expect(out.replace(/\s+/g, ' ')).toContain('à traiter : pnpm relay rejected');
  });

  it('sync with the server away says no sale went through, and why', async () => {
    const out = await syncAnswering({ envoyees: 2, synchronisees: 0, rejetees: 0, en_attente_stock: 0, erreurs: ['caisse-1 : Serveur injoignable (ECONNREFUSED)'] });
    expect(out).toContain('Synchronisation : aucune vente transmise, 2 vente(s) attendent :');
    expect(out).not.toContain('envoyée(s)');
    expect(out).toContain('problème (terminal caisse-1)');
  });

  it('a relay started with --host ::1 is found by status, sync and retry at its IPv6 address', async () => {
    const daemon = await startCliProcess(RELAY_CLI, ['start', '--upstream', 'http://127.0.0.1:9', '--host', '::1', '--port', '0', '--db', db]);
    try {
      const status = await statusAsync();
      expect(status.relais).toMatchObject({ en_marche: true, url: expect.stringMatching(/^http:\/\/\[::1\]:\d+$/), pid: daemon.child.pid });
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, [RELAY_CLI, 'retry', 'B', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await new Promise((r) => child.once('exit', r));
      expect(out).toContain('1 vente(s) remise(s) en attente.');
      // Found at its IPv6 address: the prompt send ran (the upstream is away, so nothing went through).
      expect(out).toMatch(/Synchronisation : (aucune vente transmise|rien d'envoyé maintenant), \d+ vente\(s\) attendent/);
    } finally {
      await daemon.stop();
    }
    expect((await statusAsync()).relais.en_marche).toBe(false);
  });

  it('a live PID at a dead address is not a running relay', async () => {
    withStore((store) => store.setEtats({ daemon_url: 'http://127.0.0.1:9', daemon_pid: String(process.pid) }));
    expect(json('status').relais).toMatchObject({ en_marche: false });
  });

  it('the relay of this file answering at the recorded address is running; another relay there is not', async () => {
    const id = withStore((store) => store.relayId());
    withStore((store) => store.setEtat('daemon_url', 'pending'));
    const url = await answerAs(id);
    withStore((store) => store.setEtat('daemon_url', url));
    expect((await statusAsync()).relais).toMatchObject({ en_marche: true, url, pid: 4242 });
    fakeDaemon!.close();
    const other = await answerAs('autre1');
    withStore((store) => store.setEtat('daemon_url', other));
    expect((await statusAsync()).relais).toMatchObject({ en_marche: false, raison: expect.stringContaining('un autre relais') });
  });
});

describe('ventesync-relay CLI and held returns (issue 10)', () => {
  function holdRetours() {
    const database = openDatabase(db);
    const store = createRelayStore(database);
    const take = createRetourIntake(store).take;
    take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'RET-1', numero_facture: 'INCONNUE', lignes: [{ article_id: 6 }] }], new Date('2025-10-02T08:00:00Z'));
    take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'RET-2', numero_facture: 'D', lignes: [{ article_id: 6 }] }], new Date('2025-10-02T08:00:00Z'));
    store.retours.markRejected(store.retours.byNumero('RET-1')[0]!.id, 'SALE_NOT_FOUND', 'Vente INCONNUE introuvable dans la boutique Ma Boutique');
    database.close();
  }

  it('status, pending, rejected and show say where each return stands and why', () => {
    holdRetours();
    const status = relay('status').stdout.replace(/\s+/g, ' ');
    expect(status).toContain('Retours : 1 en attente (dont 1 attendent que leur vente parte), 1 rejeté(s), 0 synchronisé(s)');
    expect(json('status').retours).toEqual({ en_attente: 1, synchronises: 0, rejetes: 1, abandonnes: 0, attendent_la_vente: 1, plus_ancien_en_attente: '2025-10-02T08:00:00.000Z' });
    const pending = relay('pending').stdout.replace(/\s+/g, ' ');
    expect(pending).toContain('Retours : 1 RET-2 (vente D) 10.00');
    expect(pending).toContain('attend que la vente D parte au serveur');
    expect(relay('rejected').stdout.replace(/\s+/g, ' ')).toContain('RET-1 (vente INCONNUE) 0.00');
    expect(relay('rejected').stdout).toContain('SALE_NOT_FOUND');
    expect(json('show', 'RET-1')).toMatchObject({ numero_retour: 'RET-1', statut: 'REJETEE', code_erreur: 'SALE_NOT_FOUND', retour: { numero_facture: 'INCONNUE' } });
    expect(relay('show', 'D').stdout).toContain('Retours de cette vente :');
  });

  it('retry puts a rejected return back to waiting; discard sets one aside with the reason, in the audit', () => {
    holdRetours();
    const retried = relay('retry', 'RET-1');
    expect(retried.stdout).toContain('1 retour(s) remis en attente.');
    expect(retried.code).toBe(0);
    const discarded = relay('discard', 'RET-1', '--reason', 'client reparti avec');
    expect(discarded.stdout).toContain('Retour RET-1 abandonné : client reparti avec');
    withStore((store) => expect(store.retours.byNumero('RET-1')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'client reparti avec' }));
    expect(relay('audit').stdout).toContain('Retour RET-1 abandonné');
    expect(relay('retry', 'NI-VENTE-NI-RETOUR').code).toBe(1);
  });

  it('retry --all puts back, with the refused sales, their returns the server refused for want of the sale', () => {
    withStore((store) => {
      // B was refused (ARTICLE_NOT_FOUND) after its return RET-B had gone alone: SALE_NOT_FOUND.
      createRetourIntake(store).take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'RET-B', numero_facture: 'B', lignes: [{ article_id: 6 }] }], new Date('2025-10-02T08:00:00Z'));
      store.retours.markRejected(store.retours.byNumero('RET-B')[0]!.id, 'SALE_NOT_FOUND', 'Vente B introuvable dans la boutique Ma Boutique');
    });
    const retried = relay('retry', '--all');
    expect(retried.code).toBe(0);
    expect(retried.stdout.replace(/\s+/g, ' ')).toContain('1 retour(s) refusé(s) faute de vente remis en attente, après leur vente : RET-B');
    withStore((store) => {
      expect(store.byNumero('B')[0]!.statut).toBe('EN_ATTENTE');
      expect(store.retours.byNumero('RET-B')[0]).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null });
      // It waits behind its sale.
      expect(store.retours.summary()).toMatchObject({ attendent_la_vente: 1 });
    });
    expect(relay('audit').stdout.replace(/\s+/g, ' ')).toContain('RET-B');
  });

  it('pending and rejected --json list the sales as before, each marked type "vente", then the returns, type "retour"', () => {
    holdRetours();
    const pending = json('pending');
    expect(pending.filter((x: { type: string }) => x.type === 'vente').map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['D', 'E']);
    expect(pending.at(-1)).toMatchObject({ type: 'retour', numero_retour: 'RET-2', numero_facture: 'D', statut: 'EN_ATTENTE', montant_total: '10.00' });
    expect(pending).toHaveLength(3);
    const rejected = json('rejected');
    expect(rejected.map((x: { type: string; numero_facture: string; numero_retour?: string }) => [x.type, x.numero_retour ?? x.numero_facture])).toEqual([
      ['vente', 'B'],
      ['vente', 'C'],
      ['retour', 'RET-1'],
    ]);
    expect(rejected[2]).toMatchObject({ code_erreur: 'SALE_NOT_FOUND', serial: 'caisse-1' });
    expect(json('pending', '--serial', 'caisse-2').map((x: { type: string }) => x.type)).toEqual(['vente']);
    // Paged over the whole list: sales first, then returns.
    const page = relay('pending', '--json', '--limit', '2');
    expect(JSON.parse(page.stdout).map((x: { type: string }) => x.type)).toEqual(['vente', 'vente']);
    expect(page.stderr).toContain('--offset 2');
    expect(JSON.parse(relay('pending', '--json', '--offset', '2').stdout)).toEqual([expect.objectContaining({ type: 'retour', numero_retour: 'RET-2' })]);
  });

  it('discard and retry of a return numero two tills hold change nothing without --caisse and name the tills; with it, that till only; a return being sent is said so', () => {
    withStore((store) => {
      const take = createRetourIntake(store).take;
      take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'DUPN', numero_facture: 'X-1', lignes: [{ article_id: 6 }] }], new Date());
      take({ serial: 'caisse-C', boutique_id: 3 }, [{ numero_retour: 'DUPN', numero_facture: 'X-9', lignes: [{ article_id: 6 }] }], new Date());
      take({ serial: 'caisse-1', boutique_id: 2 }, [{ numero_retour: 'FLY1', numero_facture: 'X-2', lignes: [{ article_id: 6 }] }], new Date());
      store.retours.markRejected(store.retours.byNumero('DUPN')[1]!.id, 'SALE_NOT_FOUND', 'Vente X-9 introuvable');
    });
    const statuts = () => withStore((store) => store.retours.byNumero('DUPN').map((r) => [r.serial, r.statut]));
    const both = relay('discard', 'DUPN', '--reason', 'doublon');
    expect(both.code).toBe(1);
    expect(both.stderr.replace(/\s+/g, ' ')).toContain("plusieurs caisses ont des retours DUPN (caisse-1, caisse-C) : rien n'a été fait ; ajoutez --caisse SERIAL");
    expect(statuts()).toEqual([['caisse-1', 'EN_ATTENTE'], ['caisse-C', 'REJETEE']]);
    const one = relay('discard', 'DUPN', '--reason', 'doublon', '--caisse', 'caisse-C');
    expect(one.stdout).toContain('Retour DUPN (caisse caisse-C) abandonné : doublon');
    expect(statuts()).toEqual([['caisse-1', 'EN_ATTENTE'], ['caisse-C', 'ABANDONNEE']]);
    relay('discard', 'DUPN', '--reason', 'doublon');
    expect(relay('retry', 'DUPN').stderr.replace(/\s+/g, ' ')).toContain('plusieurs caisses ont des retours DUPN (caisse-1, caisse-C)');
    expect(statuts()).toEqual([['caisse-1', 'ABANDONNEE'], ['caisse-C', 'ABANDONNEE']]);
    expect(relay('retry', 'DUPN', '--caisse', 'caisse-1').code).toBe(0);
    expect(statuts()).toEqual([['caisse-1', 'EN_ATTENTE'], ['caisse-C', 'ABANDONNEE']]);

    withStore((store) => store.retours.claimById(store.retours.byNumero('FLY1')[0]!.id, new Date()));
    const flying = relay('discard', 'FLY1', '--reason', 'doublon');
    expect(flying.code).toBe(1);
    expect(flying.stderr).toContain("le retour FLY1 est en cours d'envoi au serveur : réessayez dans un instant");
    withStore((store) => {
      const id = store.retours.byNumero('FLY1')[0]!.id;
      store.transaction(() => {
        store.retours.countAttempt([id], { at: new Date(), reason: "Délai d'attente dépassé", unsure: true });
        store.retours.release([id]);
      });
    });
    expect(relay('discard', 'FLY1', '--reason', 'doublon').stderr).toContain('le retour FLY1 a été envoyé au serveur sans réponse claire');
    expect(relay('show', 'FLY1').stdout).toContain('ECHEC SANS_VERDICT');
    expect(json('show', 'FLY1').envois).toEqual([expect.objectContaining({ resultat: 'ECHEC', code: 'SANS_VERDICT' })]);
  });
});
