import { ARTICLES_PATH, type ArticlesResponse, formatMoney } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { CatalogueStore, TerminalContext } from '../catalogue-store.js';

export function articlesRoutes(app: FastifyInstance, catalogue: CatalogueStore): void {
  app.get(ARTICLES_PATH, async (request): Promise<ArticlesResponse> => {
    const terminal = terminalOf<TerminalContext>(request);
    return {
      success: true,
      boutique_id: terminal.boutique_id,
      articles: catalogue.listArticles(terminal.boutique_id).map((a) => ({
        id: a.id,
        nom: a.nom,
        prix_vente: formatMoney(a.prix_vente),
        quantite_stock: a.quantite_stock,
      })),
    };
  });
}
