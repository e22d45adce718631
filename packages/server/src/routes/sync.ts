import { buildSyncAnswer, checkSyncBatch, SYNC_PATH } from '@ventesync/shared';
import { levelEnabled, summarizeRequest, terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { WriteStorage } from '../storage/storage.js';
import type { ServerMetrics } from '../server-metrics.js';
import { bodyBytes, refuseQueueFull } from './write-queue.js';

export function syncRoutes(
  app: FastifyInstance,
  writes: WriteStorage,
  now: () => Date,
  metrics?: ServerMetrics,
): void {
  app.post(SYNC_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const batch = checkSyncBatch(request.body);
    if (!batch.ok) return reply.code(batch.status).send(batch.body);

    const receivedAt = now();
    // Set once a registered relay's signature is checked (request-signature.ts): its sales
    // already happened in the shop, so a short stock does not refuse them (CONTRACT §7).
    const viaRelay = (request as { relay?: object | null }).relay != null;
    const written = writes.sales(terminal, batch.items, receivedAt, { viaRelay }, bodyBytes(request));
    if (written === null) {
      return refuseQueueFull(reply, "Serveur surchargé : trop de ventes en attente d'écriture, réessayez dans un instant");
    }
    // Resolves once this request's sales are committed (on disk).
    const outcome = await written;
    metrics?.recordSync(terminal.boutique_id, batch.items.length, outcome);

    // Logged after the commit: a line never claims a sale that was rolled back. Each line is
    // built only when the configured level prints it.
    const log = request.log;
    const warn = outcome.erreurs.length > 0 && levelEnabled(log, 'warn');
    let doublons = 0;
    for (const e of outcome.erreurs) {
      if (e.code === 'DUPLICATE') doublons++;
      if (!warn) continue;
      if (e.code === 'DUPLICATE') {
        // identique false is the case a person must look at: a numero reused for another sale.
        const fields = { numero_facture: e.numero_facture, index: e.index, code: e.code, identique: e.identique };
        log.warn(fields, `⚠ Vente ${e.numero_facture} existe déjà, ignorée`);
      } else {
        const fields = { numero_facture: e.numero_facture, index: e.index, code: e.code };
        log.warn(fields, `❌ Vente ${e.numero_facture ?? `#${e.index}`} refusée: ${e.erreur}`);
      }
    }
    if ((outcome.datesRemplacees.length > 0 || outcome.creees.some((v) => v.avertissements)) && levelEnabled(log, 'warn')) {
      // What a person should look at although the sale was created: a till clock ahead (its
      // date kept beside the reception time), a stock taken below zero.
      for (const d of outcome.datesRemplacees) {
        const avanceMinutes = Math.round((Date.parse(d.date_vente_caisse) - Date.parse(d.date_vente)) / 60_000);
        log.warn(
          { numero_facture: d.numero_facture, code: 'HORLOGE_EN_AVANCE', date_vente_caisse: d.date_vente_caisse, date_vente: d.date_vente },
          `⏰ Vente ${d.numero_facture} : l'horloge de la caisse ${terminal.nom} est en avance de ${avanceMinutes} min ; la vente est datée de sa réception`,
        );
      }
      for (const v of outcome.creees) {
        for (const a of v.avertissements ?? []) {
          log.warn(
            { numero_facture: v.numero_facture, code: a.code, article_id: a.article_id, manque: a.manque, via_relais: viaRelay },
            `⚠ Vente ${v.numero_facture} créée malgré le stock : article ${a.article_id}, ${a.manque} unité(s) en moins, stock sous zéro`,
          );
        }
      }
    }
    if (levelEnabled(log, 'info')) {
      // In the request's access line (status, duration…): one line per sync, not two.
      summarizeRequest(
        request,
        {
          boutique: terminal.boutique_nom,
          boutique_id: terminal.boutique_id,
          terminal: terminal.nom,
          serial: terminal.serial,
          recues: batch.items.length,
          creees: outcome.creees.length,
          doublons,
          refusees: outcome.erreurs.length - doublons,
        },
        `Synchronisation ventes pour boutique: ${terminal.boutique_nom} (Terminal: ${terminal.nom})`,
      );
    }
    // One line per created sale costs a busy server: only at debug.
    if (levelEnabled(log, 'debug')) {
      for (const v of outcome.creees) {
        log.debug(
          { numero_facture: v.numero_facture, montant_total: v.montant_total, devise: terminal.devise },
          `✅ Vente ${v.numero_facture} créée avec succès: ${v.montant_total} ${terminal.devise}`,
        );
      }
    }

    const answer = buildSyncAnswer(
      { boutique_id: terminal.boutique_id, boutique_nom: terminal.boutique_nom, terminal: terminal.nom },
      batch.items.length,
      outcome,
    );
    return reply.code(answer.status).send(answer.body);
  });
}
