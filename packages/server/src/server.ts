import { closeOnSignals } from '@ventesync/runtime/http';
import { looselyProtectedDatabase } from '@ventesync/runtime/sqlite';
import { readFileSync } from 'node:fs';
import { buildApp } from './app.js';
import { DEMO_FIXTURE } from './demo-data.js';
import { openStorage } from './storage/open-storage.js';
import { createLogger } from '@ventesync/runtime/log';
import { readMetricsToken } from '@ventesync/runtime/metrics';

export interface ServeConfig {
  db: string;
  host: string;
  port: number;
  demo: boolean;
  pretty: boolean;
  /** CONTRACT §6: terminals without a secret are refused. */
  requireSignatures?: boolean;
  /** PEM files: both given, the server speaks HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** `--metrics-token-file`: /metrics is served, to scrapers sending this token only. */
  metricsTokenFile?: string;
}

/**
 * Where the server listens when `--host` is not given: every interface, since tills reach it
 * over the network; the demo only on this machine, since its serial is public (in the guide).
 */
export function defaultHost(demo: boolean): string {
  return demo ? '127.0.0.1' : '0.0.0.0';
}

/** The process entry: open the storage, listen, and close both cleanly on SIGINT/SIGTERM. */
export async function serve(config: Readonly<ServeConfig>): Promise<void> {
  const metricsToken = config.metricsTokenFile === undefined ? undefined : readMetricsToken(config.metricsTokenFile);
  if (metricsToken && !metricsToken.ok) {
    process.stderr.write(`Erreur : ${metricsToken.erreur}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ pretty: config.pretty });
  // An unreachable or unopenable database stops the start with its name, never a stack.
  const opened = await openStorage(config.db, { server: true });
  if (!opened.ok) {
    process.stderr.write(`Erreur : ${opened.erreur}\n`);
    process.exitCode = 1;
    return;
  }
  const { storage } = opened;
  if (storage.kind === 'sqlite') warnIfReadableByOthers(config.db, logger);
  if (config.demo) {
    if (await storage.catalogue.isEmpty()) {
      const result = await storage.importFixture(DEMO_FIXTURE, new Date());
      if (!result.ok) throw new Error(result.erreur);
      logger.info('Données de démonstration chargées (boutique 2 « Ma Boutique », terminal 0a1badae951f8473)');
    } else {
      logger.info('Base déjà remplie : données de démonstration non chargées');
    }
  }
  // Read before anything listens: a missing or unreadable file stops the start with its name.
  const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  const app = await buildApp({
    storage,
    logger,
    requireSignatures: config.requireSignatures ?? false,
    ...(tls ? { tls } : {}),
    ...(metricsToken?.ok ? { metricsToken: metricsToken.token } : {}),
  });
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url, host: config.host, db: storage.where }, `ventesync serveur à l'écoute sur ${url} (base : ${storage.where})`);

  closeOnSignals(logger, async () => {
    await app.close();
    await storage.close();
    logger.info('Serveur arrêté');
  });
}

/**
 * The database holds every terminal's and relay's secret in clear. A new file is made 0600
 * (createPrivately); an existing one more open than that is said in the log, not changed: the
 * operator made it so, perhaps on purpose (a backup account in its group), and a mode changed
 * behind their back could break that. The warning gives the command.
 */
export function warnIfReadableByOthers(file: string, logger: { warn(obj: object, msg: string): void }): void {
  for (const { path, mode } of looselyProtectedDatabase(file)) {
    logger.warn(
      { fichier: path, mode },
      `Le fichier ${path} est accessible à d'autres comptes de cette machine (droits ${mode}) alors qu'il contient les secrets des terminaux et des relais : pour le réserver au compte du serveur, chmod 600 ${path}`,
    );
  }
}
