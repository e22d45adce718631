import { DAEMON_BUSY_TIMEOUT_MS, setBusyTimeout } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { PAGE_TOKEN_HEADER } from '../src/page/routes.js';
import type { ShopView } from '../src/page/shop-view.js';
import { createRelayMetrics } from '../src/relay-metrics.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createRetourIntake } from '../src/retour-intake.js';
import { createSaleIntake } from '../src/sale-intake.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { SERIAL } from './real-server.js';

const quiet = { info() {}, warn() {}, error() {} };
const HOST = '127.0.0.1:8001';
const XSS = '<img src=x onerror=alert(1)>';

let dir: string;
let file: string;
let db: ReturnType<typeof openDatabase>;
let store: RelayStore;
let agent: ReturnType<typeof createAgent>;
let forwarder: ReturnType<typeof createForwarder>;
let app: Awaited<ReturnType<typeof buildRelayApp>>;
/** Times the relay counted its sales for the page (each is a pass over its whole file). */
let counted: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ventesync-page-'));
  file = join(dir, 'relay.db');
  db = openDatabase(file);
  // As the daemon does: a lock held by a staff command is waited out briefly only.
  setBusyTimeout(db, DAEMON_BUSY_TIMEOUT_MS);
  store = createRelayStore(db);
  counted = 0;
  const summary = store.summary;
  store.summary = () => {
    counted++;
    return summary();
  };
  agent = createAgent({ connectMs: 500, headersMs: 2_000, bodyMs: 2_000 });
  // The server is away (nothing listens there): the page works from what the relay holds.
  const upstream = createUpstream('http://127.0.0.1:9', agent);
  forwarder = createForwarder({ store, upstream, config: { ...DEFAULT_FORWARDER_CONFIG, debounceMs: 60_000 }, logger: quiet });
  app = await buildRelayApp({
    store,
    upstream,
    forwarder,
    directory: createTerminalDirectory(store, upstream),
    logger: false,
    monitoring: { metrics: createRelayMetrics(db, store), db },
  });
  store.saveTerminal(SERIAL, 'CONNU', { boutique_id: 2, boutique_nom: 'Ma Boutique', terminal_nom: 'Terminal messie vanza' }, new Date());
  createSaleIntake(store).take(
    { serial: SERIAL, boutique_id: 2 },
    ['A', XSS].map((numero_facture) => ({ numero_facture, lignes: [{ article_id: 6, prix_unitaire: 10 }] })),
    new Date(),
  );
  for (const numero of ['A', XSS]) {
    store.markRejected(store.byNumero(numero)[0]!.id, 'ARTICLE_NOT_FOUND', `Article 99 introuvable <b>${numero}</b>`);
  }
});
afterEach(async () => {
  await forwarder.stop();
  await app.close();
  await agent.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const auditRows = () =>
  db.prepare('SELECT utilisateur, commande, changement FROM audit ORDER BY id').all() as Array<{ utilisateur: string; commande: string; changement: string }>;

const state = async (remoteAddress = '127.0.0.1', host = HOST) => {
  const res = await app.inject({ method: 'GET', url: '/etat', remoteAddress, headers: { host } });
  return { status: res.statusCode, body: res.json() as ShopView & { actions_permises: boolean; jeton?: string } };
};

/** A decision as the page's own script sends it, with what may be changed to look like another sender. */
async function decide(path: string, body: unknown, over: { remoteAddress?: string; headers?: Record<string, string | undefined> } = {}) {
  const { jeton } = (await state()).body;
  const headers: Record<string, string> = { host: HOST, origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin', [PAGE_TOKEN_HEADER]: jeton ?? '' };
  for (const [name, value] of Object.entries(over.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  const res = await app.inject({
    method: 'POST',
    url: path,
    remoteAddress: over.remoteAddress ?? '127.0.0.1',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() as { error?: string; code?: string; message?: string } };
}

describe('the page for the shop', () => {
  it('is one HTML page with its style and script from the relay itself, nothing from elsewhere', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('Ne pas éteindre ce PC');
    const assets = [...page.body.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['data:,', '/page/page.css', '/page/page.js']);
    let bytes = page.body.length;
    for (const path of assets.slice(1)) {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode).toBe(200);
      bytes += res.body.length;
    }
    expect(bytes).toBeLessThan(20_000);
  });

  it('says the state as the CLI does: red for refused sales awaiting a decision, each with its reason and what to do', async () => {
    const { status, body } = await state();
    expect(status).toBe(200);
    expect(body.feu).toBe('rouge');
    expect(body.raisons[0]).toBe('2 ventes refusées par le serveur attendent une décision : voir « Ventes refusées » plus bas.');
    expect(body.ne_pas_eteindre).toBe(false);
    expect(body.refusees.map((v) => v.numero_facture)).toEqual(['A', XSS]);
    expect(body.refusees[0]).toMatchObject({
      terminal: 'Terminal messie vanza',
      raison: 'Article 99 introuvable <b>A</b>',
      que_faire: "Ajouter l'article au catalogue de la boutique sur le serveur, puis renvoyer la vente",
    });
    expect(body.terminaux).toEqual([expect.objectContaining({ nom: `Terminal messie vanza (${SERIAL})`, rejetees: 2, en_attente: 0 })]);
  });

  it('counts the sales once for many pages asking at the same moment: the tills do not wait on each', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => state()));
    expect(answers.every((a) => a.status === 200 && a.body.feu === 'rouge')).toBe(true);
    expect(counted).toBeLessThan(5);
  });

  it('offers decisions, and their token, only to the shop PC asking by a name of its own', async () => {
    expect((await state()).body).toMatchObject({ actions_permises: true, jeton: expect.any(String) });
    const elsewhere = await state('192.168.1.20');
    expect(elsewhere.body.actions_permises).toBe(false);
    expect(elsewhere.body.jeton).toBeUndefined();
    // A site whose name was pointed at 127.0.0.1 (DNS rebinding): loopback, but not our name.
    const rebound = await state('127.0.0.1', 'attaque.example:8001');
    expect(rebound.body.actions_permises).toBe(false);
    expect(rebound.body.jeton).toBeUndefined();
  });

  it('retries a refused sale from the shop PC through the same rules as the CLI', async () => {
    const res = await decide('/etat/renvoyer', { numero: 'A' });
    expect(res).toEqual({ status: 200, body: { success: true, message: 'Vente A remise en attente : elle part vers le serveur.' } });
    expect(store.byNumero('A')[0]!.statut).not.toBe('REJETEE');
    // The next look shows it at once, whatever the page had seen just before.
    expect((await state()).body.refusees.map((v) => v.numero_facture)).toEqual([XSS]);
    // Written down like a retry from the CLI, with where it came from.
    expect(auditRows()).toEqual([{ utilisateur: 'page du relais (127.0.0.1)', commande: 'Renvoyer A', changement: '1 vente(s) remise(s) en attente : A' }]);
    const again = await decide('/etat/renvoyer', { numero: 'ZZZ' });
    expect(again).toEqual({ status: 404, body: { code: 'NOT_FOUND', error: 'pas de vente rejetée, abandonnée ou en attente de stock : ZZZ' } });
  });

  it('a decision on a sale of a named till is audited with the till, as one on a return', async () => {
    expect((await decide('/etat/renvoyer', { numero: 'A', caisse: SERIAL })).status).toBe(200);
    store.markRejected(store.byNumero('A')[0]!.id, 'ARTICLE_NOT_FOUND', 'Article introuvable');
    expect((await decide('/etat/abandonner', { numero: 'A', raison: 'article retiré', caisse: SERIAL })).status).toBe(200);
    expect(store.byNumero('A')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'article retiré' });
    expect(auditRows().map((r) => r.commande)).toEqual([`Renvoyer A (caisse ${SERIAL})`, `Abandonner A (caisse ${SERIAL}) : article retiré`]);
  });

  it('retries and discards a refused return from the shop PC like a sale, apart from a sale of the same numero, audited', async () => {
    createRetourIntake(store).take({ serial: SERIAL, boutique_id: 2 }, [
      { numero_retour: 'A', numero_facture: 'V-1', lignes: [{ article_id: 6 }] },
      { numero_retour: 'R-2', numero_facture: 'V-2', lignes: [{ article_id: 6 }] },
    ], new Date());
    for (const numero of ['A', 'R-2']) store.retours.markRejected(store.retours.byNumero(numero)[0]!.id, 'SALE_NOT_FOUND', `Vente introuvable pour ${numero}`);
    expect((await state()).body.retours_refuses.map((r) => r.numero_retour)).toEqual(['A', 'R-2']);

    const retried = await decide('/etat/renvoyer', { numero: 'A', genre: 'retour' });
    expect(retried).toEqual({ status: 200, body: { success: true, message: 'Retour A remis en attente : il part vers le serveur après sa vente.' } });
    expect(store.retours.byNumero('A')[0]).toMatchObject({ statut: 'EN_ATTENTE', code_erreur: null });
    // The sale numbered A is another thing: still refused.
    expect(store.byNumero('A')[0]!.statut).toBe('REJETEE');
    const discarded = await decide('/etat/abandonner', { numero: 'R-2', raison: 'client reparti avec l’article', genre: 'retour' });
    expect(discarded.status).toBe(200);
    expect(store.retours.byNumero('R-2')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'client reparti avec l’article' });
    expect((await state()).body.retours_refuses).toEqual([]);
    expect(auditRows()).toEqual([
      { utilisateur: 'page du relais (127.0.0.1)', commande: 'Renvoyer le retour A', changement: '1 retour(s) remis en attente : A' },
      { utilisateur: 'page du relais (127.0.0.1)', commande: 'Abandonner le retour R-2 : client reparti avec l’article', changement: 'Retour R-2 abandonné : client reparti avec l’article' },
    ]);
    expect((await decide('/etat/renvoyer', { numero: 'R-2-bis', genre: 'retour' })).status).toBe(404);
    // From elsewhere than the shop PC: refused, as for sales.
    expect((await decide('/etat/renvoyer', { numero: 'R-2', genre: 'retour' }, { remoteAddress: '192.168.1.20' })).status).toBe(403);
  });

  it('a return numero two tills hold: the page acts on the till it shows (caisse), never on both; a return being sent is a 503 like a sale; a genre that is no word is a 400', async () => {
    const take = (serial: string, boutique: number) =>
      createRetourIntake(store).take({ serial, boutique_id: boutique }, [{ numero_retour: 'DUPN', numero_facture: 'X-1', lignes: [{ article_id: 6 }] }], new Date());
    take(SERIAL, 2);
    take('caisse-C', 3);
    for (const r of store.retours.byNumero('DUPN')) store.retours.markRejected(r.id, 'SALE_NOT_FOUND', 'Vente X-1 introuvable');
    const shown = (await state()).body.retours_refuses.map((r) => [r.numero_retour, r.caisse]);
    expect(shown).toEqual([['DUPN', SERIAL], ['DUPN', 'caisse-C']]);
    const statuts = () => store.retours.byNumero('DUPN').map((r) => r.statut);

    const both = await decide('/etat/abandonner', { numero: 'DUPN', raison: 'doublon', genre: 'retour' });
    expect(both.status).toBe(400);
    expect(both.body.error).toBe(`plusieurs caisses ont des retours DUPN (${SERIAL}, caisse-C) : rien n'a été fait ; précisez la caisse`);
    expect(statuts()).toEqual(['REJETEE', 'REJETEE']);
    expect((await decide('/etat/abandonner', { numero: 'DUPN', raison: 'doublon', genre: 'retour', caisse: 'caisse-C' })).status).toBe(200);
    expect(statuts()).toEqual(['REJETEE', 'ABANDONNEE']);
    expect((await decide('/etat/renvoyer', { numero: 'DUPN', genre: 'retour', caisse: 'caisse-C' })).status).toBe(200);
    expect(statuts()).toEqual(['REJETEE', 'EN_ATTENTE']);

    // Being sent: try again in a moment, as for a sale.
    await forwarder.syncNow();
    db.prepare("UPDATE retours SET en_vol = ? WHERE serial = 'caisse-C'").run(new Date().toISOString());
    const sending = await decide('/etat/abandonner', { numero: 'DUPN', raison: 'doublon', genre: 'retour', caisse: 'caisse-C' });
    expect(sending).toEqual({ status: 503, body: { code: 'SERVICE_UNAVAILABLE', error: "le retour DUPN est en cours d'envoi au serveur : réessayez dans un instant" } });

    for (const genre of [['retour'], 'Retour', 7]) {
      const odd = await decide('/etat/abandonner', { numero: 'A', raison: 'doublon', genre });
      expect(odd.status, JSON.stringify(genre)).toBe(400);
    }
    expect(store.byNumero('A')[0]!.statut).toBe('REJETEE');
  });

  it('refuses a discard reason with control characters (ESC, BEL, C1, bidi override): nothing kept, nothing audited', async () => {
    for (const raison of ['doublon\u001b]0;pwned\u0007', 'doublon\u009b2J', 'doublon\u202eerèirra']) {
      const res = await decide('/etat/abandonner', { numero: 'A', raison });
      expect(res.status, JSON.stringify(raison)).toBe(400);
      expect(res.body).toMatchObject({ code: 'BAD_REQUEST', error: 'La raison ne doit contenir ni caractère de contrôle ni caractère invisible' });
    }
    expect(store.byNumero('A')[0]).toMatchObject({ statut: 'REJETEE', decision: null });
    expect(auditRows()).toEqual([]);
  });

  it('discards with a reason, kept with the sale; refuses a sale being sent or without a clear verdict', async () => {
    expect((await decide('/etat/abandonner', { numero: 'A', raison: '  ' })).body.code).toBe('BAD_REQUEST');
    expect((await decide('/etat/abandonner', { numero: 'A', raison: 'x'.repeat(501) })).body.code).toBe('BAD_REQUEST');
    const done = await decide('/etat/abandonner', { numero: XSS, raison: 'article retiré de la vente' });
    expect(done.status).toBe(200);
    expect(store.byNumero(XSS)[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'article retiré de la vente' });
    expect(auditRows()).toEqual([
      { utilisateur: 'page du relais (127.0.0.1)', commande: `Abandonner ${XSS} : article retiré de la vente`, changement: `Vente ${XSS} abandonnée : article retiré de la vente` },
    ]);

    store.retry(['A']);
    store.claimBatch(SERIAL, new Date(), new Date(Date.now() + 86_400_000), 10);
    const sending = await decide('/etat/abandonner', { numero: 'A', raison: 'annulée' });
    expect(sending.status).toBe(503);
    expect(sending.body).toEqual({ code: 'SERVICE_UNAVAILABLE', error: "la vente A est en cours d'envoi au serveur : réessayez dans un instant" });
    store.release(store.byNumero('A').map((v) => v.id));
    store.countAttempt(store.byNumero('A').map((v) => v.id), { at: new Date(), reason: 'Serveur injoignable (ECONNRESET)', unsure: true });
    const unsure = await decide('/etat/abandonner', { numero: 'A', raison: 'annulée' });
    expect(unsure.status).toBe(503);
    expect(unsure.body.error).toContain('sans réponse claire');
    expect(store.byNumero('A')[0]).toMatchObject({ statut: 'EN_ATTENTE', decision: null });
    // Refused decisions changed nothing: nothing more in the audit.
    expect(auditRows()).toHaveLength(1);
  });

  it.each([
    ['localhost, in capitals', 'LOCALHOST:8001', 'http://localhost:8001'],
    ['its IPv6 loopback address', '[::1]:8001', 'http://[::1]:8001'],
    ['its own name', `${hostname()}:8001`, `http://${hostname()}:8001`],
  ])('takes a decision from the shop PC asking by %s', async (_what, host, origin) => {
    const jeton = (await state('127.0.0.1', host)).body.jeton;
    expect(jeton).toEqual(expect.any(String));
    const res = await decide('/etat/renvoyer', { numero: 'A' }, { headers: { host, origin, [PAGE_TOKEN_HEADER]: jeton } });
    expect(res.status).toBe(200);
  });

  it.each([
    ['another computer of the shop', { remoteAddress: '192.168.1.20' }, 'Réservé au PC de la boutique'],
    ['no token (a form posted by another site)', { headers: { [PAGE_TOKEN_HEADER]: undefined } }, 'ne vient pas de la page'],
    ['a wrong token', { headers: { [PAGE_TOKEN_HEADER]: 'x'.repeat(32) } }, 'ne vient pas de la page'],
    ['another origin', { headers: { origin: 'http://attaque.example' } }, 'ne vient pas de la page'],
    ['no origin', { headers: { origin: undefined } }, 'ne vient pas de la page'],
    ['a cross-site fetch', { headers: { 'sec-fetch-site': 'cross-site' } }, 'ne vient pas de la page'],
    ['a rebound name', { headers: { host: 'attaque.example:8001', origin: 'http://attaque.example:8001' } }, 'ne vient pas de la page'],
  ])('refuses a decision from %s with 403, changing nothing', async (_what, over, words) => {
    for (const path of ['/etat/renvoyer', '/etat/abandonner']) {
      const res = await decide(path, { numero: 'A', raison: 'annulée' }, over);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('FORBIDDEN');
      expect(res.body.error).toContain(words);
    }
    expect(store.byNumero('A')[0]).toMatchObject({ statut: 'REJETEE', decision: null });
  });

  it('while a staff command holds the relay file, the page still reads it and a decision is a 503 to try again, not a 500', async () => {
    const cli = new Database(file);
    cli.exec('BEGIN EXCLUSIVE');
    try {
      const { status, body } = await state();
      expect(status).toBe(200);
      expect(body.refusees).toHaveLength(2);
      const res = await decide('/etat/renvoyer', { numero: 'A' });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      cli.exec('ROLLBACK');
      cli.close();
    }
    expect(store.byNumero('A')[0]!.statut).toBe('REJETEE');
  });
});
