#!/usr/bin/env node
import {
  checkFuseau,
  formatMoney,
  parseMoney,
  STOCK_NEGATIF_CHOICES,
  type StockNegatif,
} from '@ventesync/shared';
import {
  auditSource,
  commandNames,
  DEFAULT_AUDIT_LIMIT,
  frenchCommander,
  localDayStart,
  MAX_AUDIT_LIMIT,
  printable,
  printList,
  renderAuditTrail,
} from '@ventesync/runtime/cli';
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { checkReference } from './catalogue-rules.js';
import { CatalogueError, type MouvementRow } from './catalogue-store.js';
import { readFixtureFile } from './fixture-import.js';
import { RELAY_LIST_COLUMNS, relayListNotes, relayListRow } from './relay-reports.js';
import { MAX_STOCK_NEGATIF_ARTICLES, MAX_STOCK_NEGATIF_VENTES } from './sale-reader.js';
import { addRapportCommand } from './rapport-command.js';
import { addMigrateCommand } from './migrate-command.js';
import { describeTarget, explainStorageError, openStorage } from './storage/open-storage.js';
import type { Storage, StorageChanges } from './storage/storage.js';

const DEFAULT_DB = process.env.VENTESYNC_DB ?? './data/ventesync.db';
/** This command as the person typed it: `pnpm run server` from the repository, else `ventesync-server`. */
const SERVER = commandNames().server;

function integer(label: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${label} : entier ≥ ${min} attendu (reçu « ${text} »)`);
    }
    return n;
  };
}

/** Most sales `ventes list` prints: a listing, not an export (reconciliation and history page). */
const MAX_VENTES_LIST = 10_000;

function atMost(parse: (text: string) => number, max: number) {
  return (text: string): number => {
    const n = parse(text);
    if (n > max) throw new InvalidArgumentError(`${max} au plus (reçu ${n})`);
    return n;
  };
}

/** --reference: refused before anything is opened, under the catalogue's rule (catalogue-rules.ts). */
function reference(text: string): string {
  try {
    checkReference(text);
  } catch (error) {
    if (error instanceof CatalogueError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return text;
}

/** --fuseau: an IANA zone, refused here (nothing written) when the zone database lacks it. */
function fuseau(text: string): string {
  const check = checkFuseau(text);
  if (!check.ok) throw new InvalidArgumentError(`${check.erreur} (code ${check.code})`);
  return check.fuseau;
}

function stockNegatif(text: string): StockNegatif {
  if ((STOCK_NEGATIF_CHOICES as readonly string[]).includes(text)) return text as StockNegatif;
  throw new InvalidArgumentError(
    `« ${text} » n'est pas une valeur possible : ${STOCK_NEGATIF_CHOICES.join(' ou ')} (code INVALID_STOCK_NEGATIF)`,
  );
}

const STOCK_NEGATIF_HELP =
  "autoriser : les ventes de la boutique sont créées même quand le stock manque (il passe sous zéro, avertissement STOCK_NEGATIF) ; refuser (défaut) : INSUFFICIENT_STOCK. Les ventes transmises par un relais enregistré passent toujours";

const stockNegatifLabel = (value: StockNegatif) => (value === 'autoriser' ? 'stock négatif autorisé' : 'stock négatif refusé');

function money(text: string): number {
  const centimes = parseMoney(text);
  if (centimes === null) throw new InvalidArgumentError(`montant invalide « ${text} » (ex. 40000 ou 19.99)`);
  return centimes;
}

/** Every error the CLI prints starts like this, commander's own included (see frenchCommander). */
const ERROR_PREFIX = 'Erreur : ';

function fail(message: string): void {
  process.stderr.write(`${ERROR_PREFIX}${message}\n`);
  process.exitCode = 1;
}

/**
 * Opens the database for one command (a SQLite file or a PostgreSQL URL: open-storage.ts),
 * reports refusals plainly, always closes.
 */
async function withStorage(target: string, run: (storage: Storage) => Promise<void>): Promise<void> {
  const opened = await openStorage(target);
  if (!opened.ok) return fail(opened.erreur);
  const { storage } = opened;
  try {
    await run(storage);
  } catch (error) {
    if (!(error instanceof CatalogueError)) throw error;
    fail(error.message);
  } finally {
    await storage.close();
  }
}

/**
 * Every command that changes the database goes through here: the change and its audit row
 * (when, the OS user, the command as typed with secret values removed, what it did) in one
 * transaction, so neither is ever kept without the other. `describe` says what changed, in
 * words, never a secret's value; null when nothing changed (no row then).
 */
function audited<T>(storage: Storage, change: (tx: StorageChanges) => Promise<T>, describe: (result: T) => string | null): Promise<T> {
  return storage.audited(auditSource(SERVER), change, describe);
}

const program = frenchCommander(new Command(SERVER), Help)
  .description('Serveur central ventesync : reçoit les ventes des caisses MAUI, tient le stock.')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Base de données : --db FICHIER (SQLite) ou --db postgres://utilisateur@hôte:port/base (PostgreSQL),
sinon $VENTESYNC_DB, sinon ./data/ventesync.db (la même pour toutes les commandes).

Exemples :
  $ ${SERVER} serve --demo
  $ ${SERVER} import boutiques.json
  $ ${SERVER} stock add 6 20
  $ ${SERVER} ventes list --json`,
  );

/** `--db`, on every command; its default shown in the help without a password (VENTESYNC_DB may hold one). */
const dbOption = () =>
  new Option('--db <fichier|url>', 'fichier SQLite, ou URL postgres://… (PostgreSQL)').default(DEFAULT_DB, describeTarget(DEFAULT_DB) ?? 'VENTESYNC_DB');

program
  .command('serve')
  .description("démarre le serveur HTTP (crée la base si elle n'existe pas)")
  .addOption(dbOption())
  .option('--host <adresse>', "adresse d'écoute (défaut : 0.0.0.0, toutes les interfaces ; 127.0.0.1 avec --demo)")
  .option('--port <port>', "port d'écoute", integer('port', 0), 8000)
  .option('--demo', 'charge les données du guide dans une base vide (boutique 2, terminal 0a1badae951f8473)', false)
  .option('--pretty', 'journaux lisibles par une personne au lieu de JSON', false)
  .option('--require-signatures', 'refuse (401 SIGNATURE_REQUIRED) les terminaux sans secret, qui ne signent pas leurs requêtes', false)
  .option('--tls-cert <fichier>', 'certificat (PEM) : le serveur parle HTTPS ; avec --tls-key')
  .option('--tls-key <fichier>', 'clé privée (PEM) du certificat ; avec --tls-cert')
  .option('--metrics-token-file <fichier>', 'sert GET /metrics (Prometheus) aux seuls collecteurs envoyant ce jeton (Authorization: Bearer) ; sans elle, pas de /metrics')
  .addHelpText(
    'after',
    `\nExemples :\n  $ ${SERVER} serve --demo                   # cette machine seulement\n` +
      `  $ ${SERVER} serve --demo --host 0.0.0.0   # la démo ouverte au réseau\n` +
      `  $ ${SERVER} serve --db /var/lib/ventesync.db --port 8080 --pretty\n` +
      `  $ ${SERVER} serve --tls-cert cert.pem --tls-key key.pem --require-signatures   # sur internet`,
  )
  .action(async (opts: {
    db: string;
    host?: string;
    port: number;
    demo: boolean;
    pretty: boolean;
    requireSignatures: boolean;
    tlsCert?: string;
    tlsKey?: string;
    metricsTokenFile?: string;
  }) => {
    if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
      return fail('--tls-cert et --tls-key vont ensemble : donnez le certificat et sa clé privée');
    }
    // Loaded here so that the operator commands do not pay for the HTTP stack.
    const { serve, defaultHost } = await import('./server.js');
    await serve(Object.freeze({ ...opts, host: opts.host ?? defaultHost(opts.demo) }));
  });

program
  .command('import')
  .description('charge un fichier de données (boutiques, terminaux, articles) : tout ou rien')
  .argument('<fichier>', 'fichier JSON {boutiques, terminaux, articles}')
  .addOption(dbOption())
  .addHelpText(
    'after',
    `
Format :
  {"boutiques": [{"id": 2, "nom": "Ma Boutique", "devise": "CDF", "fuseau": "Africa/Kinshasa", "stock_negatif": "refuser"}],
   "terminaux": [{"serial": "0a1badae951f8473", "nom": "Caisse 1", "boutique_id": 2, "actif": true}],
   "articles":  [{"id": 6, "boutique_id": 2, "nom": "Samsung S24", "prix_vente": "40000.00", "stock": 10}]}
Chaque entrée est insérée ou mise à jour (par id / serial). Un fichier invalide ne change rien.
fuseau (nom IANA, défaut UTC) : les journées de la boutique ; stock_negatif : refuser (défaut) ou autoriser.
Absents, une boutique existante garde les siens.

Exemple :
  $ ${SERVER} import donnees.json`,
  )
  .action(async (file: string, opts: { db: string }) => {
    const read = readFixtureFile(file);
    if (!read.ok) return fail(`${read.erreur}. Rien n'a été importé.`);
    await withStorage(opts.db, async (storage) => {
      const result = await audited(
        storage,
        (tx) => tx.importFixture(read.content, new Date()),
        (r) => (r.ok ? `Import de ${file} : ${r.boutiques} boutique(s), ${r.terminaux} terminal(aux), ${r.articles} article(s) insérés ou mis à jour` : null),
      );
      if (!result.ok) {
        const list = result.problemes.map((p) => `\n  - ${p}`).join('');
        return fail(`${file} : ${result.problemes.length} problème(s), rien n'a été importé :${list}`);
      }
      process.stdout.write(
        `Import terminé : ${result.boutiques} boutique(s), ${result.terminaux} terminal(aux), ${result.articles} article(s).\n`,
      );
    });
  });

const boutique = program
  .command('boutique')
  .description('gère les boutiques')
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} boutique add "Boutique Gombe" --id 3 --fuseau Africa/Kinshasa\n  $ ${SERVER} boutique set 3 --stock-negatif autoriser\n  $ ${SERVER} boutique list --json`);
boutique
  .command('add')
  .description('ajoute une boutique')
  .argument('<nom>', 'nom de la boutique')
  .option('--id <id>', 'identifiant voulu (sinon le suivant)', integer('id', 1))
  .option('--devise <code>', 'devise', 'CDF')
  .option('--fuseau <zone>', 'fuseau horaire IANA : ses journées (ventes du jour, filtres par jour)', fuseau, 'UTC')
  .option('--stock-negatif <choix>', STOCK_NEGATIF_HELP, stockNegatif, 'refuser' as StockNegatif)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} boutique add "Boutique Gombe" --id 3`)
  .action(async (nom: string, opts: { id?: number; devise: string; fuseau: string; stockNegatif: StockNegatif; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const b = await audited(
        storage,
        (tx) => tx.catalogue.addBoutique(nom, opts.devise, opts.id ?? null, { fuseau: opts.fuseau, stock_negatif: opts.stockNegatif }),
        (b) => `Boutique ${b.id} « ${b.nom} » ajoutée (${b.devise}, fuseau ${b.fuseau}, ${stockNegatifLabel(b.stock_negatif)})`,
      );
      process.stdout.write(printable(`Boutique ${b.id} « ${b.nom} » ajoutée (${b.devise}, fuseau ${b.fuseau}, ${stockNegatifLabel(b.stock_negatif)}).`) + '\n');
    }),
  );
boutique
  .command('set')
  .description('change une boutique : seuls les champs donnés changent')
  .argument('<id>', 'id de la boutique', integer('id', 1))
  .option('--nom <nom>', 'nouveau nom')
  .option('--devise <code>', 'devise')
  .option('--fuseau <zone>', 'fuseau horaire IANA ; les totaux par jour sont recalculés pour les nouvelles journées', fuseau)
  .option('--stock-negatif <choix>', STOCK_NEGATIF_HELP, stockNegatif)
  .addOption(dbOption())
  .addHelpText(
    'after',
    `\nExemples :\n  $ ${SERVER} boutique set 2 --fuseau Africa/Kinshasa\n  $ ${SERVER} boutique set 2 --stock-negatif autoriser`,
  )
  .action(
    async (id: number, opts: { nom?: string; devise?: string; fuseau?: string; stockNegatif?: StockNegatif; db: string }) => {
      if ([opts.nom, opts.devise, opts.fuseau, opts.stockNegatif].every((v) => v === undefined)) {
        return fail('rien à changer : donnez --nom, --devise, --fuseau ou --stock-negatif');
      }
      await withStorage(opts.db, async (storage) => {
        const b = await audited(
        storage,
          (tx) =>
            tx.catalogue.setBoutique(id, {
              ...(opts.nom !== undefined ? { nom: opts.nom } : {}),
              ...(opts.devise !== undefined ? { devise: opts.devise } : {}),
              ...(opts.fuseau !== undefined ? { fuseau: opts.fuseau } : {}),
              ...(opts.stockNegatif !== undefined ? { stock_negatif: opts.stockNegatif } : {}),
            }),
          (b) =>
            !b.changed
              ? null
              : `Boutique ${b.id} « ${b.nom} » changée : ` +
            [
              opts.nom !== undefined ? `nom « ${b.nom} »` : null,
              opts.devise !== undefined ? `devise ${b.devise}` : null,
              opts.fuseau !== undefined ? `fuseau ${b.fuseau}${b.totauxRecalcules ? ' (totaux par jour recalculés)' : ''}` : null,
              opts.stockNegatif !== undefined ? stockNegatifLabel(b.stock_negatif) : null,
            ]
              .filter((part) => part !== null)
              .join(', '),
        );
        process.stdout.write(
          printable(
            `Boutique ${b.id} « ${b.nom} » : ${b.changed ? '' : 'rien n’a changé (déjà ainsi) : '}${b.devise}, fuseau ${b.fuseau}, ` +
              `${stockNegatifLabel(b.stock_negatif)}.${b.totauxRecalcules ? ' Totaux par jour recalculés pour ce fuseau.' : ''}`,
          ) + '\n',
        );
      });
    },
  );
boutique
  .command('list')
  .description('liste les boutiques')
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} boutique list --json`)
  .action(async (opts: { json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      printList(await storage.catalogue.listBoutiques(), opts.json, [
        ['id', 'ID'],
        ['nom', 'NOM'],
        ['devise', 'DEVISE'],
        ['fuseau', 'FUSEAU'],
        ['stock_negatif', 'STOCK NEGATIF'],
      ]);
    }),
  );

const terminal = program
  .command('terminal')
  .description('gère les terminaux (caisses MAUI)')
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} terminal add 0a1badae951f8473 "Caisse 1" --boutique 2\n  $ ${SERVER} terminal disable 0a1badae951f8473`);
terminal
  .command('add')
  .description('enregistre un terminal dans une boutique')
  .argument('<serial>', 'numéro de série envoyé dans X-Device-Serial')
  .argument('<nom>', 'nom affiché')
  .requiredOption('--boutique <id>', 'boutique du terminal', integer('boutique', 1))
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} terminal add 0a1badae951f8473 "Caisse 1" --boutique 2`)
  .action(async (serial: string, nom: string, opts: { boutique: number; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const t = await audited(
        storage,
        (tx) => tx.catalogue.addTerminal(serial, nom, opts.boutique),
        (t) => `Terminal ${t.serial} « ${t.nom} » ajouté à la boutique ${t.boutique_id}`,
      );
      process.stdout.write(printable(`Terminal ${t.serial} « ${t.nom} » ajouté à la boutique ${t.boutique_id}.`) + '\n');
    }),
  );
terminal
  .command('list')
  .description('liste les terminaux')
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} terminal list`)
  .action(async (opts: { json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const rows = await storage.catalogue.listTerminaux();
      // SIGNE says which tills still run unsigned (to update before --require-signatures); the
      // secret itself is never listed.
      printList(
        rows,
        opts.json,
        [['serial', 'SERIAL'], ['nom', 'NOM'], ['boutique_id', 'BOUTIQUE'], ['actif', 'ACTIF'], ['signe', 'SIGNE']],
        (t) => ({ ...t, actif: t.actif ? 'oui' : 'non', signe: t.signe ? 'oui' : 'non (pas de secret)' }),
      );
    }),
  );
terminal
  .command('secret')
  .description('donne au terminal un secret pour signer ses requêtes (X-Signature) : affiché une seule fois')
  .argument('<serial>', 'numéro de série')
  .option('--rotate', "remplace le secret existant : l'ancien cesse aussitôt de marcher", false)
  .option('--json', 'sortie JSON {"serial", "secret"}', false)
  .addOption(dbOption())
  .addHelpText(
    'after',
    '\nLe secret n’est enregistré que sur ce serveur et n’est plus jamais affiché : copiez-le dans la caisse.\n' +
      'Dès lors, le terminal doit signer chaque requête, sinon 401.\n' +
      `\nExemples :\n  $ ${SERVER} terminal secret 0a1badae951f8473\n  $ ${SERVER} terminal secret 0a1badae951f8473 --rotate --json`,
  )
  .action(async (serial: string, opts: { rotate: boolean; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const issued = await audited(
        storage,
        (tx) => tx.catalogue.issueTerminalSecret(serial, opts.rotate),
        // The secret itself is never written here: only that one was issued.
        (i) => `Secret du terminal ${i.serial} émis${opts.rotate ? ' (--rotate : un secret précédent ne marche plus)' : ''}`,
      );
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(issued)}\n`);
        return;
      }
      process.stdout.write(
        `Secret du terminal ${issued.serial} (affiché une seule fois, à copier dans la caisse) :\n${issued.secret}\n`,
      );
    }),
  );
for (const [name, actif] of [['disable', false], ['enable', true]] as const) {
  terminal
    .command(name)
    .description(actif ? 'réactive un terminal' : 'désactive un terminal : ses requêtes reçoivent 404 TERMINAL_NOT_FOUND')
    .argument('<serial>', 'numéro de série')
    .addOption(dbOption())
    .addHelpText('after', `\nExemple :\n  $ ${SERVER} terminal ${name} 0a1badae951f8473`)
    .action(async (serial: string, opts: { db: string }) =>
      withStorage(opts.db, async (storage) => {
        const t = await audited(
        storage,
          (tx) => tx.catalogue.setTerminalActif(serial, actif),
          (t) => (t.changed ? `Terminal ${t.serial} ${t.actif ? 'activé' : 'désactivé'}` : null),
        );
        const said = t.changed ? (t.actif ? 'activé' : 'désactivé') : t.actif ? 'déjà actif : rien n’a changé' : 'déjà désactivé : rien n’a changé';
        process.stdout.write(printable(`Terminal ${t.serial} ${said}.`) + '\n');
      }),
    );
}

const relais = program
  .command('relais')
  .description('gère les relais enregistrés (ils signent ce qu’ils transmettent, pour les caisses de leurs boutiques)')
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} relais add "Relais Gombe" --boutique 3\n  $ ${SERVER} relais list`);
const boutiqueIds = (text: string, previous: number[] = []) => [...previous, integer('boutique', 1)(text)];
relais
  .command('add')
  .description('enregistre un relais pour une ou plusieurs boutiques : son id et son secret sont affichés une seule fois')
  .argument('<nom>', 'nom du relais')
  .requiredOption('--boutique <id>', 'boutique desservie (répétable)', boutiqueIds)
  .option('--json', 'sortie JSON {"id", "secret"}', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} relais add "Relais Gombe" --boutique 3 --boutique 4`)
  .action(async (nom: string, opts: { boutique: number[]; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const added = await audited(
        storage,
        (tx) => tx.relays.add(nom, opts.boutique),
        (r) => `Relais ${r.id} « ${nom.trim()} » enregistré (boutiques ${opts.boutique.join(', ')}), secret émis`,
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(added)}\n`);
      process.stdout.write(
        printable(`Relais ${added.id} « ${nom.trim()} » enregistré (boutiques ${opts.boutique.join(', ')}).`) + '\n' +
          `Secret (affiché une seule fois, à donner au relais dans un fichier protégé) :\n${added.secret}\n`,
      );
    }),
  );
relais
  .command('list')
  .description('liste les relais enregistrés avec leur dernier rapport (jamais leur secret) : signale les silencieux et les retards')
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText(
    'after',
    '\nRAPPORT : heure (de cet ordinateur) du dernier rapport du relais ; ATTENTE : ventes en attente sur le relais ;\n' +
      'DEPUIS : âge de la plus ancienne ; REJET. : ventes refusées qui attendent une décision en boutique.\n' +
      `\nExemple :\n  $ ${SERVER} relais list --json`,
  )
  .action(async (opts: { json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const rows = await storage.relays.overview(new Date());
      printList(rows, opts.json, RELAY_LIST_COLUMNS, relayListRow);
      if (!opts.json) for (const note of relayListNotes(rows)) process.stdout.write(`${note}\n`);
    }),
  );
relais
  .command('disable')
  .description('désactive un relais : ses requêtes reçoivent 401 RELAY_NOT_FOUND')
  .argument('<id>', 'id du relais', integer('id', 1))
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} relais disable 1`)
  .action(async (id: number, opts: { db: string }) =>
    withStorage(opts.db, async (storage) => {
      const changed = await audited(
        storage, (tx) => tx.relays.disable(id), (changed) => (changed ? `Relais ${id} désactivé` : null));
      process.stdout.write(changed ? `Relais ${id} désactivé.\n` : `Relais ${id} déjà désactivé : rien n’a changé.\n`);
    }),
  );
relais
  .command('secret')
  .description("remplace le secret d'un relais (l'ancien cesse aussitôt de marcher) : affiché une seule fois")
  .argument('<id>', 'id du relais', integer('id', 1))
  .option('--rotate', 'obligatoire : confirme le remplacement', false)
  .option('--json', 'sortie JSON {"id", "secret"}', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} relais secret 1 --rotate`)
  .action(async (id: number, opts: { rotate: boolean; json: boolean; db: string }) => {
    if (!opts.rotate) return fail(`le relais ${id} a déjà un secret : ajoutez --rotate pour le remplacer (l'ancien cessera aussitôt de marcher)`);
    await withStorage(opts.db, async (storage) => {
      const rotated = await audited(
        storage, (tx) => tx.relays.rotate(id), (r) => `Secret du relais ${r.id} remplacé (l’ancien ne marche plus)`);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(rotated)}\n`);
      process.stdout.write(`Nouveau secret du relais ${id} (affiché une seule fois) :\n${rotated.secret}\n`);
    });
  });

const article = program
  .command('article')
  .description('gère les articles')
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} article add "Samsung S24" --boutique 2 --prix 40000 --stock 10\n  $ ${SERVER} article list --boutique 2`);
article
  .command('add')
  .description('ajoute un article à une boutique')
  .argument('<nom>', "nom de l'article")
  .requiredOption('--boutique <id>', 'boutique', integer('boutique', 1))
  .requiredOption('--prix <montant>', 'prix de vente, ex. 40000 ou 19.99', money)
  .option('--stock <quantite>', 'stock initial (mouvement ENTREE)', integer('stock', 0), 0)
  .option('--id <id>', 'identifiant voulu (sinon le suivant)', integer('id', 1))
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} article add "Samsung S24" --boutique 2 --prix 40000 --stock 10`)
  .action(async (nom: string, opts: { boutique: number; prix: number; stock: number; id?: number; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const a = await audited(
        storage,
        (tx) =>
          tx.catalogue.addArticle(
            { id: opts.id ?? null, boutique_id: opts.boutique, nom, prix_vente: opts.prix, stock: opts.stock },
            new Date(),
          ),
        (a) => `Article ${a.id} « ${a.nom} » ajouté à la boutique ${a.boutique_id} : ${formatMoney(a.prix_vente)}, stock ${a.quantite_stock}`,
      );
      process.stdout.write(`Article ${a.id} « ${a.nom} » ajouté : ${formatMoney(a.prix_vente)}, stock ${a.quantite_stock}.\n`);
    }),
  );
article
  .command('list')
  .description('liste les articles avec leur stock')
  .option('--boutique <id>', 'une seule boutique', integer('boutique', 1))
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} article list --boutique 2 --json`)
  .action(async (opts: { boutique?: number; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const rows = (await storage.catalogue.listArticles(opts.boutique)).map((a) => ({ ...a, prix_vente: formatMoney(a.prix_vente) }));
      printList(rows, opts.json, [['id', 'ID'], ['boutique_id', 'BOUTIQUE'], ['nom', 'NOM'], ['prix_vente', 'PRIX'], ['quantite_stock', 'STOCK']]);
    }),
  );

/** A stock change as the audit tells it. */
const stockChange = (m: MouvementRow) =>
  `Stock de ${m.article_nom} (article ${m.article_id}) : ${m.stock_avant} → ${m.stock_apres} (${m.type} ${m.quantite >= 0 ? '+' : ''}${m.quantite}${m.reference ? `, réf. ${m.reference}` : ''})`;

const stock = program
  .command('stock')
  .description('change le stock (chaque changement laisse un mouvement)')
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} stock add 6 20   # livraison\n  $ ${SERVER} stock set 6 12   # inventaire\n  $ ${SERVER} stock negatif      # articles sous zéro`);
stock
  .command('add')
  .description('enregistre une livraison : ajoute QTE au stock (mouvement ENTREE)')
  .argument('<article>', "id de l'article", integer('article', 1))
  .argument('<qte>', 'quantité livrée', integer('quantité', 1))
  .option('--reference <texte>', 'référence du bon de livraison', reference, 'livraison')
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} stock add 6 20 --reference BL-2025-118`)
  .action(async (articleId: number, qte: number, opts: { reference: string; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const m = await audited(
        storage, (tx) => tx.catalogue.addStock(articleId, qte, new Date(), opts.reference), stockChange);
      process.stdout.write(`Stock de ${m.article_nom} : ${m.stock_avant} → ${m.stock_apres} (ENTREE +${m.quantite}).\n`);
    }),
  );
stock
  .command('set')
  .description("enregistre un inventaire : fixe le stock à QTE (mouvement AJUSTEMENT)")
  .argument('<article>', "id de l'article", integer('article', 1))
  .argument('<qte>', 'quantité comptée', integer('quantité', 0))
  .option('--reference <texte>', "référence de l'inventaire", reference, 'inventaire')
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} stock set 6 12`)
  .action(async (articleId: number, qte: number, opts: { reference: string; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const m = await audited(
        storage, (tx) => tx.catalogue.setStock(articleId, qte, new Date(), opts.reference), stockChange);
      process.stdout.write(`Stock de ${m.article_nom} : ${m.stock_avant} → ${m.stock_apres} (AJUSTEMENT ${m.quantite >= 0 ? '+' : ''}${m.quantite}).\n`);
    }),
  );

addRapportCommand(program, { server: SERVER, dbOption, boutiqueId: integer('boutique', 1), withStorage, fail });
addMigrateCommand(program, { server: SERVER, fail });

stock
  .command('negatif')
  .description('liste les articles au stock sous zéro (ventes faites hors ligne), avec les ventes qui les y ont mis')
  .option('--boutique <id>', 'une seule boutique', integer('boutique', 1))
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText(
    'after',
    `\nUne vente transmise par un relais (ou d'une boutique en --stock-negatif autoriser) est créée même si le stock manque :\n` +
      `le stock passe sous zéro. Une livraison (stock add) ou un inventaire (stock set) le ramène.\n` +
      `Au plus ${MAX_STOCK_NEGATIF_ARTICLES} articles, ${MAX_STOCK_NEGATIF_VENTES} ventes chacun.\n` +
      `\nExemples :\n  $ ${SERVER} stock negatif\n  $ ${SERVER} stock negatif --boutique 2 --json`,
  )
  .action(async (opts: { boutique?: number; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      // An unknown boutique is a mistake to say, not "nothing below zero".
      if (opts.boutique !== undefined) await storage.catalogue.getBoutique(opts.boutique);
      const articles = await storage.reader.stockNegatif(opts.boutique ?? null);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(articles, null, 2)}\n`);
      if (articles.length === 0) return void process.stdout.write('Aucun article sous zéro.\n');
      const lines: string[] = [];
      for (const a of articles) {
        lines.push(`Article ${a.id} « ${a.nom} » (boutique ${a.boutique_id}) : stock ${a.quantite_stock}`);
        for (const v of a.ventes) {
          lines.push(
            `  vente ${v.numero_facture ?? '?'} (${v.terminal_serial ?? '?'}, ${v.date}) : -${v.quantite}, stock ${v.stock_avant} → ${v.stock_apres}`,
          );
        }
        if (a.ventes_omises > 0) lines.push(`  … et ${a.ventes_omises} vente(s) plus récente(s) non listée(s) (les ${a.ventes.length} plus anciennes ci-dessus)`);
      }
      lines.push(`Une livraison les ramène : ${SERVER} stock add ARTICLE QTE`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }),
  );

program
  .command('ventes')
  .description('consulte les ventes reçues')
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} ventes list --limit 10`)
  .command('list')
  .description('les dernières ventes reçues, les plus récentes en premier')
  .option('--boutique <id>', 'une seule boutique', integer('boutique', 1))
  .option('--limit <n>', `nombre de ventes (au plus ${MAX_VENTES_LIST})`, atMost(integer('limit', 1), MAX_VENTES_LIST), 50)
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} ventes list --boutique 2 --limit 10`)
  .action(async (opts: { boutique?: number; limit: number; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const rows = (await storage.reader.recentVentes(opts.boutique ?? null, opts.limit)).map((v) => ({ ...v, montant_total: formatMoney(v.montant_total), paye: v.paye === 1 }));
      printList(
        rows,
        opts.json,
        [
          ['numero_facture', 'NUMERO'],
          ['boutique_id', 'BOUTIQUE'],
          ['terminal', 'TERMINAL'],
          ['date_vente', 'DATE'],
          ['montant_total', 'MONTANT'],
          ['mode_paiement', 'PAIEMENT'],
          ['paye', 'PAYE'],
          ['nombre_lignes', 'LIGNES'],
        ],
        (v) => ({ ...v, paye: v.paye ? 'oui' : 'non' }),
      );
    }),
  );

program
  .command('mouvements')
  .description('consulte les mouvements de stock')
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} mouvements list --article 6`)
  .command('list')
  .description('les derniers mouvements de stock, les plus récents en premier')
  .option('--article <id>', 'un seul article', integer('article', 1))
  .option('--limit <n>', 'nombre de mouvements', integer('limit', 1), 100)
  .option('--json', 'sortie JSON', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} mouvements list --article 6`)
  .action(async (opts: { article?: number; limit: number; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      printList(await storage.catalogue.listMouvements(opts.article ?? null, opts.limit), opts.json, [
        ['date', 'DATE'],
        ['article_id', 'ARTICLE'],
        ['article_nom', 'NOM'],
        ['type', 'TYPE'],
        ['quantite', 'QTE'],
        ['stock_avant', 'AVANT'],
        ['stock_apres', 'APRES'],
        ['reference', 'REFERENCE'],
        ['terminal_serial', 'TERMINAL'],
      ]);
    }),
  );

program
  .command('audit')
  .description('qui a changé quoi depuis cette ligne de commande (stock, catalogue, terminaux, relais, secrets)')
  .addHelpText('after', `\nExemple :\n  $ ${SERVER} audit list --depuis 2026-11-01`)
  .command('list')
  .description('les changements, les plus récents en premier, avec leur heure (de cet ordinateur), le compte et la commande')
  .option('--depuis <date>', 'à partir de ce jour (AAAA-MM-JJ, heure de cet ordinateur)', (text: string) => {
    const start = localDayStart(text);
    if (!start) throw new InvalidArgumentError(`date invalide « ${text} » (AAAA-MM-JJ, ex. 2026-11-01)`);
    return start;
  })
  .option('--limit <n>', `nombre de changements (au plus ${MAX_AUDIT_LIMIT})`, (text: string) => {
    const n = integer('limit', 1)(text);
    if (n > MAX_AUDIT_LIMIT) throw new InvalidArgumentError(`limit : ${MAX_AUDIT_LIMIT} au plus`);
    return n;
  }, DEFAULT_AUDIT_LIMIT)
  .option('--json', 'sortie JSON (heures en UTC, ISO 8601)', false)
  .addOption(dbOption())
  .addHelpText('after', `\nExemples :\n  $ ${SERVER} audit list\n  $ ${SERVER} audit list --depuis 2026-11-01 --limit 20 --json`)
  .action(async (opts: { depuis?: Date; limit: number; json: boolean; db: string }) =>
    withStorage(opts.db, async (storage) => {
      const entries = await storage.audit.list({ depuis: opts.depuis ?? null, limit: opts.limit });
      process.stdout.write(`${opts.json ? JSON.stringify(entries, null, 2) : renderAuditTrail(entries)}\n`);
    }),
  );

// `ventesync-… list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// Anything else (a database from a newer version, a locked or unreadable file…): the message,
// with the same prefix, never a stack trace.
try {
  await program.parseAsync(process.argv);
} catch (error) {
  fail(explainStorageError(error));
}
