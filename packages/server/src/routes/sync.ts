import { checkSyncBatch, SYNC_PATH, type SyncResponse, syncMessage } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { SaleWriter } from '../sale-writer.js';

export function syncRoutes(app: FastifyInstance, writer: SaleWriter, now: () => Date): void {
  app.post(SYNC_PATH, async (request, reply) => {
    const terminal = terminalOf<TerminalContext>(request);
    const batch = checkSyncBatch(request.body);
    if (!batch.ok) return reply.code(batch.status).send(batch.body);

    const log = request.log;
    log.info(
      { boutique: terminal.boutique_nom, boutique_id: terminal.boutique_id, terminal: terminal.nom, serial: terminal.serial },
      `Synchronisation ventes pour boutique: ${terminal.boutique_nom} (Terminal: ${terminal.nom})`,
    );
    log.info({ nombre: batch.items.length }, `Nombre de ventes à synchroniser: ${batch.items.length}`);

    const { creees, erreurs } = writer.writeSales(terminal, batch.items, now());

    // Logged after the commit: a line never claims a sale that was rolled back.
    for (const v of creees) {
      log.info(
        { numero_facture: v.numero_facture, montant_total: v.montant_total, devise: terminal.devise },
        `✅ Vente ${v.numero_facture} créée avec succès: ${v.montant_total} ${terminal.devise}`,
      );
    }
    for (const e of erreurs) {
      const text =
        e.code === 'DUPLICATE'
          ? `⚠ Vente ${e.numero_facture} existe déjà, ignorée`
          : `❌ Vente ${e.numero_facture ?? `#${e.index}`} refusée: ${e.erreur}`;
      log.warn({ numero_facture: e.numero_facture, index: e.index, code: e.code }, text);
    }

    const body: SyncResponse = {
      success: creees.length > 0,
      message: syncMessage(creees.length),
      boutique_id: terminal.boutique_id,
      boutique_nom: terminal.boutique_nom,
      terminal: terminal.nom,
      statistiques: { total_envoyees: batch.items.length, reussies: creees.length, erreurs: erreurs.length },
      ventes_creees: creees,
      ventes_erreurs: erreurs.length > 0 ? erreurs : null,
    };
    return reply.code(creees.length > 0 ? 201 : 200).send(body);
  });
}
