import { formatMoney, multiplyMoney, parseMoney } from '@ventesync/shared';
import type { CommandNames } from '@ventesync/runtime/cli';
import { describeError } from './describe-error.js';
import { type NextStep, nextStep } from './next-step.js';
import { commandLines, SCREEN_COLUMNS, wrap } from './fit-table.js';
import { formatDateTime, formatWhen, relative, type TimeStyle } from './format-time.js';
import { describeWarning, type HeldVente, type RelayStore, type SaleWarning, type Tentative, type TentativeResultat } from './relay-store.js';

interface WireLigne {
  article_id: number;
  quantite: number;
  prix_unitaire?: string;
}
interface WireVente {
  mode_paiement?: string;
  paye?: boolean;
  date_vente?: string;
  lignes?: WireLigne[];
}

const LABEL = 13;

const STATES: Record<HeldVente['statut'], string> = {
  EN_ATTENTE: 'EN ATTENTE — le relais la garde et la transmettra',
  SYNCHRONISEE: 'SYNCHRONISÉE — le serveur l’a',
  REJETEE: 'REJETÉE — le serveur la refuse : une personne doit décider',
  ABANDONNEE: 'ABANDONNÉE — une personne a décidé de ne pas l’envoyer',
};

const RESULTS: Record<TentativeResultat, string> = {
  SYNCHRONISEE: 'reçue par le serveur',
  REJETEE: 'refusée',
  REFUS_STOCK: 'refusée pour stock, nouvel essai prévu',
  SANS_REPONSE: 'absente de la réponse du serveur',
  ECHEC: 'non transmise',
};

/** The server's amount once it has the sale, else the relay's estimate. */
export function montantOf(v: Pick<HeldVente, 'montant_serveur' | 'montant_total'>): string {
  return v.montant_serveur ?? formatMoney(v.montant_total);
}

/** The server's warnings on a synced sale (CONTRACT §7), as it gave them; empty when none. */
export function warningsOf(v: Pick<HeldVente, 'avertissements'>): SaleWarning[] {
  return v.avertissements === null ? [] : (JSON.parse(v.avertissements) as SaleWarning[]);
}

/** A held sale as the lists' `--json` give it. */
export function publicVente(v: HeldVente) {
  return {
    numero_facture: v.numero_facture,
    serial: v.serial,
    boutique_id: v.boutique_id,
    statut: v.statut,
    montant_total: montantOf(v),
    recue_le: v.recue_le,
    tentatives: v.tentatives,
    prochaine_tentative: v.prochaine_tentative,
    en_cours_d_envoi: v.en_vol !== null,
    code_erreur: v.code_erreur,
    erreur: v.erreur,
    synchronisee_le: v.synchronisee_le,
    decision: v.decision,
    decision_le: v.decision_le,
    note: v.note,
    avertissements: warningsOf(v),
    vente: JSON.parse(v.contenu) as unknown,
  };
}

/** Everything about one held sale, for `show --json`: the list's view, the till's name and every send. */
export function saleRecord(store: RelayStore, v: HeldVente) {
  return {
    ...publicVente(v),
    terminal: store.terminal(v.serial)?.terminal_nom ?? null,
    montant_confirme_par_serveur: v.montant_serveur !== null,
    historique: store.tentatives(v.id),
  };
}

/** `show NUMERO` for people: a receipt, then what happened to it, in 80 columns. */
export function renderReceipt(store: RelayStore, v: HeldVente, style: TimeStyle, commands: CommandNames, width = SCREEN_COLUMNS): string {
  const vente = JSON.parse(v.contenu) as WireVente;
  const terminal = store.terminal(v.serial);
  const lines: string[] = [];
  const field = (label: string, text: string) => {
    const [first, ...rest] = wrap(text, width - LABEL - 2);
    lines.push(`${label.padEnd(LABEL)}: ${first ?? ''}`);
    for (const more of rest) lines.push(`${''.padEnd(LABEL + 2)}${more}`);
  };
  const rule = '-'.repeat(Math.min(width, 64));
  // Always a space before: amounts of any length never run into each other.
  const amount = (text: string) => ` ${text.padStart(11)}`;
  const todo = (step: NextStep) => {
    field('À faire', step.todo);
    // A command is never broken across lines: each on its own line, as it is typed.
    for (const command of step.commands) lines.push(...commandLines(command, '    ', width));
  };

  lines.push(`Vente ${v.numero_facture}`);
  lines.push(rule);
  const till = terminal?.terminal_nom && terminal.terminal_nom !== v.serial ? `${terminal.terminal_nom} (${v.serial})` : v.serial;
  field('Caisse', `${till}${terminal?.boutique_nom ? `, ${terminal.boutique_nom}` : ''}`);
  if (vente.date_vente) field('Date', formatDateTime(vente.date_vente, style.utc));
  const recent = relative(new Date(v.recue_le), style.now);
  field('Reçue', `${formatDateTime(v.recue_le, style.utc)}${recent ? ` (${recent})` : ''}`);
  field('Paiement', `${vente.mode_paiement ?? 'CASH'}, ${vente.paye === false ? 'non payée' : 'payée'}`);
  lines.push(rule);
  for (const l of vente.lignes ?? []) {
    const cached = v.boutique_id === null ? undefined : store.catalogueArticle(v.boutique_id, l.article_id);
    const unit = l.prix_unitaire === undefined ? (cached?.prix_vente ?? null) : parseMoney(l.prix_unitaire);
    const total = unit === null ? null : multiplyMoney(unit, l.quantite);
    const label = cached ? `${l.quantite} x ${cached.nom} (n° ${l.article_id})` : `${l.quantite} x article n° ${l.article_id}`;
    // No price sent and no catalogue yet: the server prices it; its total is shown below once known.
    const prices = unit === null ? '  prix du serveur'.padStart(24) : `${amount(formatMoney(unit))}${amount(total === null ? '?' : formatMoney(total))}`;
    const room = Math.min(width, 64) - prices.length - 2;
    const [first, ...rest] = wrap(label, room);
    lines.push(`  ${(first ?? '').padEnd(room)}${prices}`);
    for (const more of rest) lines.push(`    ${more}`);
  }
  lines.push(rule);
  const total = montantOf(v);
  const totalLabel = v.montant_serveur === null ? 'TOTAL (estimé par le relais)' : 'TOTAL (confirmé par le serveur)';
  lines.push(`${totalLabel.padEnd(Math.min(width, 64) - 12)}${amount(total)}`);
  lines.push('');

  field('État', STATES[v.statut]);
  if (v.statut === 'EN_ATTENTE' && v.en_vol) field('', 'en cours d’envoi au serveur');
  if (v.statut === 'EN_ATTENTE' && v.code_erreur) {
    field('Refus', `${v.erreur ?? v.code_erreur} (${v.code_erreur})${v.prochaine_tentative ? `, nouvel essai ${formatWhen(v.prochaine_tentative, style)}` : ''}`);
    const step = nextStep(v.code_erreur, v.numero_facture, commands);
    todo({ ...step, todo: `attendre le nouvel essai, ou ${step.todo}` });
  }
  if (v.statut === 'REJETEE') {
    field('Raison', `${v.erreur ?? ''} (${v.code_erreur ?? '?'})`);
    todo(nextStep(v.code_erreur, v.numero_facture, commands));
  }
  if (v.synchronisee_le) field('Synchronisée', formatDateTime(v.synchronisee_le, style.utc));
  for (const w of warningsOf(v)) field('Avertissement', `${describeWarning(w)} ; une livraison (stock add sur le serveur) ramène le stock`);
  if (v.decision) field('Décision', `${v.decision} (${formatDateTime(v.decision_le, style.utc)})`);
  if (v.note) field('Note', v.note);

  const history = store.tentatives(v.id);
  lines.push('');
  lines.push(`Envois au serveur : ${v.tentatives}${history.length === 0 ? ' (aucun encore)' : ''}`);
  for (const run of runsOf(history)) lines.push(...attemptLines(run, style, width));
  return lines.join('\n');
}

/** Sends in a row with the same outcome (an outage: one failure every few seconds) read as one line. */
function runsOf(history: Tentative[]): Array<{ first: Tentative; last: Tentative; count: number }> {
  const runs: Array<{ first: Tentative; last: Tentative; count: number }> = [];
  for (const t of history) {
    const previous = runs.at(-1);
    if (previous && previous.last.resultat === t.resultat && previous.last.code === t.code && previous.last.message === t.message) {
      previous.last = t;
      previous.count++;
    } else {
      runs.push({ first: t, last: t, count: 1 });
    }
  }
  return runs;
}

function attemptLines(run: { first: Tentative; last: Tentative; count: number }, style: TimeStyle, width: number): string[] {
  const t = run.first;
  const head = `  ${formatDateTime(t.le, style.utc)}  `;
  const times = run.count > 1 ? `${run.count} fois jusqu'à ${formatDateTime(run.last.le, style.utc).split(' ')[1]} : ` : '';
  const text = `${times}${RESULTS[t.resultat]}${t.code ? ` (${t.code})` : ''}${t.message ? ` : ${t.resultat === 'ECHEC' ? describeError(t.message) : t.message}` : ''}`;
  const [first, ...rest] = wrap(text, width - head.length);
  return [`${head}${first ?? ''}`, ...rest.map((more) => `${''.padEnd(head.length)}${more}`)];
}
