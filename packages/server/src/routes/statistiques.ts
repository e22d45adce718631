import { STATISTIQUES_PATH, type StatistiquesResponse } from '@ventesync/shared';
import { terminalOf } from '@ventesync/runtime/http';
import type { FastifyInstance } from 'fastify';
import type { TerminalContext } from '../catalogue-store.js';
import type { ReaderStorage } from '../storage/storage.js';

export function statistiquesRoutes(app: FastifyInstance, reader: ReaderStorage, now: () => Date): void {
  app.get(STATISTIQUES_PATH, async (request): Promise<StatistiquesResponse> => {
    const terminal = terminalOf<TerminalContext>(request);
    return {
      success: true,
      boutique_id: terminal.boutique_id,
      boutique_nom: terminal.boutique_nom,
      devise: terminal.devise,
      statistiques: await reader.statistiques(terminal.boutique_id, now(), terminal.fuseau),
    };
  });
}
