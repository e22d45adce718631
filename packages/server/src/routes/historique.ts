import { errorBody, HISTORIQUE_PATH, type HistoriqueResponse, HistoriqueQuerySchema, statusOf } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { SaleReader } from '../sale-reader.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A day (`2025-10-29`) covers the whole UTC day, inclusive at both ends; a full ISO date-time
 * is an exact instant. Returns null when the text is neither.
 */
export function parseDateBound(text: string, end: 'debut' | 'fin'): string | null {
  const date = new Date(DAY.test(text) ? `${text}T00:00:00.000Z` : text);
  if (Number.isNaN(date.getTime())) return null;
  if (DAY.test(text) && end === 'fin') date.setUTCDate(date.getUTCDate() + 1);
  if (!DAY.test(text) && end === 'fin') date.setTime(date.getTime() + 1);
  return date.toISOString();
}

export function historiqueRoutes(app: FastifyInstance, reader: SaleReader): void {
  app.get(HISTORIQUE_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const query = HistoriqueQuerySchema.safeParse(request.query);
    if (!query.success) {
      const bad = query.error.issues.map((i) => i.path.join('.')).join(', ');
      return reply
        .code(statusOf('INVALID_QUERY'))
        .send(errorBody('INVALID_QUERY', `Paramètre invalide : ${bad} (limit de 1 à 500, offset ≥ 0)`));
    }
    const { limit, offset, date_debut, date_fin } = query.data;
    const from = date_debut ? parseDateBound(date_debut, 'debut') : null;
    const to = date_fin ? parseDateBound(date_fin, 'fin') : null;
    if ((date_debut && !from) || (date_fin && !to)) {
      return reply
        .code(statusOf('INVALID_QUERY'))
        .send(errorBody('INVALID_QUERY', 'Paramètre invalide : date_debut et date_fin sont des dates AAAA-MM-JJ ou ISO 8601'));
    }
    const page = reader.historique({ boutiqueId: terminal.boutique_id, limit, offset, from, to });
    const body: HistoriqueResponse = { success: true, boutique_id: terminal.boutique_id, limit, offset, ...page };
    return body;
  });
}
