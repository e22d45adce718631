import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OTHER_SERIAL, testApp, vente } from './helpers.js';

let t: Awaited<ReturnType<typeof testApp>>;
let now = new Date('2025-10-29T10:00:00.000Z');

beforeEach(async () => {
  now = new Date('2025-10-29T10:00:00.000Z');
  t = await testApp({ now: () => now });
});
afterEach(async () => {
  await t.close();
});

describe('GET articles', () => {
  it("lists the terminal's boutique catalogue only, with prices as money strings", async () => {
    const res = await t.get('/api/v2/simple/articles/');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.success).toBe(true);
    expect(body.boutique_id).toBe(2);
    expect(body.articles.map((a: { id: number }) => a.id)).toEqual([6, 7, 9, 10]);
    expect(body.articles[0]).toEqual({ id: 6, nom: 'Samsung S24', prix_vente: '40000.00', quantite_stock: 100 });
  });

  it('needs the serial header like every endpoint', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v2/simple/articles/' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MISSING_SERIAL');
    expect((await t.get('/api/v2/simple/articles/', 'nope')).statusCode).toBe(404);
  });
});

describe('GET ventes/historique', () => {
  beforeEach(async () => {
    await t.sync([
      vente('H-1', [{ article_id: 6 }], { date_vente: '2025-10-27T09:00:00Z' }),
      vente('H-2', [{ article_id: 7, quantite: 2 }, { article_id: 9 }], { date_vente: '2025-10-28T09:00:00Z', paye: false }),
      vente('H-3', [{ article_id: 6 }], { date_vente: '2025-10-29T09:00:00Z', mode_paiement: 'MOBILE_MONEY' }),
    ]);
    await t.sync([vente('G-1', [{ article_id: 8 }])], OTHER_SERIAL);
  });

  it("returns the boutique's sales newest first with their lines", async () => {
    const body = (await t.get('/api/v2/simple/ventes/historique/')).json();
    expect(body).toMatchObject({ success: true, boutique_id: 2, total: 3 });
    expect(body.ventes.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['H-3', 'H-2', 'H-1']);
    expect(body.ventes[1]).toEqual({
      numero_facture: 'H-2',
      date_vente: '2025-10-28T09:00:00.000Z',
      montant_total: '50019.99',
      mode_paiement: 'CASH',
      paye: false,
      terminal: 'Terminal messie vanza',
      lignes: [
        { article_id: 7, article_nom: 'Écouteurs Bluetooth', quantite: 2, prix_unitaire: '25000.00', sous_total: '50000.00' },
        { article_id: 9, article_nom: 'Savon', quantite: 1, prix_unitaire: '19.99', sous_total: '19.99' },
      ],
    });
  });

  it('pages with limit and offset; total counts them all', async () => {
    const body = (await t.get('/api/v2/simple/ventes/historique/?limit=1&offset=1')).json();
    expect(body.total).toBe(3);
    expect(body.ventes.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['H-2']);
  });

  it('filters by day, both bounds inclusive', async () => {
    const body = (await t.get('/api/v2/simple/ventes/historique/?date_debut=2025-10-28&date_fin=2025-10-28')).json();
    expect(body.ventes.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(['H-2']);
    const from = (await t.get('/api/v2/simple/ventes/historique/?date_debut=2025-10-28T12:00:00Z')).json();
    expect(from.total).toBe(1);
  });

  it.each([
    'limit=0',
    'limit=501',
    'limit=abc',
    'limit=0x10',
    'limit=1e3',
    'limit=%205',
    'limit=+5',
    'limit=5.0',
    'limit=1&limit=2',
    'offset=-1',
    'offset=1000001',
    'offset=99999999999999999999',
    'date_debut=hier',
    'date_fin=2025-13-45',
    'date_debut=2025-02-30',
    'date_debut=2025-02-29',
    'date_fin=2025-10-28T12:00:00',
    'date_fin=2025-10-28T25:00:00Z',
    'date_fin=275760-09-13',
    'date_fin=-000001-01-01',
    'date_debut=9999-12-31T23:59:00-23:59',
    'date_debut=0000-01-01T00:30:00%2B01:00',
    'date_debut=%00',
  ])('a bad query (%s) is 400 INVALID_QUERY naming the parameter', async (query) => {
    const res = await t.get(`/api/v2/simple/ventes/historique/?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'INVALID_QUERY', error: expect.stringContaining(query.split('=')[0]!) });
  });

  it.each([
    ['the guide\'s empty filters', 'limit=50&offset=0&date_debut=&date_fin=', ['H-3', 'H-2', 'H-1']],
    ['a leap day', 'date_debut=2024-02-29', ['H-3', 'H-2', 'H-1']],
    ['an instant with an offset', 'date_fin=2025-10-28T10:00:00%2B01:00', ['H-2', 'H-1']],
    ['the last day of year 9999', 'date_fin=9999-12-31', ['H-3', 'H-2', 'H-1']],
    ['the first day of year 0000', 'date_debut=0000-01-01&date_fin=2025-10-27', ['H-1']],
  ])('a valid query with %s is answered', async (_label, query, numeros) => {
    const res = await t.get(`/api/v2/simple/ventes/historique/?${query}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().ventes.map((v: { numero_facture: string }) => v.numero_facture)).toEqual(numeros);
  });

  it('a sale on the last day of year 9999 is listed, with or without an end date', async () => {
    // The server's clock there too: a till date ahead of it would be replaced (CONTRACT §7).
    now = new Date('9999-12-31T23:59:59.500Z');
    await t.sync([vente('FAR', [{ article_id: 6 }], { date_vente: '9999-12-31T23:59:59Z' })]);
    for (const query of ['', '?date_fin=9999-12-31', '?date_debut=9999-12-31']) {
      const body = (await t.get(`/api/v2/simple/ventes/historique/${query}`)).json();
      expect(body.ventes[0]?.numero_facture, query).toBe('FAR');
    }
  });
});

describe('GET statistiques', () => {
  it('counts sales and turnover today and overall, split by payment mode, and lists low stock', async () => {
    await t.sync([
      vente('S-1', [{ article_id: 6 }], { date_vente: '2025-10-28T09:00:00Z' }),
      vente('S-2', [{ article_id: 7 }], { mode_paiement: 'MOBILE_MONEY' }),
      vente('S-3', [{ article_id: 9, quantite: 2 }]),
      vente('S-4', [{ article_id: 10, quantite: 2 }], { mode_paiement: 'CARTE' }),
    ]);
    const res = await t.get('/api/v2/simple/statistiques/');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, boutique_id: 2, boutique_nom: 'Ma Boutique', devise: 'CDF' });
    expect(body.statistiques.aujourd_hui).toEqual({
      date: '2025-10-29',
      nombre_ventes: 3,
      chiffre_affaires: '35039.98',
      nombre_retours: 0,
      montant_retours: '0.00',
      par_mode_paiement: {
        CASH: { nombre_ventes: 1, chiffre_affaires: '39.98', nombre_retours: 0, montant_retours: '0.00' },
        MOBILE_MONEY: { nombre_ventes: 1, chiffre_affaires: '25000.00', nombre_retours: 0, montant_retours: '0.00' },
        CARTE: { nombre_ventes: 1, chiffre_affaires: '10000.00', nombre_retours: 0, montant_retours: '0.00' },
      },
    });
    expect(body.statistiques.total).toMatchObject({ nombre_ventes: 4, chiffre_affaires: '75039.98' });
    expect(body.statistiques.total.par_mode_paiement.CASH).toMatchObject({ nombre_ventes: 2, chiffre_affaires: '40039.98' });
    expect(body.statistiques.articles_stock_bas).toEqual([{ id: 10, nom: 'Chargeur', quantite_stock: 0 }]);
  });

  it('a boutique without sales has zero everywhere', async () => {
    const body = (await t.get('/api/v2/simple/statistiques/', OTHER_SERIAL)).json();
    expect(body.statistiques.total).toMatchObject({ nombre_ventes: 0, chiffre_affaires: '0.00' });
  });
});

describe('service endpoints', () => {
  it('GET /health is ok when the database answers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /openapi.json describes every endpoint, generated from the shared schemas', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v2/simple/ventes/sync/',
        '/api/v2/simple/articles/',
        '/api/v2/simple/ventes/historique/',
        '/api/v2/simple/statistiques/',
        '/health',
      ]),
    );
    const body = doc.paths['/api/v2/simple/ventes/sync/'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/LotVentes' });
    const item = doc.components.schemas.Vente;
    expect(item.required).toEqual(['lignes']);
    expect(item.properties.mode_paiement.anyOf[0].enum).toEqual(['CASH', 'MOBILE_MONEY', 'CARTE']);
  });

  it('GET /docs serves a browsable page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
  });

  it.each([
    ['GET', '/api/v2/simple/ventes/sync/', 'POST'],
    ['DELETE', '/api/v2/simple/ventes/sync', 'POST'],
    ['POST', '/api/v2/simple/articles/', 'GET, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
  ])('%s %s is 405 METHOD_NOT_ALLOWED, saying which methods are', async (method, url, allow) => {
    const res = await t.app.inject({ method: method as 'GET', url, headers: { 'x-device-serial': '0a1badae951f8473' } });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json()).toEqual({ code: 'METHOD_NOT_ALLOWED', error: expect.stringContaining(allow) });
  });

  it('an unknown route is a JSON 404, not an HTML page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v2/simple/inconnu/' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND', error: expect.stringContaining('Route introuvable') });
  });
});
