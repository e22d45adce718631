import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliSync } from '../../../test-support/cli-process.js';
import { openDatabase } from '../src/db/open-database.js';
import { createRelayStore } from '../src/relay-store.js';
import { createSaleIntake } from '../src/sale-intake.js';

const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;
let db: string;
const relay = (...args: string[]) => runCliSync(RELAY_CLI, [...args, '--db', db]);
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
    expect(status.totaux).toEqual({ en_attente: 2, synchronisees: 1, rejetees: 2, abandonnees: 0, plus_ancienne_en_attente: '2025-10-01T08:00:00.000Z' });
    expect(status.terminaux.map((t: { serial: string; en_attente: number }) => [t.serial, t.en_attente])).toEqual([
      ['caisse-1', 1],
      ['caisse-2', 1],
      ['caisse-3', 0],
    ]);
    expect(status.terminaux[1].derniere_erreur).toContain('ECONNREFUSED');
    const human = relay('status').stdout;
    expect(human).toContain('Relais            : arrêté');
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
    expect(relay('pending').stdout).toMatch(/^NUMERO\s+TERMINAL\s+MONTANT/);
  });

  it("rejected lists the refused sales with the server's reason", () => {
    const rejected = json('rejected');
    expect(rejected.map((v: { numero_facture: string; code_erreur: string }) => [v.numero_facture, v.code_erreur])).toEqual([
      ['B', 'ARTICLE_NOT_FOUND'],
      ['C', 'DUPLICATE'],
    ]);
    expect(relay('rejected').stdout).toContain("l'article 6 n'existe pas");
  });

  it('show prints everything the relay knows of a sale, and says so when it has none', () => {
    expect(JSON.parse(relay('show', 'A').stdout)).toMatchObject({ numero_facture: 'A', statut: 'SYNCHRONISEE', montant_total: '10.00', vente: { numero_facture: 'A' } });
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
    expect(JSON.parse(relay('show', 'C').stdout)).toMatchObject({ statut: 'ABANDONNEE', decision: 'doublon saisi deux fois, vérifié' });
    expect(json('status').totaux.abandonnees).toBe(1);
    expect(relay('discard', 'A', '--reason', 'x').code).toBe(1);
  });

  it('purge removes only synced sales older than asked', () => {
    expect(relay('purge', '--older-than', '30d').stdout).toContain('1 vente(s)');
    expect(json('status').totaux).toMatchObject({ synchronisees: 0, en_attente: 2, rejetees: 2 });
    expect(relay('purge', '--older-than', 'demain').code).not.toBe(0);
  });

  it('sync says plainly when the daemon is not running', () => {
    const out = relay('sync');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("le relais n'est pas en marche");
  });
});
