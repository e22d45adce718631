import { buildRetoursAnswer, checkRetoursBatch, RETOURS_PATH } from '@ventesync/shared';
import { levelEnabled, summarizeRequest, terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { WriteStorage } from '../storage/storage.js';
import { bodyBytes, refuseQueueFull } from './write-queue.js';

/**
 * `POST …/ventes/retours/`: registered inside the API scope, so the serial and the signature
 * are checked before the body, as for sales. Written through the same queue as sales:
 * a return listed in `retours_crees` is on disk when the answer leaves.
 */
export function retoursRoutes(app: FastifyInstance, writes: WriteStorage, now: () => Date): void {
  app.post(RETOURS_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const batch = checkRetoursBatch(request.body);
    if (!batch.ok) return reply.code(batch.status).send(batch.body);

    const receivedAt = now();
    const written = writes.retours(terminal, batch.items, receivedAt, bodyBytes(request));
    if (written === null) {
      return refuseQueueFull(reply, "Serveur surchargé : trop d'écritures en attente, réessayez dans un instant");
    }
    const outcome = await written;

    const log = request.log;
    if (outcome.erreurs.length > 0 && levelEnabled(log, 'warn')) {
      for (const e of outcome.erreurs) {
        const fields = { numero_retour: e.numero_retour, numero_facture: e.numero_facture, index: e.index, code: e.code, identique: e.identique };
        log.warn(fields, `❌ Retour ${e.numero_retour ?? `#${e.index}`} refusé: ${e.erreur}`);
      }
    }
    if (outcome.datesRemplacees.length > 0 && levelEnabled(log, 'warn')) {
      for (const d of outcome.datesRemplacees) {
        const ecartMinutes = Math.round((Date.parse(d.date_retour_caisse) - Date.parse(d.date_retour)) / 60_000);
        // Ahead: dated at reception. Before its sale (a clock behind): dated at its sale.
        const ahead = ecartMinutes > 0;
        log.warn(
          { numero_retour: d.numero_retour, code: ahead ? 'HORLOGE_EN_AVANCE' : 'RETOUR_AVANT_VENTE', date_retour_caisse: d.date_retour_caisse, date_retour: d.date_retour },
          ahead
            ? `⏰ Retour ${d.numero_retour} : l'horloge de la caisse ${terminal.nom} est en avance de ${ecartMinutes} min ; le retour est daté de sa réception`
            : `⏰ Retour ${d.numero_retour} : daté avant sa vente par la caisse ${terminal.nom} ; il est daté de la vente`,
        );
      }
    }
    if (levelEnabled(log, 'info')) {
      summarizeRequest(
        request,
        {
          boutique: terminal.boutique_nom,
          boutique_id: terminal.boutique_id,
          terminal: terminal.nom,
          serial: terminal.serial,
          recus: batch.items.length,
          crees: outcome.crees.length,
          refuses: outcome.erreurs.length,
        },
        `Retours pour boutique: ${terminal.boutique_nom} (Terminal: ${terminal.nom})`,
      );
    }
    const answer = buildRetoursAnswer(
      { boutique_id: terminal.boutique_id, boutique_nom: terminal.boutique_nom, terminal: terminal.nom },
      batch.items.length,
      outcome,
    );
    return reply.code(answer.status).send(answer.body);
  });
}
