import { levelEnabled, summarizeRequest } from '@ventesync/runtime/http';
import type { SalesOutcome } from '@ventesync/shared';
import type { FastifyRequest } from 'fastify';
import type { RelayTerminal } from './terminal-directory.js';


/**
 * A till's sync as the server logs it: each refused sale at warn, and the counts in the
 * request's one access line (method, route, status, duration, serial; access-log.ts), so the
 * shop's log reads like the server's, a line per till request.
 */
export function logTillSync(request: FastifyRequest, terminal: RelayTerminal, recues: number, outcome: SalesOutcome): void {
  const log = request.log;
  let doublons = 0;
  const warn = outcome.erreurs.length > 0 && levelEnabled(log, 'warn');
  for (const e of outcome.erreurs) {
    if (e.code === 'DUPLICATE') doublons++;
    if (!warn) continue;
    if (e.code === 'DUPLICATE') {
      log.warn({ numero_facture: e.numero_facture, index: e.index, code: e.code, identique: e.identique }, `⚠ Vente ${e.numero_facture} existe déjà, ignorée`);
    } else {
      log.warn({ numero_facture: e.numero_facture, index: e.index, code: e.code }, `❌ Vente ${e.numero_facture ?? `#${e.index}`} refusée: ${e.erreur}`);
    }
  }
  if (!levelEnabled(log, 'info')) return;
  summarizeRequest(
    request,
    {
      boutique: terminal.boutique_nom,
      boutique_id: terminal.boutique_id,
      terminal: terminal.terminal_nom,
      serial: terminal.serial,
      recues,
      gardees: outcome.creees.length,
      doublons,
      refusees: outcome.erreurs.length - doublons,
    },
    `${outcome.creees.length} vente(s) gardée(s) par le relais pour le terminal ${terminal.terminal_nom} (boutique ${terminal.boutique_nom})`,
  );
}
