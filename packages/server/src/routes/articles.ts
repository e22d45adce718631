import { ARTICLES_PATH, type ArticlesResponse, formatMoney } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { CatalogueStorage } from '../storage/storage.js';

export function articlesRoutes(app: FastifyInstance, catalogue: CatalogueStorage): void {
  app.get(ARTICLES_PATH, async (request): Promise<ArticlesResponse> => {
    const terminal = terminalOf<TerminalContext>(request);
    return {
      success: true,
      boutique_id: terminal.boutique_id,
      articles: (await catalogue.listArticles(terminal.boutique_id)).map((a) => ({
        id: a.id,
        nom: a.nom,
        prix_vente: formatMoney(a.prix_vente),
        quantite_stock: a.quantite_stock,
      })),
    };
  });
}
