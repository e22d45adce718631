import {
  errorBody,
  formatMoney,
  MAX_RECONCILIATION_DETAIL,
  RECONCILIATION_PATH,
  ReconciliationQuerySchema,
  type ReconciliationResponse,
  statusOf,
} from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { ReconciliationReader } from '../reconciliation-reader.js';

/**
 * CONTRACT §7: the calling till's sales of one local day of its boutique, as a count, a total
 * and a fingerprint; with `detail=1`, the sales themselves, a bounded page at a time.
 */
export function reconciliationRoutes(app: FastifyInstance, reader: ReconciliationReader): void {
  app.get(RECONCILIATION_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const query = ReconciliationQuerySchema.safeParse(request.query);
    if (!query.success) {
      // Each bad parameter named with its rule; the values are not echoed (they can be anything).
      const problems = [...new Map(query.error.issues.map((i) => [i.path.join('.'), i.message])).entries()]
        .map(([name, rule]) => `${name} : ${rule}`)
        .join(' ; ');
      return reply.code(statusOf('INVALID_QUERY')).send(errorBody('INVALID_QUERY', `Paramètre invalide : ${problems}`));
    }
    const { jour, detail, apres } = query.data;
    // Both reads run in this one tick: no write on this connection can come between them, so
    // the page and the fingerprint describe the same sales.
    const day = reader.day(terminal.boutique_id, terminal.serial, jour);
    const page = detail === '1' ? reader.page(terminal.boutique_id, terminal.serial, jour, apres ?? null, MAX_RECONCILIATION_DETAIL) : null;
    const body: ReconciliationResponse = {
      success: true,
      boutique_id: terminal.boutique_id,
      terminal: terminal.nom,
      jour,
      fuseau: day.fuseau,
      nombre_ventes: day.nombre_ventes,
      montant_total: formatMoney(day.montant_total),
      empreinte: day.empreinte,
      ...(page ? { ventes: page.ventes, suite: page.suite } : {}),
    };
    return body;
  });
}
