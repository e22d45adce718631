import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRelayApp } from '../src/app.js';
import { openDatabase } from '../src/db/open-database.js';
import { createForwarder, DEFAULT_FORWARDER_CONFIG } from '../src/forwarder.js';
import { createRelayStore, type RelayStore } from '../src/relay-store.js';
import { createTerminalDirectory } from '../src/terminal-directory.js';
import { createAgent, createUpstream } from '../src/upstream.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type RealServer, SERIAL, startRealServer } from './real-server.js';

/** Debian's chromium, never a browser download. */
function chromiumPath(): string | null {
  try {
    return execSync('command -v chromium', { encoding: 'utf8', shell: '/bin/sh' }).trim() || null;
  } catch {
    return null;
  }
}

const CHROMIUM = chromiumPath();
const OTHER_NAME = 'autre-poste.test';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A second name for this PC that the relay does not answer to as its own: how the page looks
  // from anywhere but the shop PC (read-only).
  `--host-resolver-rules=MAP ${OTHER_NAME} 127.0.0.1`,
];
/** Where the three states' screenshots go (a person looks at them; nothing checks them). */
const SCREENS = process.env.VENTESYNC_SCREENS ?? join(tmpdir(), 'ventesync-page-screens');
/** Shorter in the test than in the shop (half an hour); reached by moving the relay's clock, not by waiting. */
const ALERT_AFTER_MS = 60_000;
/** The page refreshes itself every few seconds: each state shows within this. */
const SHOWS_WITHIN_MS = 20_000;
const quiet = { info() {}, warn() {}, error() {} };
const XSS = '<img src=x onerror=alert(1)>';

let server: RealServer;
let proxy: FaultProxy;
let dir: string;
let db: ReturnType<typeof openDatabase>;
let store: RelayStore;
let agent: ReturnType<typeof createAgent>;
let forwarder: ReturnType<typeof createForwarder>;
let app: Awaited<ReturnType<typeof buildRelayApp>>;
let relayUrl: string;
let context: BrowserContext;
let page: Page;
let outside: string[];
let pageErrors: string[];
let dialogs: string[];
/** How far the relay's clock is ahead of the real one. */
let clockShiftMs: number;

async function postSales(ventes: unknown[]) {
  const res = await request(`${relayUrl}/api/v2/simple/ventes/sync/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
    body: JSON.stringify(ventes),
  });
  expect(res.statusCode).toBe(201);
  await res.body.dump();
}

async function postRetours(retours: unknown[]) {
  const res = await request(`${relayUrl}/api/v2/simple/ventes/retours/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-device-serial': SERIAL },
    body: JSON.stringify(retours),
  });
  expect(res.statusCode).toBe(201);
  await res.body.dump();
}

const light = () => page.locator('#etat').getAttribute('data-feu');
const text = (selector: string) => page.locator(selector).innerText();

describe('the shop page in a real browser', () => {
  if (!CHROMIUM) {
    if (process.env.CI) {
      it('needs chromium in CI', () => {
        throw new Error('no `chromium` on PATH: CI must run the browser tests (.ci/run installs it with apt-get install -y chromium)');
      });
    } else {
      it.skip('follows the relay through server down, waiting, back — skipped: no `chromium` on PATH (apt-get install -y chromium)', () => {});
    }
    return;
  }

  beforeEach(async () => {
    server = await startRealServer();
    proxy = await startFaultProxy(server.url);
    dir = mkdtempSync(join(tmpdir(), 'ventesync-page-browser-'));
    db = openDatabase(join(dir, 'relay.db'));
    store = createRelayStore(db);
    agent = createAgent({ connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000 });
    const upstream = createUpstream(proxy.url, agent);
    forwarder = createForwarder({
      store,
      upstream,
      config: {
        ...DEFAULT_FORWARDER_CONFIG,
        intervalMs: 300,
        debounceMs: 1,
        networkRetry: { baseMs: 50, capMs: 200, factor: 2 },
        // A stock refusal is final at once: a person has a refused sale to decide on.
        stockRetry: { baseMs: 10, capMs: 10, factor: 2, maxAttempts: 1 },
      },
      logger: quiet,
    });
    clockShiftMs = 0;
    app = await buildRelayApp({
      now: () => new Date(Date.now() + clockShiftMs),
      store,
      upstream,
      forwarder,
      directory: createTerminalDirectory(store, upstream),
      logger: false,
      pageAlertAfterMs: ALERT_AFTER_MS,
    });
    relayUrl = (await app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    forwarder.start();

    context = await chromium.launchPersistentContext(mkdtempSync(join(dir, 'chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1000, height: 900 },
    });
    outside = [];
    pageErrors = [];
    dialogs = [];
    // Everything the page needs comes from the relay: anything else is refused and noted.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(relayUrl) || url.startsWith(relayUrl.replace('127.0.0.1', OTHER_NAME))) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    mkdirSync(SCREENS, { recursive: true });
  });

  afterEach(async () => {
    await context?.close();
    await forwarder.stop();
    if (app.server.listening) await app.close();
    await agent.close();
    await proxy.close();
    await server.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('server down: orange while sales wait, red once they have waited too long; server back: green', async () => {
    await proxy.refuse();
    await page.goto(`${relayUrl}/`);
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('vert');
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(false);

    await postSales([
      { numero_facture: 'PAGE-001', mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 6, quantite: 1 }] },
      { numero_facture: 'PAGE-002', mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 7, quantite: 2 }] },
    ]);
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('orange');
    expect(await text('#attente')).toMatch(/^2 ventes en attente depuis (moins d'une minute|\d+ min)$/);
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(true);
    expect(await text('#ne-pas-eteindre')).toContain('Ne pas éteindre ce PC');
    expect(await text('#dernier-envoi')).toBe('jamais');
    expect(await text('#caisses tbody')).toContain(SERIAL);
    await page.screenshot({ path: join(SCREENS, 'page-orange.png'), fullPage: true });

    // Time passes with the server still away: past the threshold, the light turns red.
    clockShiftMs = ALERT_AFTER_MS;
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('rouge');
    expect(await text('#raisons')).toContain('Le serveur central ne répond pas, et des ventes attendent depuis plus de 1 min');
    expect(await text('#attente')).toMatch(/^2 ventes en attente depuis 1 min$/);
    expect(await text('#serveur')).toContain('ne répond pas');
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENS, 'page-rouge.png'), fullPage: true });

    await proxy.accept();
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('vert');
    expect(server.numeros()).toEqual(['PAGE-001', 'PAGE-002']);
    expect(await text('#titre')).toBe('Tout est envoyé');
    expect(await text('#attente')).toBe('Aucune vente en attente');
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(false);
    expect(await text('#dernier-envoi')).toMatch(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d \(il y a \d+ (s|min)\)$/);
    expect(await text('#caisses tbody')).toContain('Terminal messie vanza');
    await page.screenshot({ path: join(SCREENS, 'page-vert.png'), fullPage: true });

    expect(pageErrors).toEqual([]);
    expect(outside).toEqual([]);

    // The relay itself stops: the page says so rather than showing the last state as current.
    await forwarder.stop();
    await app.close();
    // While it closes, the relay may still answer 503 once ("momentanément illisible"): the
    // page says the relay is away only once nothing answers.
    await expect.poll(() => text('#injoignable'), { timeout: SHOWS_WITHIN_MS }).toContain('Le relais ne répond pas');
    expect(await page.locator('#injoignable').isVisible()).toBe(true);
    expect(await light()).toBe('');
  }, 120_000);

  it('a refused sale is shown with its reason, as text, and retried from the page once the stock is corrected', async () => {
    await page.goto(`${relayUrl}/`);
    await postSales([{ numero_facture: XSS, mode_paiement: 'CASH', paye: true, lignes: [{ article_id: 7, quantite: 1000 }] }]);
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('rouge');
    const card = page.locator('.refusee');
    await expect.poll(() => card.count(), { timeout: SHOWS_WITHIN_MS }).toBe(1);
    // The numero is on screen as the till wrote it, never as markup.
    expect(await card.locator('.numero').innerText()).toBe(XSS);
    expect(await page.locator('img').count()).toBe(0);
    const words = await card.innerText();
    expect(words).toMatch(/Raison : .*[Ss]tock/);
    expect(words).toContain('Que faire : Enregistrer la livraison ou le comptage sur le serveur, puis renvoyer la vente');
    expect(await text('#raisons')).toContain('1 vente refusée par le serveur attend une décision');

    // Seen from elsewhere, the same sale is shown, without the buttons.
    const elsewhere = await context.newPage();
    await elsewhere.goto(relayUrl.replace('127.0.0.1', OTHER_NAME) + '/');
    await expect.poll(() => elsewhere.locator('.refusee').count(), { timeout: SHOWS_WITHIN_MS }).toBe(1);
    expect(await elsewhere.locator('#lecture-seule').isVisible()).toBe(true);
    expect(await elsewhere.locator('.refusee button').count()).toBe(0);
    await elsewhere.close();
    await page.screenshot({ path: join(SCREENS, 'page-rouge-vente-refusee.png'), fullPage: true });

    // The discard form opens only when asked for, and Annuler closes it again.
    expect(await card.getByRole('textbox').isVisible()).toBe(false);
    await card.getByRole('button', { name: 'Abandonner…' }).click();
    expect(await card.getByRole('textbox').isVisible()).toBe(true);
    await card.getByRole('button', { name: 'Annuler' }).click();
    await expect.poll(() => card.getByRole('textbox').isVisible(), { timeout: SHOWS_WITHIN_MS }).toBe(false);

    server.setStock(7, 10_000);
    await card.getByRole('button', { name: 'Renvoyer' }).click();
    await expect.poll(() => text('#message'), { timeout: SHOWS_WITHIN_MS }).toContain('remise en attente');
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('vert');
    expect(await card.count()).toBe(0);
    expect(server.numeros()).toEqual([XSS]);
    expect(store.byNumero(XSS)[0]!.statut).toBe('SYNCHRONISEE');

    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(outside).toEqual([]);
  }, 120_000);

  it('a return waiting with the server down keeps the PC on; refused by the server (sale unknown), it is shown and discarded from the page', async () => {
    await proxy.refuse();
    await page.goto(`${relayUrl}/`);
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('vert');
    await postRetours([{ numero_retour: 'RET-001', numero_facture: 'JAMAIS-VENDUE', lignes: [{ article_id: 6, quantite: 1 }] }]);
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('orange');
    expect(await text('#titre')).toBe('Des retours attendent d’être envoyés');
    expect(await text('#attente')).toMatch(/^1 retour en attente depuis (moins d'une minute|\d+ min)$/);
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(true);
    expect(await text('#ne-pas-eteindre')).toBe('Ne pas éteindre ce PC : des retours attendent d’être envoyés au serveur central.');
    expect(await text('#caisses tbody')).toContain('+ 1 retour');

    await proxy.accept();
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('rouge');
    const card = page.locator('.refusee.retour');
    await expect.poll(() => card.count(), { timeout: SHOWS_WITHIN_MS }).toBe(1);
    expect(await card.locator('.numero').innerText()).toBe('Retour RET-001');
    const words = await card.innerText();
    expect(words).toContain('Vente JAMAIS-VENDUE');
    expect(words).toContain('Que faire : Vérifier que la vente JAMAIS-VENDUE est bien arrivée au serveur');
    expect(await text('#raisons')).toContain('1 retour refusé par le serveur attend une décision');
    expect(await page.locator('#ne-pas-eteindre').isVisible()).toBe(false);
    await page.screenshot({ path: join(SCREENS, 'page-rouge-retour-refuse.png'), fullPage: true });

    await card.getByRole('button', { name: 'Abandonner…' }).click();
    await card.getByRole('textbox').fill('vente jamais faite, erreur de caisse');
    await card.getByRole('button', { name: 'Confirmer l’abandon' }).click();
    await expect.poll(() => text('#message'), { timeout: SHOWS_WITHIN_MS }).toContain('Retour RET-001 abandonné');
    await expect.poll(light, { timeout: SHOWS_WITHIN_MS }).toBe('vert');
    expect(store.retours.byNumero('RET-001')[0]).toMatchObject({ statut: 'ABANDONNEE', decision: 'vente jamais faite, erreur de caisse' });
    expect(server.numeros()).toEqual([]);

    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(outside).toEqual([]);
  }, 120_000);
});
