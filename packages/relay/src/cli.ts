#!/usr/bin/env -S node --max-semi-space-size=8
// The flag caps V8's young generation: under a burst of tills the relay otherwise grows it
// to 48 MB and passes 150 MB of memory on a shop PC it shares with other programs.
import {
  auditSource,
  commandNames,
  DEFAULT_AUDIT_LIMIT,
  frenchCommander,
  onlyOnce,
  printable,
  MAX_AUDIT_LIMIT,
  relayCommand,
  renderAuditTrail,
  shellWord,
} from '@ventesync/runtime/cli';
import { hasUnprintable, UNPRINTABLE_MESSAGE } from '@ventesync/shared';
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'undici';
import { audited as auditedChange, createAuditLog } from '@ventesync/runtime/sqlite';
import { probeDaemon } from './daemon-probe.js';
import { type Db, openDatabase } from './db/open-database.js';
import { describeError } from './describe-error.js';
import { parseDuration } from './duration.js';
import { MAX_ANSWER_DEADLINE_MS } from './upstream.js';
import { type Column, commandLines, fitTable, SCREEN_COLUMNS, wrap } from './fit-table.js';
import { formatWhen, type TimeStyle } from './format-time.js';
import { montantOf, publicVente, renderReceipt, saleRecord } from './receipt.js';
import { createRelayStore, type HeldStatut, type HeldVente, type RelayStore } from './relay-store.js';
import { renderStatus, statusReport } from './status-report.js';
import { retourLine, retourRecord, retryRetours } from './retour-view.js';
import {
  ambiguousWords,
  discardRefusalWords,
  discardRetour,
  discardSale,
  MAX_DISCARD_REASON_CHARS,
  retryAllSales,
  retryRefusalWords,
  retrySales,
} from './sale-decisions.js';

const DEFAULT_DB = process.env.VENTESYNC_RELAY_DB ?? './data/relay.db';
/** Set once the options are read: suggested commands then keep the `--db` the person typed. */
const COMMANDS = commandNames();
/** `relay X` as a person types it next, on the same file. */
const again = (args: string) => relayCommand(COMMANDS, args);
/** Rows a list shows people at once; `--offset` pages on, `--json` takes more. */
const PAGE_FOR_PEOPLE = 200;
const PAGE_FOR_SCRIPTS = 10_000;

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

/**
 * `start`'s periodic send, at most once a day: Node's timers fire at once past about 24.8
 * days, so a larger value would send in a tight loop instead of rarely.
 */
const MAX_INTERVAL_MS = 24 * 3_600_000;

/** A duration of at most `maxMs` (`max`: the same in words). */
function durationUpTo(maxMs: number, max: string): (text: string) => number {
  return (text) => {
    const ms = duration(text);
    if (ms > maxMs) throw new InvalidArgumentError(`au plus ${max} (« ${text} » est trop long)`);
    return ms;
  };
}

/** How the relay's file is chosen, for a person who named one that does not exist. */
const FILE_CHOICE = `le fichier du relais est celui de --db, sinon de la variable VENTESYNC_RELAY_DB, sinon ./data/relay.db`;

/**
 * Read and staff commands open the file directly: they work whether the daemon runs or not.
 * Only `start` creates the file: a mistyped `--db` must not read as an empty, stopped relay.
 */
async function withStore(file: string, run: (store: RelayStore, db: Db) => void | Promise<void>): Promise<void> {
  if (file !== ':memory:' && !existsSync(file)) {
    return fail(`aucun fichier de relais « ${file} » : vérifiez le chemin (${FILE_CHOICE} ; ${COMMANDS.relay} start le crée).`);
  }
  const db = openDatabase(file);
  try {
    await run(createRelayStore(db), db);
  } finally {
    db.close();
  }
}

/**
 * Every command that changes the relay's file goes through here: the change and its audit row
 * (when, the OS user, the command as typed with secret values removed, what it did) in one
 * transaction, so neither is ever kept without the other. `describe` says what changed, in
 * words; null when nothing changed (no row then).
 */
function audited<T>(db: Db, change: () => T, describe: (result: T) => string | null): T {
  return auditedChange(db, auditSource(COMMANDS.relay), change, describe);
}

/**
 * Everything said on the terminal goes through `printable`, line by line: names of terminals
 * and boutiques, the server's refusal reasons, a reason typed on the shop page come from
 * outside and may hold ESC, BEL, C1 or bidi characters that would drive the terminal.
 * (JSON keeps its meaning: a character escaped inside a string is the same character.)
 */
const shown = (text: string): string => text.split('\n').map(printable).join('\n');
const out = (text: string): void => {
  process.stdout.write(`${shown(text)}\n`);
};
const fail = (text: string) => {
  process.stderr.write(`Erreur : ${shown(text)}\n`);
  process.exitCode = 1;
};

interface ViewOptions {
  json: boolean;
  wide: boolean;
  utc: boolean;
}
const timeStyle = (opts: { utc: boolean }): TimeStyle => ({ now: new Date(), utc: opts.utc });
const widthOf = (opts: { wide: boolean }) => (opts.wide ? Number.POSITIVE_INFINITY : SCREEN_COLUMNS);

/**
 * A page of sales in one state, for people (a table per till, in 80 columns) or scripts; it
 * always says how many more there are, never stopping silently.
 */
function printSales(
  store: RelayStore,
  statut: HeldStatut,
  opts: ViewOptions & { serial?: string; limit?: number; offset: number },
  columns: (wide: boolean) => Array<Column<Record<string, string>>>,
  row: (v: HeldVente, style: TimeStyle) => Record<string, string>,
): void {
  const limit = opts.limit ?? (opts.json ? PAGE_FOR_SCRIPTS : PAGE_FOR_PEOPLE);
  const total = store.countStatut(statut, opts.serial ?? null);
  const sales = store.byStatut(statut, opts.serial ?? null, limit, opts.offset);
  if (opts.json) {
    // One list for scripts, paged as a whole: the sales as before (each `type: "vente"`), then
    // the returns in the same state (`type: "retour"`, numero_retour and the sale's numero_facture).
    const serial = opts.serial ?? null;
    const retoursTotal = store.retours.countStatut(statut, serial);
    const retoursOffset = Math.max(0, opts.offset - total);
    const retours = store.retours.byStatut(statut, serial, limit - sales.length, retoursOffset);
    const rest = Math.max(0, total + retoursTotal - opts.offset - sales.length - retours.length);
    out(JSON.stringify([...sales.map((v) => ({ type: 'vente', ...publicVente(v) })), ...retours.map((r) => ({ type: 'retour', ...retourRecord(r) }))], null, 2));
    const shownCount = sales.length + retours.length;
    if (rest > 0) process.stderr.write(`${shown(`… et ${rest} autre(s) : ajoutez --offset ${opts.offset + shownCount} pour la suite`)}\n`);
    return;
  }
  const rest = Math.max(0, total - opts.offset - sales.length);
  const more = rest > 0 ? `… et ${rest} autre(s) : ajoutez --offset ${opts.offset + sales.length} pour la suite` : null;
  if (sales.length === 0) return out(opts.offset > 0 ? `(aucune après les ${opts.offset} premières)` : '(aucune)');
  const style = timeStyle(opts);
  const bySerial = new Map<string, HeldVente[]>();
  for (const v of sales) bySerial.set(v.serial, [...(bySerial.get(v.serial) ?? []), v]);
  const blocks = [...bySerial].map(([serial, list]) => {
    const t = store.terminal(serial);
    const title = t?.terminal_nom && t.terminal_nom !== serial ? `${t.terminal_nom} (${serial})` : serial;
    const heading = wrap(`${title}${t?.boutique_nom ? `, ${t.boutique_nom}` : ''} : ${list.length}`, widthOf(opts)).join('\n');
    return `${heading}\n${fitTable(list.map((v) => row(v, style)), columns(opts.wide), widthOf(opts))}`;
  });
  out(blocks.join('\n\n'));
  if (more) out(more);
}

/** Held returns in one state, after the sales, for people (--json has them in printSales' list). */
function printRetours(store: RelayStore, statut: HeldStatut, opts: ViewOptions & { serial?: string }): void {
  if (opts.json) return;
  const list = store.retours.byStatut(statut, opts.serial ?? null, PAGE_FOR_PEOPLE);
  if (list.length === 0) return;
  out('');
  out(`Retours : ${list.length}${list.length === PAGE_FOR_PEOPLE ? ' (les plus anciens)' : ''}`);
  for (const r of list) say(retourLine(store, r, timeStyle(opts)), '  ');
}

/** Why a waiting sale waits, in words: the server's verdict first, else its till's trouble. */
function waitingReason(store: RelayStore, v: HeldVente, style: TimeStyle): string {
  if (v.code_erreur) {
    return `refus du serveur : ${v.erreur ?? v.code_erreur}${v.prochaine_tentative ? ` ; nouvel essai ${formatWhen(v.prochaine_tentative, style)}` : ''}`;
  }
  if (v.en_vol) return 'en cours d’envoi';
  const t = store.terminal(v.serial);
  if (t?.statut === 'INCONNU') return 'terminal refusé par le serveur (inconnu ou désactivé)';
  if (t?.derniere_erreur) return describeError(t.derniere_erreur);
  return v.tentatives === 0 ? 'envoi au prochain passage' : 'nouvel envoi au prochain passage';
}

const dbOption = ['--db <fichier>', 'fichier SQLite du relais', DEFAULT_DB] as const;

const program = frenchCommander(new Command(COMMANDS.relay), Help)
  .description('Relais ventesync en boutique : garde les ventes des caisses et les transmet au serveur central, même après une coupure.')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Base du relais : --db FICHIER, sinon $VENTESYNC_RELAY_DB, sinon ./data/relay.db.

Exemples :
  $ ${COMMANDS.relay} start --upstream http://serveur-central:8000
  $ ${COMMANDS.relay} status
  $ ${COMMANDS.relay} rejected
  $ ${COMMANDS.relay} retry VENTE-001`,
  );

program
  .command('start')
  .description('démarre le relais : les caisses lui envoient leurs ventes comme au serveur')
  .requiredOption('--upstream <url>', 'adresse du serveur central, ex. http://serveur:8000')
  .option(...dbOption)
  .option('--host <adresse>', "adresse d'écoute", '0.0.0.0')
  .option('--port <port>', "port d'écoute", integer('port', 0, 65535), 8001)
  .option('--batch-size <n>', 'ventes par envoi au serveur (1 à 500)', integer('batch-size', 1, 500), 100)
  .addOption(new Option('--interval <durée>', `envoi périodique, ex. 30s, 5m (au plus ${MAX_INTERVAL_MS / 3_600_000}h)`).argParser(durationUpTo(MAX_INTERVAL_MS, `${MAX_INTERVAL_MS / 3_600_000}h`)).default(30_000, '30s'))
  .addOption(
    new Option('--timeout <durée>', `durée maximale d'un envoi au serveur, réponse entière comprise (au plus ${MAX_ANSWER_DEADLINE_MS / 60_000}m)`)
      .argParser(durationUpTo(MAX_ANSWER_DEADLINE_MS, `${MAX_ANSWER_DEADLINE_MS / 60_000}m`))
      .default(30_000, '30s'),
  )
  .option('--stock-retries <n>', 'envois d\'une vente refusée pour stock avant de la rejeter (1 à 100)', integer('stock-retries', 1, 100), 5)
  .option('--pretty', 'journaux lisibles par une personne au lieu de JSON', false)
  .option('--relay-id <id>', 'relais enregistré sur le serveur (ventesync-server relais add), sinon $VENTESYNC_RELAY_ID')
  .option('--relay-secret-file <fichier>', 'fichier contenant le secret du relais, sinon $VENTESYNC_RELAY_SECRET_FILE ou $VENTESYNC_RELAY_SECRET ; jamais le secret sur la ligne de commande')
  .option('--ca <fichier>', 'autorité (PEM) qui a signé le certificat du serveur https://, pour une autorité privée')
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} start --upstream http://192.0.2.10:8000 --port 8001 --pretty`)
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
      relayId?: string;
      relaySecretFile?: string;
      ca?: string;
    }) => {
      try {
        new URL(opts.upstream);
      } catch {
        return fail(`--upstream : adresse invalide « ${opts.upstream} » (ex. http://serveur:8000)`);
      }
      const { loadRelayCredentials } = await import('./relay-credentials.js');
      // Errors never quote the secret (relay-credentials.ts).
      const loaded = loadRelayCredentials({ relayId: opts.relayId, relaySecretFile: opts.relaySecretFile });
      if (!loaded.ok) return fail(loaded.erreur);
      if (loaded.avertissement) process.stderr.write(`Attention : ${loaded.avertissement}\n`);
      let ca: Buffer | null = null;
      if (opts.ca !== undefined) {
        try {
          ca = readFileSync(opts.ca);
        } catch {
          return fail(`--ca : fichier illisible « ${opts.ca} » (le certificat PEM de l'autorité)`);
        }
        if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) return fail(`--ca : « ${opts.ca} » n'est pas un certificat PEM`);
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
          credentials: loaded.credentials,
          ca,
        }),
      );
    },
  );

program
  .command('status')
  .description('état du relais : ventes en attente, rejetées, dernière synchronisation, serveur joignable, par terminal')
  .option('--json', 'sortie JSON (détail brut des erreurs compris)', false)
  .option('--utc', 'heures en UTC plutôt qu’à l’heure de la machine', false)
  .option('--wide', 'sans limite de largeur', false)
  .option(...dbOption)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} status --json`)
  .action(async (opts: ViewOptions & { db: string }) =>
    withStore(opts.db, async (store) => {
      const daemon = await probeDaemon(store.getEtat('daemon_url'), store.getEtat('relais_id'));
      const report = statusReport(store, daemon, COMMANDS);
      out(opts.json ? JSON.stringify(report, null, 2) : renderStatus(report, timeStyle(opts), COMMANDS, widthOf(opts)));
    }),
  );

const pageOptions = (command: Command) =>
  command
    .option('--limit <n>', `ventes affichées (défaut ${PAGE_FOR_PEOPLE}, ${PAGE_FOR_SCRIPTS} avec --json)`, integer('limit', 1, 1_000_000))
    .option('--offset <n>', 'ventes à sauter (pour la suite d’une liste)', integer('offset', 0, Number.MAX_SAFE_INTEGER), 0)
    .option('--json', 'sortie JSON', false)
    .option('--utc', 'heures en UTC plutôt qu’à l’heure de la machine', false)
    .option('--wide', 'sans limite de largeur', false)
    .option(...dbOption);

pageOptions(
  program
    .command('pending')
    .description('ventes en attente de transmission, les plus anciennes en premier, avec ce qu’elles attendent')
    .option('--serial <serial>', 'un seul terminal'),
)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} pending --serial 0a1badae951f8473`)
  .action(async (opts: ViewOptions & { serial?: string; limit?: number; offset: number; db: string }) =>
    withStore(opts.db, (store) => {
      printSales(
        store,
        'EN_ATTENTE',
        opts,
        (wide) => [
          { key: 'numero_facture', title: 'NUMERO', ownLine: true },
          ...(wide ? [{ key: 'serial', title: 'TERMINAL' }] : []),
          { key: 'montant_total', title: 'MONTANT', right: true },
          { key: 'recue_le', title: 'RECUE' },
          { key: 'tentatives', title: 'ENVOIS', right: true },
          { key: 'situation', title: 'SITUATION', flex: true },
        ],
        (v, style) => ({
          numero_facture: v.numero_facture,
          serial: v.serial,
          montant_total: montantOf(v),
          recue_le: formatWhen(v.recue_le, style),
          tentatives: String(v.tentatives),
          situation: waitingReason(store, v, style),
        }),
      );
      printRetours(store, 'EN_ATTENTE', opts);
    }),
  );

pageOptions(program.command('rejected').description('ventes refusées par le serveur, avec sa raison : à corriger puis retry, ou discard'))
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} rejected --json`)
  .action(async (opts: ViewOptions & { limit?: number; offset: number; db: string }) =>
    withStore(opts.db, (store) => {
      printSales(
        store,
        'REJETEE',
        opts,
        (wide) => [
          { key: 'numero_facture', title: 'NUMERO', ownLine: true },
          ...(wide ? [{ key: 'serial', title: 'TERMINAL' }, { key: 'recue_le', title: 'RECUE' }] : []),
          { key: 'montant_total', title: 'MONTANT', right: true },
          { key: 'code_erreur', title: 'CODE' },
          { key: 'erreur', title: 'RAISON DU SERVEUR', flex: true },
        ],
        (v, style) => ({
          numero_facture: v.numero_facture,
          serial: v.serial,
          recue_le: formatWhen(v.recue_le, style),
          montant_total: montantOf(v),
          code_erreur: v.code_erreur ?? '',
          erreur: v.erreur ?? '',
        }),
      );
      printRetours(store, 'REJETEE', opts);
      if (!opts.json && (store.countStatut('REJETEE') > 0 || store.retours.summary().rejetes > 0)) {
        out('');
        suggest("Détail d'une vente :", again('show NUMERO'));
        suggest('Après correction sur le serveur (ou retry --all) :', again('retry NUMERO'));
        suggest("Pour ne pas l'envoyer :", again('discard NUMERO --reason "…"'));
      }
    }),
  );

program
  .command('show')
  .description("une vente comme un ticket : lignes, montants, état, et chaque envoi au serveur avec sa réponse")
  .argument('<numero>', 'numero_facture')
  .option('--json', 'sortie JSON', false)
  .option('--utc', 'heures en UTC plutôt qu’à l’heure de la machine', false)
  .option(...dbOption)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} show VENTE-001`)
  .action(async (numero: string, opts: { json: boolean; utc: boolean; db: string }) =>
    withStore(opts.db, (store) => {
      const sales = store.byNumero(numero);
      // A return's numero: the return, as it will be sent and where it stands.
      const retours = sales.length === 0 ? store.retours.byNumero(numero) : [];
      if (retours.length > 0) {
        // With every send and what came of it, as a sale's receipt lists them.
        const records = retours.map((r) => ({ ...retourRecord(r), envois: store.retours.tentatives(r.id) }));
        if (opts.json) return out(JSON.stringify(records.length === 1 ? records[0] : records, null, 2));
        return out(
          retours
            .map((r, i) =>
              [
                `${retourLine(store, r, timeStyle(opts))} (caisse ${r.serial})`,
                ...records[i]!.envois.map((t) => `  envoi ${formatWhen(t.le, timeStyle(opts))} : ${t.resultat}${t.code ? ` ${t.code}` : ''}${t.message ? ` — ${t.message}` : ''}`),
              ].join('\n'),
            )
            .join('\n'),
        );
      }
      if (sales.length === 0) return fail(`aucune vente ${numero} dans le relais (voir ${again('pending')}, ou rejected)`);
      if (opts.json) {
        const records = sales.map((v) => saleRecord(store, v));
        return out(JSON.stringify(records.length === 1 ? records[0] : records, null, 2));
      }
      out(sales.map((v) => renderReceipt(store, v, timeStyle(opts), COMMANDS)).join('\n\n'));
      const ofSale = store.retours.ofSale(numero);
      if (ofSale.length > 0) out(['', 'Retours de cette vente :', ...ofSale.map((r) => `  ${retourLine(store, r, timeStyle(opts))}`)].join('\n'));
    }),
  );

program
  .command('retry')
  .description('renvoie des ventes rejetées, abandonnées, ou en attente après un refus de stock, sans attendre')
  .argument('[numeros...]', 'numeros à renvoyer')
  .option('--all', 'toutes les ventes rejetées et celles en attente de stock', false)
  .option('--caisse <serial>', "seulement la vente (ou le retour) de cette caisse, quand plusieurs caisses ont le même numero")
  .option(...dbOption)
  .addHelpText('after', `\nExemples :\n  $ ${COMMANDS.relay} retry VENTE-001 VENTE-002\n  $ ${COMMANDS.relay} retry --all`)
  .action(async (numeros: string[], opts: { all: boolean; caisse?: string; db: string }) =>
    withStore(opts.db, async (store, db) => {
      if (!opts.all && numeros.length === 0) return fail('donnez au moins un numero, ou --all');
      let count: number;
      let retours: string[] = [];
      if (opts.all) {
        const all = audited(db, () => retryAllSales(store), (o) =>
          o.count > 0
            ? `${o.count} vente(s) rejetée(s) ou en attente de stock remise(s) en attente (--all)` +
              (o.retours.length > 0 ? ` ; avec elles ${o.retours.length} retour(s) refusé(s) faute de vente : ${o.retours.join(', ')}` : '')
            : null,
        );
        count = all.count;
        retours = all.retours;
        if (retours.length > 0) out(`${retours.length} retour(s) refusé(s) faute de vente remis en attente, après leur vente : ${retours.join(', ')}`);
      } else {
        const serial = opts.caisse ?? null;
        const outcome = audited(db, () => retrySales(store, numeros, new Date(), serial), (o) => {
          const done = numeros.filter((n) => !o.sending.includes(n) && !o.missing.includes(n));
          return o.count > 0
            ? `${o.count} vente(s) remise(s) en attente : ${done.join(', ')}` +
                (o.retours.length > 0 ? ` ; avec elles ${o.retours.length} retour(s) refusé(s) faute de vente : ${o.retours.join(', ')}` : '')
            : null;
        });
        if (outcome.retours.length > 0) {
          out(`${outcome.retours.length} retour(s) refusé(s) faute de vente remis en attente, après leur vente : ${outcome.retours.join(', ')}`);
        }
        // Numeros that are no sale may be returns (refused or discarded ones go back to waiting).
        const asRetourOutcome =
          outcome.missing.length > 0
            ? audited(db, () => retryRetours(store, outcome.missing, serial), (r) => (r.done.length > 0 ? `${r.done.length} retour(s) remis en attente : ${r.done.join(', ')}` : null))
            : { done: [], ambiguous: [] };
        const asRetours = asRetourOutcome.done;
        if (asRetours.length > 0) out(`${asRetours.length} retour(s) remis en attente.`);
        retours = [...outcome.retours, ...asRetours];
        const retourAmbiguous = asRetourOutcome.ambiguous[0];
        const refused = retourAmbiguous
          ? ambiguousWords('retour', retourAmbiguous.numero, retourAmbiguous.caisses, again(`retry ${retourAmbiguous.numero}`))
          : retryRefusalWords({ ...outcome, missing: outcome.missing.filter((n) => !asRetours.includes(n)) }, again);
        if (refused) fail(refused);
        count = outcome.count;
      }
      if (count > 0 || retours.length === 0) out(`${count} vente(s) remise(s) en attente.`);
      if (count + retours.length > 0) await askDaemonToSync(store, true);
    }),
  );

program
  .command('discard')
  .description("abandonne une vente (décision d'une personne, gardée dans le dossier) : elle ne sera plus envoyée")
  .argument('<numero>', 'numero_facture (ou numero_retour)')
  .requiredOption('--reason <texte>', 'pourquoi (gardé avec la vente)')
  .option('--caisse <serial>', 'seulement la vente (ou le retour) de cette caisse, quand plusieurs caisses ont le même numero')
  .option(...dbOption)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} discard VENTE-001 --reason "vente annulée, client remboursé"`)
  .action(async (numero: string, opts: { reason: string; caisse?: string; db: string }) =>
    withStore(opts.db, (store, db) => {
      if (opts.reason.trim() === '') return fail('--reason ne doit pas être vide');
      if (opts.reason.length > MAX_DISCARD_REASON_CHARS) return fail(`--reason : ${MAX_DISCARD_REASON_CHARS} caractères au plus`);
      if (hasUnprintable(opts.reason)) return fail(`--reason ${UNPRINTABLE_MESSAGE}`);
      const serial = opts.caisse ?? null;
      const which = serial === null ? '' : ` (caisse ${serial})`;
      const commands = { show: again(`show ${numero}`), sync: again('sync'), discard: again(`discard ${numero} --reason ${shellWord(opts.reason)}`) };
      const outcome = audited(db, () => discardSale(store, numero, opts.reason, new Date(), serial), (o) => (o.ok ? `Vente ${numero}${which} abandonnée : ${opts.reason}` : null));
      if (outcome.ok) return out(`Vente ${numero}${which} abandonnée : ${opts.reason}`);
      if (outcome.refusal !== 'INTROUVABLE') return fail(discardRefusalWords(outcome.refusal, numero, commands, { caisses: outcome.caisses }));
      // No such sale: maybe a return (refused, or waiting), with the same rules.
      const asRetour = audited(db, () => discardRetour(store, numero, opts.reason, new Date(), serial), (o) => (o.ok ? `Retour ${numero}${which} abandonné : ${opts.reason}` : null));
      if (asRetour.ok) return out(`Retour ${numero}${which} abandonné : ${opts.reason}`);
      const anyRetour = store.retours.candidates(numero, serial).length > 0;
      fail(discardRefusalWords(asRetour.refusal, numero, commands, { genre: anyRetour ? 'retour' : 'vente', caisses: asRetour.caisses }));
    }),
  );

interface SyncBody {
  envoyees?: number;
  synchronisees?: number;
  rejetees?: number;
  en_attente_stock?: number;
  retours_synchronises?: number;
  retours_rejetes?: number;
  erreurs?: string[];
}

/**
 * What a sync did, in a sentence: what the server now has, what it refused, what still waits.
 * `envoyees` counts sales, not sends (a sale sent again in the same sync is one sale). Nothing
 * sent while sales wait is never "nothing to send": the problems below say why.
 */
function syncSummary(body: SyncBody, waiting: number): string {
  const sent = body.envoyees ?? 0;
  const answered = (body.synchronisees ?? 0) + (body.rejetees ?? 0) + (body.en_attente_stock ?? 0);
  // Tried, and the server answered for none (away, full disk…): that is not "sent".
  if (sent > 0 && answered === 0 && (body.erreurs ?? []).length > 0) {
    return `Synchronisation : aucune vente transmise, ${waiting} vente(s) attendent :`;
  }
  if (sent === 0) {
    if (waiting === 0) return 'Synchronisation : rien à envoyer pour le moment.';
    return (body.erreurs ?? []).length > 0
      ? `Synchronisation : rien n'a pu être envoyé, ${waiting} vente(s) attendent :`
      : `Synchronisation : rien d'envoyé maintenant, ${waiting} vente(s) attendent leur prochain essai (${again('pending')}).`;
  }
  const parts = [`${body.synchronisees ?? 0} reçue(s) par le serveur`];
  if (body.en_attente_stock) parts.push(`${body.en_attente_stock} refusée(s) pour l'instant (stock)`);
  if (body.rejetees) parts.push(`${body.rejetees} rejetée(s)`);
  const unanswered = sent - (body.synchronisees ?? 0) - (body.en_attente_stock ?? 0) - (body.rejetees ?? 0);
  if (unanswered > 0) parts.push(`${unanswered} toujours en attente`);
  return `Synchronisation : ${sent} vente(s) envoyée(s) : ${parts.join(', ')}.`;
}

/** A command to type, after its words if it fits, else on a line of its own: never broken. */
function suggest(words: string, command: string): void {
  const line = `${words} ${command}`;
  out(line.length <= SCREEN_COLUMNS ? line : [words, ...commandLines(command, '    ')].join('\n'));
}

/** A line of the sync's answer in 80 columns, its continuation indented under its text. */
function say(text: string, indent = ''): void {
  const [first, ...rest] = wrap(text, SCREEN_COLUMNS - indent.length);
  out(`${indent}${first ?? ''}`);
  for (const more of rest) out(`${indent}  ${more}`);
}

async function askDaemonToSync(store: RelayStore, quiet = false): Promise<void> {
  const url = store.getEtat('daemon_url');
  if (!url) {
    if (!quiet) fail(`le relais n'est pas en marche (${again('start …')})`);
    else out(`Le relais n'est pas en marche : elles partiront à son démarrage.`);
    return;
  }
  try {
    const res = await request(`${url}/relay/sync`, { method: 'POST', headersTimeout: 120_000 });
    const body = (await res.body.json()) as SyncBody;
    if (res.statusCode !== 200) return fail(`le relais a répondu ${res.statusCode}`);
    say(syncSummary(body, store.countStatut('EN_ATTENTE')));
    if (body.retours_synchronises || body.retours_rejetes) {
      say(`Retours : ${body.retours_synchronises ?? 0} reçu(s) par le serveur${body.retours_rejetes ? `, ${body.retours_rejetes} rejeté(s)` : ''}.`);
    }
    for (const e of new Set(body.erreurs ?? [])) {
      const at = e.indexOf(' : ');
      say(`problème (terminal ${at > 0 ? `${e.slice(0, at)}) : ${describeError(e.slice(at + 3))}` : `?) : ${describeError(e)}`}`, '  ');
    }
    if (body.rejetees || body.retours_rejetes) suggest('  à traiter :', again('rejected'));
    if (body.en_attente_stock) suggest('  après correction du stock sur le serveur :', again('retry --all'));
  } catch {
    if (!quiet) fail(`le relais ne répond pas à ${url} : est-il en marche ? (${again('status')})`);
    else out(`Le relais ne répond pas à ${url} : elles partiront à son prochain passage.`);
  }
}

program
  .command('sync')
  .description('demande au relais en marche de transmettre maintenant, sans attendre (refus de stock compris)')
  .option(...dbOption)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} sync`)
  .action(async (opts: { db: string }) => withStore(opts.db, (store) => askDaemonToSync(store)));

program
  .command('reconcile')
  .description("compare, caisse par caisse, les ventes synchronisées d'un jour avec celles du serveur, au centime (sortie 1 : désaccord, 2 : serveur injoignable)")
  .option('--jour <AAAA-MM-JJ>', 'le jour local de la boutique (défaut : hier)', onlyOnce(InvalidArgumentError))
  .option('--json', 'sortie JSON (listes entières)', false)
  .option('--upstream <url>', 'serveur central à interroger (défaut : celui du dernier démarrage du relais)')
  .option('--relay-id <id>', 'relais enregistré : signe les demandes comme start (sinon $VENTESYNC_RELAY_ID)')
  .option('--relay-secret-file <fichier>', 'fichier du secret du relais (sinon $VENTESYNC_RELAY_SECRET_FILE ou $VENTESYNC_RELAY_SECRET)')
  .option('--ca <fichier>', 'autorité (PEM) du certificat du serveur https://, comme pour start')
  .option(...dbOption)
  .addHelpText('after', `\nExemples :\n  $ ${COMMANDS.relay} reconcile\n  $ ${COMMANDS.relay} reconcile --jour 2025-10-29 --json`)
  .action(async (opts: { jour?: string; json: boolean; upstream?: string; relayId?: string; relaySecretFile?: string; ca?: string; db: string }) => {
    const { relayUpstream, runReconcileCommand } = await import('./reconcile-command.js');
    const io = { out, err: (text: string) => void process.stderr.write(`${shown(text)}\n`) };
    process.exitCode = await runReconcileCommand(opts, io, relayUpstream(opts));
  });

program
  .command('purge')
  .description('efface les ventes synchronisées depuis plus longtemps que la durée donnée (jamais les autres)')
  .requiredOption('--older-than <durée>', 'ex. 30d', duration)
  .option(...dbOption)
  .addHelpText('after', `\nExemple :\n  $ ${COMMANDS.relay} purge --older-than 30d`)
  .action(async (opts: { olderThan: number; db: string }) =>
    withStore(opts.db, (store, db) => {
      const before = new Date(Date.now() - opts.olderThan);
      const n = audited(db, () => store.purgeSynced(before), (n) => (n > 0 ? `${n} vente(s) synchronisée(s) avant le ${before.toISOString()} effacée(s)` : null));
      out(`${n} vente(s) synchronisée(s) effacée(s).`);
      const r = audited(db, () => store.retours.purgeSynced(before), (r) => (r > 0 ? `${r} retour(s) synchronisé(s) avant le ${before.toISOString()} effacé(s)` : null));
      if (r > 0) out(`${r} retour(s) synchronisé(s) effacé(s).`);
    }),
  );

program
  .command('audit')
  .description('qui a changé quoi depuis cette ligne de commande (retry, discard, purge), les plus récents en premier')
  .option('--limit <n>', `nombre de changements (au plus ${MAX_AUDIT_LIMIT})`, integer('limit', 1, MAX_AUDIT_LIMIT), DEFAULT_AUDIT_LIMIT)
  .option('--json', 'sortie JSON (heures en UTC, ISO 8601)', false)
  .option(...dbOption)
  .addHelpText('after', `\nExemples :\n  $ ${COMMANDS.relay} audit\n  $ ${COMMANDS.relay} audit --limit 10 --json`)
  .action(async (opts: { limit: number; json: boolean; db: string }) =>
    withStore(opts.db, (_store, db) => {
      const entries = createAuditLog(db).list({ depuis: null, limit: opts.limit });
      out(opts.json ? JSON.stringify(entries, null, 2) : renderAuditTrail(entries, SCREEN_COLUMNS));
    }),
  );

// `ventesync-… list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// Suggested commands act on the file this one did: `--db` typed is kept in them.
program.hook('preAction', (_program, command) => {
  if (command.getOptionValueSource('db') === 'cli') COMMANDS.relayFile = `--db ${shellWord(String(command.opts().db))}`;
});

await program.parseAsync(process.argv);
