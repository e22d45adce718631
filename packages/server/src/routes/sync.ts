import { buildSyncAnswer, checkSyncBatch, SYNC_PATH } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { SaleWriter } from '../sale-writer.js';

// pino's isLevelEnabled; Fastify's type omits it, and its silent logger (logger: false) lacks it.
function debugEnabled(log: FastifyBaseLogger): boolean {
  return (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('debug') === true;
}

export function syncRoutes(app: FastifyInstance, writer: SaleWriter, now: () => Date): void {
  app.post(SYNC_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const batch = checkSyncBatch(request.body);
    if (!batch.ok) return reply.code(batch.status).send(batch.body);

    const outcome = writer.writeSales(terminal, batch.items, now());

    // Logged after the commit: a line never claims a sale that was rolled back.
    const log = request.log;
    let doublons = 0;
    for (const e of outcome.erreurs) {
      if (e.code === 'DUPLICATE') {
        doublons++;
        // identique false is the case a person must look at: a numero reused for another sale.
        const fields = { numero_facture: e.numero_facture, index: e.index, code: e.code, identique: e.identique };
        log.warn(fields, `⚠ Vente ${e.numero_facture} existe déjà, ignorée`);
      } else {
        const fields = { numero_facture: e.numero_facture, index: e.index, code: e.code };
        log.warn(fields, `❌ Vente ${e.numero_facture ?? `#${e.index}`} refusée: ${e.erreur}`);
      }
    }
    log.info(
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
    // One line per created sale costs a busy server: only at debug, and nothing built otherwise.
    if (debugEnabled(log)) {
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
