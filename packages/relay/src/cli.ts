#!/usr/bin/env -S node --max-semi-space-size=8
// The flag caps V8's young generation: under a burst of tills the relay otherwise grows it
// to 48 MB and passes 150 MB of memory on a shop PC it shares with other programs.
import { formatMoney } from '@ventesync/shared';
import { formatTable, frenchCommander, printList } from '@ventesync/runtime/cli';
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { request } from 'undici';
import { openDatabase } from './db/open-database.js';
import { parseDuration } from './duration.js';
import { createRelayStore, type HeldVente, type RelayStore } from './relay-store.js';
import { statusReport } from './status-report.js';

const DEFAULT_DB = process.env.VENTESYNC_RELAY_DB ?? './data/relay.db';

function integer(label: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new InvalidArgumentError(`${label} : entier de ${min} à ${max} attendu`);
    return n;
  };
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) throw new InvalidArgumentError(`durée invalide « ${text} » (ex. 30s, 5m, 2h, 30d)`);
  return ms;
}

/** Read and staff commands open the file directly: they work whether the daemon runs or not. */
async function withStore(file: string, run: (store: RelayStore) => void | Promise<void>): Promise<void> {
  const db = openDatabase(file);
  try {
    await run(createRelayStore(db));
  } finally {
    db.close();
  }
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const fail = (text: string) => {
  process.stderr.write(`Erreur : ${text}\n`);
  process.exitCode = 1;
};

function publicVente(v: HeldVente) {
  return {
    numero_facture: v.numero_facture,
    serial: v.serial,
    boutique_id: v.boutique_id,
    statut: v.statut,
    montant_total: v.montant_serveur ?? formatMoney(v.montant_total),
    recue_le: v.recue_le,
    tentatives: v.tentatives,
    prochaine_tentative: v.prochaine_tentative,
    code_erreur: v.code_erreur,
    erreur: v.erreur,
    synchronisee_le: v.synchronisee_le,
    decision: v.decision,
    decision_le: v.decision_le,
    vente: JSON.parse(v.contenu) as unknown,
  };
}

const dbOption = ['--db <fichier>', 'fichier SQLite du relais', DEFAULT_DB] as const;

const program = frenchCommander(new Command('ventesync-relay'), Help)
  .description('Relais ventesync en boutique : garde les ventes des caisses et les transmet au serveur central, même après une coupure.')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Base du relais : --db FICHIER, sinon $VENTESYNC_RELAY_DB, sinon ./data/relay.db.

Exemples :
  $ ventesync-relay start --upstream http://serveur-central:8000
  $ ventesync-relay status
  $ ventesync-relay rejected
  $ ventesync-relay retry VENTE-001`,
  );

program
  .command('start')
  .description('démarre le relais : les caisses lui envoient leurs ventes comme au serveur')
  .requiredOption('--upstream <url>', 'adresse du serveur central, ex. http://serveur:8000')
  .option(...dbOption)
  .option('--host <adresse>', "adresse d'écoute", '0.0.0.0')
  .option('--port <port>', "port d'écoute", integer('port', 0, 65535), 8001)
  .option('--batch-size <n>', 'ventes par envoi au serveur (1 à 500)', integer('batch-size', 1, 500), 100)
  .addOption(new Option('--interval <durée>', 'envoi périodique, ex. 30s, 5m').argParser(duration).default(30_000, '30s'))
  .addOption(new Option('--timeout <durée>', "attente maximale d'une réponse du serveur").argParser(duration).default(30_000, '30s'))
  .option('--stock-retries <n>', 'envois d\'une vente refusée pour stock avant de la rejeter (1 à 100)', integer('stock-retries', 1, 100), 5)
  .option('--pretty', 'journaux lisibles par une personne au lieu de JSON', false)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay start --upstream http://192.0.2.10:8000 --port 8001 --pretty')
  .action(
    async (opts: {
      upstream: string;
      db: string;
      host: string;
      port: number;
      batchSize: number;
      interval: number;
      timeout: number;
      stockRetries: number;
      pretty: boolean;
    }) => {
      try {
        new URL(opts.upstream);
      } catch {
        return fail(`--upstream : adresse invalide « ${opts.upstream} » (ex. http://serveur:8000)`);
      }
      const { startRelay } = await import('./daemon.js');
      await startRelay(
        Object.freeze({
          upstream: opts.upstream,
          db: opts.db,
          host: opts.host,
          port: opts.port,
          batchSize: opts.batchSize,
          intervalMs: opts.interval,
          timeoutMs: opts.timeout,
          stockRetries: opts.stockRetries,
          pretty: opts.pretty,
        }),
      );
    },
  );

program
  .command('status')
  .description('état du relais : ventes en attente, rejetées, dernière synchronisation, serveur joignable, par terminal')
  .option('--json', 'sortie JSON', false)
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay status --json')
  .action(async (opts: { json: boolean; db: string }) =>
    withStore(opts.db, (store) => {
      const r = statusReport(store);
      if (opts.json) return out(JSON.stringify(r, null, 2));
      const joignable = r.serveur.joignable === null ? 'pas encore contacté' : r.serveur.joignable ? 'joignable' : 'INJOIGNABLE';
      out(`Relais            : ${r.relais.en_marche ? `en marche (${r.relais.url})` : 'arrêté'}`);
      out(`Serveur central   : ${r.serveur.url ?? '?'} — ${joignable}${r.serveur.verifie_le ? ` (vérifié le ${r.serveur.verifie_le})` : ''}`);
      out(`En attente        : ${r.totaux.en_attente}${r.totaux.plus_ancienne_en_attente ? ` (la plus ancienne reçue le ${r.totaux.plus_ancienne_en_attente})` : ''}`);
      out(`Synchronisées     : ${r.totaux.synchronisees}`);
      out(`Rejetées          : ${r.totaux.rejetees}${r.totaux.rejetees > 0 ? ' — à traiter : ventesync-relay rejected' : ''}`);
      out(`Abandonnées       : ${r.totaux.abandonnees}`);
      out(`Dernière synchro  : ${r.derniere_sync ?? 'jamais'}`);
      if (r.derniere_erreur) out(`Dernière erreur   : ${r.derniere_erreur.message} (${r.derniere_erreur.le})`);
      out('');
      out(
        formatTable(
          r.terminaux.map((t) => ({ ...t, terminal: t.terminal ?? '', erreur: t.bloque ?? t.derniere_erreur ?? '' })),
          [
            ['serial', 'TERMINAL'],
            ['terminal', 'NOM'],
            ['boutique_id', 'BOUTIQUE'],
            ['en_attente', 'EN ATTENTE'],
            ['synchronisees', 'SYNCHRONISEES'],
            ['rejetees', 'REJETEES'],
            ['plus_ancienne_en_attente', 'PLUS ANCIENNE'],
            ['derniere_sync', 'DERNIERE SYNCHRO'],
            ['erreur', 'PROBLEME'],
          ],
        ),
      );
    }),
  );

program
  .command('pending')
  .description('ventes en attente de transmission, les plus anciennes en premier')
  .option('--serial <serial>', 'un seul terminal')
  .option('--json', 'sortie JSON', false)
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay pending --serial 0a1badae951f8473')
  .action(async (opts: { serial?: string; json: boolean; db: string }) =>
    withStore(opts.db, (store) => {
      printList(store.byStatut('EN_ATTENTE', opts.serial ?? null).map(publicVente), opts.json, [
        ['numero_facture', 'NUMERO'],
        ['serial', 'TERMINAL'],
        ['montant_total', 'MONTANT'],
        ['recue_le', 'RECUE LE'],
        ['tentatives', 'ESSAIS'],
        ['prochaine_tentative', 'PROCHAIN ESSAI'],
        ['erreur', 'DERNIERE ERREUR'],
      ]);
    }),
  );

program
  .command('rejected')
  .description('ventes refusées par le serveur, avec sa raison : à corriger puis retry, ou discard')
  .option('--json', 'sortie JSON', false)
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay rejected --json')
  .action(async (opts: { json: boolean; db: string }) =>
    withStore(opts.db, (store) => {
      printList(store.byStatut('REJETEE').map(publicVente), opts.json, [
        ['numero_facture', 'NUMERO'],
        ['serial', 'TERMINAL'],
        ['montant_total', 'MONTANT'],
        ['recue_le', 'RECUE LE'],
        ['code_erreur', 'CODE'],
        ['erreur', 'RAISON DU SERVEUR'],
      ]);
    }),
  );

program
  .command('show')
  .description("tout ce que le relais sait d'une vente")
  .argument('<numero>', 'numero_facture')
  .option('--json', 'sortie JSON', false)
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay show VENTE-001')
  .action(async (numero: string, opts: { json: boolean; db: string }) =>
    withStore(opts.db, (store) => {
      const rows = store.byNumero(numero).map(publicVente);
      if (rows.length === 0) return fail(`aucune vente ${numero} dans le relais`);
      out(JSON.stringify(opts.json ? rows : rows.length === 1 ? rows[0] : rows, null, 2));
    }),
  );

program
  .command('retry')
  .description('remet des ventes rejetées (ou abandonnées) en attente, pour un nouvel envoi')
  .argument('[numeros...]', 'numeros à renvoyer')
  .option('--all', 'toutes les ventes rejetées', false)
  .option(...dbOption)
  .addHelpText('after', '\nExemples :\n  $ ventesync-relay retry VENTE-001 VENTE-002\n  $ ventesync-relay retry --all')
  .action(async (numeros: string[], opts: { all: boolean; db: string }) =>
    withStore(opts.db, async (store) => {
      if (!opts.all && numeros.length === 0) return fail('donnez au moins un numero, ou --all');
      let count: number;
      if (opts.all) {
        count = store.retryAllRejected();
      } else {
        const changes = store.retry(numeros);
        const missing = numeros.filter((_, i) => changes[i] === 0);
        if (missing.length > 0) fail(`pas de vente rejetée ou abandonnée : ${missing.join(', ')}`);
        count = changes.reduce((a, b) => a + b, 0);
      }
      out(`${count} vente(s) remise(s) en attente.`);
      if (count > 0) await askDaemonToSync(store, true);
    }),
  );

program
  .command('discard')
  .description("abandonne une vente (décision d'une personne, gardée dans le dossier) : elle ne sera plus envoyée")
  .argument('<numero>', 'numero_facture')
  .requiredOption('--reason <texte>', 'pourquoi (gardé avec la vente)')
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay discard VENTE-001 --reason "vente annulée, client remboursé"')
  .action(async (numero: string, opts: { reason: string; db: string }) =>
    withStore(opts.db, (store) => {
      if (opts.reason.trim() === '') return fail('--reason ne doit pas être vide');
      const n = store.discard(numero, opts.reason, new Date());
      if (n === 0) return fail(`pas de vente ${numero} en attente ou rejetée`);
      out(`Vente ${numero} abandonnée : ${opts.reason}`);
    }),
  );

async function askDaemonToSync(store: RelayStore, quiet = false): Promise<void> {
  const url = store.getEtat('daemon_url');
  if (!url) {
    if (!quiet) fail("le relais n'est pas en marche (ventesync-relay start …)");
    return;
  }
  try {
    const res = await request(`${url}/relay/sync`, { method: 'POST', headersTimeout: 120_000 });
    const body = (await res.body.json()) as { envoyees?: number; synchronisees?: number; rejetees?: number; erreurs?: string[] };
    if (res.statusCode !== 200) return fail(`le relais a répondu ${res.statusCode}`);
    out(`Synchronisation : ${body.envoyees ?? 0} envoyée(s), ${body.synchronisees ?? 0} synchronisée(s), ${body.rejetees ?? 0} rejetée(s).`);
    for (const e of body.erreurs ?? []) out(`  problème : ${e}`);
  } catch {
    if (!quiet) fail(`le relais ne répond pas à ${url} : est-il en marche ?`);
  }
}

program
  .command('sync')
  .description('demande au relais en marche de transmettre maintenant, sans attendre')
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay sync')
  .action(async (opts: { db: string }) => withStore(opts.db, (store) => askDaemonToSync(store)));

program
  .command('purge')
  .description('efface les ventes synchronisées depuis plus longtemps que la durée donnée (jamais les autres)')
  .requiredOption('--older-than <durée>', 'ex. 30d', duration)
  .option(...dbOption)
  .addHelpText('after', '\nExemple :\n  $ ventesync-relay purge --older-than 30d')
  .action(async (opts: { olderThan: number; db: string }) =>
    withStore(opts.db, (store) => {
      const n = store.purgeSynced(new Date(Date.now() - opts.olderThan));
      out(`${n} vente(s) synchronisée(s) effacée(s).`);
    }),
  );

// `ventesync-… list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

await program.parseAsync(process.argv);
