import { errorBody, HISTORIQUE_PATH, type HistoriqueResponse, historiqueBounds, HistoriqueQuerySchema, statusOf } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { ReaderStorage } from '../storage/storage.js';

export function historiqueRoutes(app: FastifyInstance, reader: ReaderStorage): void {
  app.get(HISTORIQUE_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const query = HistoriqueQuerySchema.safeParse(request.query);
    if (!query.success) {
      // Each bad parameter named with its rule; the values are not echoed (they can be anything).
      const problems = [...new Map(query.error.issues.map((i) => [i.path.join('.'), i.message])).entries()]
        .map(([name, rule]) => `${name} : ${rule}`)
        .join(' ; ');
      return reply.code(statusOf('INVALID_QUERY')).send(errorBody('INVALID_QUERY', `Paramètre invalide : ${problems}`));
    }
    const { limit, offset } = query.data;
    // AAAA-MM-JJ filters are the boutique's local days (CONTRACT §7).
    const { from, to } = historiqueBounds(query.data, terminal.fuseau);
    const page = await reader.historique({ boutiqueId: terminal.boutique_id, limit, offset, from, to });
    const body: HistoriqueResponse = { success: true, boutique_id: terminal.boutique_id, limit, offset, ...page };
    return body;
  });
}
