import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the fake does with the next sync request; after the script runs out, it behaves. */
export type Behaviour =
  | 'ok'
  | 'fail-503'
  | 'fail-429'
  /** Commits the batch, then drops the connection: the relay never learns it worked. */
  | 'drop-after-commit'
  /** Commits the batch, then answers after the relay's timeout. */
  | 'slow-after-commit'
  | 'terminal-not-found'
  /** Answers without mentioning the last sale of the batch (a server that lost track of one). */
  | 'forget-last';

interface Stored {
  content: string;
}

/**
 * A stand-in for the central server that the tests steer: it keeps sales like the server
 * (numero → content, DUPLICATE with identique), can refuse some articles for stock, and
 * fails on demand. It records every batch it was sent.
 */
export async function startFakeUpstream(options: { slowMs?: number } = {}) {
  const stored = new Map<string, Stored>();
  const createdCount = new Map<string, number>();
  const script: Behaviour[] = [];
  const batchSizes: number[] = [];
  const serials: string[] = [];
  const outOfStock = new Set<number>();
  /** numero → content the server "already had", to simulate a reused numero. */
  const preexisting = new Map<string, string>();

  const key = (v: { mode_paiement?: string; paye?: boolean; lignes: unknown[] }) =>
    JSON.stringify([v.mode_paiement, v.paye, v.lignes]);

  async function handleSync(req: IncomingMessage, res: ServerResponse, body: string) {
    const behaviour = script.shift() ?? 'ok';
    const ventes = JSON.parse(body) as Array<{ numero_facture: string; mode_paiement?: string; paye?: boolean; lignes: Array<{ article_id: number }> }>;
    batchSizes.push(ventes.length);
    serials.push(String(req.headers['x-device-serial']));
    if (behaviour === 'fail-503') return reply(res, 503, { error: 'Service indisponible', code: 'SERVICE_UNAVAILABLE' });
    if (behaviour === 'fail-429') return reply(res, 429, { error: 'Trop de requêtes', code: 'RATE_LIMITED' }, { 'retry-after': '0' });
    if (behaviour === 'terminal-not-found') return reply(res, 404, { error: 'Terminal non trouvé ou inactif', code: 'TERMINAL_NOT_FOUND' });

    const creees: unknown[] = [];
    const erreurs: unknown[] = [];
    const considered = behaviour === 'forget-last' ? ventes.slice(0, -1) : ventes;
    considered.forEach((v, i) => {
      const existing = stored.get(v.numero_facture)?.content ?? preexisting.get(v.numero_facture);
      if (existing !== undefined) {
        erreurs.push({
          index: i + 1,
          numero_facture: v.numero_facture,
          erreur: `Vente ${v.numero_facture} existe déjà, ignorée`,
          code: 'DUPLICATE',
          vente_existante: { numero_facture: v.numero_facture, montant_total: '10.00', date_vente: '2025-10-29T00:00:00.000Z' },
          identique: existing === key(v),
        });
        return;
      }
      const short = v.lignes.find((l) => outOfStock.has(l.article_id));
      if (short) {
        erreurs.push({ index: i + 1, numero_facture: v.numero_facture, erreur: `Stock insuffisant pour Article ${short.article_id}`, code: 'INSUFFICIENT_STOCK' });
        return;
      }
      if (v.lignes.some((l) => l.article_id === 404)) {
        erreurs.push({ index: i + 1, numero_facture: v.numero_facture, erreur: "l'article 404 n'existe pas", code: 'ARTICLE_NOT_FOUND' });
        return;
      }
      stored.set(v.numero_facture, { content: key(v) });
      createdCount.set(v.numero_facture, (createdCount.get(v.numero_facture) ?? 0) + 1);
      creees.push({ numero_facture: v.numero_facture, montant_total: '10.00', lignes: [] });
    });
    if (behaviour === 'drop-after-commit') {
      res.socket?.destroy();
      return;
    }
    if (behaviour === 'slow-after-commit') await sleep(options.slowMs ?? 1_000);
    reply(res, creees.length > 0 ? 201 : 200, {
      success: creees.length > 0,
      message: `${creees.length} vente(s) synchronisée(s) avec succès`,
      boutique_id: 2,
      boutique_nom: 'Ma Boutique',
      terminal: 'Terminal messie vanza',
      statistiques: { total_envoyees: ventes.length, reussies: creees.length, erreurs: erreurs.length },
      ventes_creees: creees,
      ventes_erreurs: erreurs.length > 0 ? erreurs : null,
    });
  }

  function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url?.startsWith('/api/v2/simple/ventes/sync')) return void handleSync(req, res, body);
      if (req.url?.startsWith('/api/v2/simple/articles')) {
        return reply(res, 200, { success: true, boutique_id: 2, articles: [{ id: 6, nom: 'Samsung S24', prix_vente: '40000.00', quantite_stock: 7 }] });
      }
      if (req.url?.startsWith('/api/v2/simple/statistiques')) return reply(res, 200, { success: true, boutique_id: 2, boutique_nom: 'Ma Boutique' });
      reply(res, 404, { error: 'Route introuvable', code: 'NOT_FOUND' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    script,
    batchSizes,
    serials,
    outOfStock,
    preexisting,
    key,
    stored,
    createdCount,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
