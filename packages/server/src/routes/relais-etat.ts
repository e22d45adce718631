import { checkRelayReport, errorBody, RELAY_REPORT_PATH, type RelayReportResponse, statusOf } from '@ventesync/shared';
import type { FastifyInstance } from 'fastify';
import type { ActiveRelay } from '../relay-registry.js';
import type { RelayStorage } from '../storage/storage.js';

/**
 * A registered relay's report of its state (issue 11 point 5). Registered in the relays' own
 * scope (routes/relais.ts): its signature hook has already refused anyone but an active
 * registered relay (401 RELAY_NOT_FOUND for a disabled one) before this runs.
 */
export function relaisEtatRoutes(app: FastifyInstance, relays: RelayStorage, now: () => Date): void {
  app.post(RELAY_REPORT_PATH, async (request, reply) => {
    const relay = request.relay as ActiveRelay;
    const receivedAt = now();
    const check = checkRelayReport(request.body, receivedAt);
    if (!check.ok) {
      return reply
        .code(statusOf('INVALID_FORMAT'))
        .send(errorBody('INVALID_FORMAT', `Rapport du relais refusé, rien n'est enregistré : ${check.problemes.join(' ; ')}`));
    }
    await relays.saveReport(relay.id, check.report, receivedAt);
    const answer: RelayReportResponse = { success: true, relais_id: relay.id, recu_le: receivedAt.toISOString() };
    return answer;
  });
}
