import { type CommandNames, relayCommand } from '@ventesync/runtime/cli';
import { clockGapMessage } from './clock.js';
import type { DaemonProbe } from './daemon-probe.js';
import { describeError } from './describe-error.js';
import { commandLines, SCREEN_COLUMNS, wrap } from './fit-table.js';
import { formatWhen, type TimeStyle } from './format-time.js';
import { LAST_RECONCILIATION_KEY, type LastReconciliation, reconciliationLine } from './reconcile.js';
import type { RelayStore } from './relay-store.js';
import { SERVER_BROKEN_KEY, serverReachable } from './server-reach.js';

/** A fact the forwarding side records as JSON in `etat`; null when absent or unreadable. */
function fact<T>(store: RelayStore, cle: string): T | null {
  const text = store.getEtat(cle);
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * What needs a person on the shop PC itself, from the facts the daemon records: its file that
 * cannot be written (full disk), its clock far from the server's, a new server for held sales.
 */
function alerts(store: RelayStore) {
  const ecriture = fact<{ depuis: string; code: string; message: string }>(store, 'ecriture_impossible');
  const horloge = fact<{ decalage_ms: number; mesure_le: string }>(store, 'horloge_decalee');
  const serveur = fact<{ ancien: string; nouveau: string; en_attente: number; le: string }>(store, 'changement_serveur');
  // The forwarder's word: the server fails every sale (forwarder.ts, BROKEN_SERVER_AFTER_SALES).
  const panne = fact<{ depuis: string; raison: string }>(store, SERVER_BROKEN_KEY);
  // relay-trust.ts (DOOR_SHUT_KEY): a registered relay that has no list of its terminals yet turns every till away.
  const porte = fact<{ depuis: string; message: string }>(store, 'porte_fermee');
  return {
    porte_fermee: porte,
    ecriture_impossible: ecriture,
    horloge_decalee: horloge,
    changement_serveur: serveur,
    serveur_en_panne: panne,
  };
}

/** The alerts as sentences, the same on the CLI's `status` and the shop's page. */
export function alertLines(a: ReturnType<typeof alerts>, when: (iso: string) => string): string[] {
  const lines: string[] = [];
  if (a.porte_fermee) lines.push(`Les caisses sont refusées (503) : ${a.porte_fermee.message} (depuis ${when(a.porte_fermee.depuis)})`);
  if (a.ecriture_impossible) lines.push(`${a.ecriture_impossible.message} (depuis ${when(a.ecriture_impossible.depuis)})`);
  if (a.horloge_decalee) lines.push(clockGapMessage(a.horloge_decalee.decalage_ms));
  if (a.serveur_en_panne) {
    lines.push(
      `Le serveur échoue sur toutes les ventes depuis ${when(a.serveur_en_panne.depuis)} (${describeError(a.serveur_en_panne.raison)}) : ` +
        "aucune vente n'est mise en cause, elles attendent et partiront quand il fonctionnera de nouveau",
    );
  }
  if (a.changement_serveur) {
    const c = a.changement_serveur;
    lines.push(`Serveur central changé (${c.ancien} → ${c.nouveau}) : les ${c.en_attente} vente(s) qui attendaient partent vers le nouveau serveur`);
  }
  return lines;
}

type RelaisState =
  | { en_marche: true; url: string; pid: number; demarre_le: string }
  | { en_marche: false; url: null; raison: string };

const relaisState = (daemon: DaemonProbe): RelaisState =>
  daemon.running
    ? { en_marche: true, url: daemon.url, pid: daemon.identity.pid, demarre_le: daemon.identity.demarre_le }
    : { en_marche: false, url: null, raison: daemon.reason };

/** What `status` shows staff: is the relay running, is the server there, what is waiting, per till. */
export function statusReport(store: RelayStore, daemon: DaemonProbe, commands: CommandNames) {
  const summaries = new Map(store.summary().map((s) => [s.serial, s]));
  const retoursBySerial = new Map(store.retours.summaryBySerial().map((s) => [s.serial, s]));
  const terminaux = store.terminaux();
  const serials = [...new Set([...terminaux.map((t) => t.serial), ...summaries.keys(), ...retoursBySerial.keys()])].sort();
  const parTerminal = serials.map((serial) => {
    const s = summaries.get(serial);
    const t = terminaux.find((x) => x.serial === serial);
    const waiting = (s?.en_attente_refusees ?? 0) > 0 ? store.waitingReason(serial) : undefined;
    return {
      serial,
      terminal: t?.terminal_nom ?? null,
      boutique_id: t?.boutique_id ?? null,
      boutique: t?.boutique_nom ?? null,
      etat_terminal: t?.statut ?? 'NON_VERIFIE',
      en_attente: s?.en_attente ?? 0,
      /** Waiting because the server refused them for now (stock): its reason, at once. */
      en_attente_refusees: s?.en_attente_refusees ?? 0,
      refus_serveur: waiting
        ? { numero_facture: waiting.numero_facture, code: waiting.code_erreur, erreur: waiting.erreur, prochain_essai: waiting.prochaine_tentative }
        : null,
      synchronisees: s?.synchronisees ?? 0,
      rejetees: s?.rejetees ?? 0,
      abandonnees: s?.abandonnees ?? 0,
      /** Returns (issue 10) of this till still on the relay: waiting, and refused by the server. */
      retours_en_attente: retoursBySerial.get(serial)?.en_attente ?? 0,
      retours_rejetes: retoursBySerial.get(serial)?.rejetes ?? 0,
      plus_ancienne_en_attente: s?.plus_ancienne_en_attente ?? null,
      derniere_sync: t?.derniere_sync ?? null,
      /** As recorded (errno codes included); `probleme` says it in words. */
      derniere_erreur: t?.derniere_erreur ?? null,
      probleme: t?.derniere_erreur ? describeError(t.derniere_erreur) : null,
      erreur_le: t?.erreur_le ?? null,
      bloque:
        t?.statut === 'INCONNU'
          ? `Le serveur ne connaît pas ce terminal ou l'a désactivé : ses ventes attendent. Sur le serveur : ${commands.server} terminal enable ${serial}`
          : null,
    };
  });
  const sum = (key: 'en_attente' | 'en_attente_refusees' | 'synchronisees' | 'rejetees' | 'abandonnees') =>
    parTerminal.reduce((n, t) => n + t[key], 0);
  const oldest = parTerminal.map((t) => t.plus_ancienne_en_attente).filter((d): d is string => d !== null).sort()[0] ?? null;
  const erreur = store.getEtat('derniere_erreur');
  return {
    relais: relaisState(daemon),
    serveur: {
      url: store.getEtat('serveur_url'),
      joignable: serverReachable(store),
      /** It answers but fails every sale: not reachable for sales, though it answers. */
      en_panne: store.getEtat(SERVER_BROKEN_KEY) !== null,
      verifie_le: store.getEtat('serveur_verifie_le'),
    },
    alertes: alerts(store),
    /** The last `reconcile` (by the daemon, once a day, or by a person); null before the first. */
    rapprochement: fact<LastReconciliation>(store, LAST_RECONCILIATION_KEY),
    derniere_sync: store.getEtat('derniere_sync'),
    derniere_erreur: erreur ? { message: describeError(erreur), detail: erreur, le: store.getEtat('derniere_erreur_le') } : null,
    totaux: {
      en_attente: sum('en_attente'),
      en_attente_refusees: sum('en_attente_refusees'),
      synchronisees: sum('synchronisees'),
      rejetees: sum('rejetees'),
      abandonnees: sum('abandonnees'),
      plus_ancienne_en_attente: oldest,
    },
    /** Returns held like sales (issue 10): each leaves after its sale. */
    retours: store.retours.summary(),
    terminaux: parTerminal,
  };
}

export type StatusReport = ReturnType<typeof statusReport>;

const LABEL = 18;

type TillReport = StatusReport['terminaux'][number];

/** A till's sales the server refused for now (stock), in a sentence: the CLI's `status` and the shop's page. */
export function serverRefusalLine(till: Pick<TillReport, 'refus_serveur' | 'en_attente_refusees'>, when: (iso: string) => string): string | null {
  const f = till.refus_serveur;
  if (!f) return null;
  const n = till.en_attente_refusees;
  return (
    `${n === 1 ? '1 vente refusée' : `${n} ventes refusées`} pour l'instant par le serveur${n === 1 ? '' : ', dont'} : ` +
    `${f.numero_facture} (${f.erreur ?? f.code})` +
    (f.prochain_essai ? `, nouvel essai ${when(f.prochain_essai)}` : '')
  );
}

/** `status` for people: fits 80 columns; each till on a few lines of its own. */
export function renderStatus(r: StatusReport, style: TimeStyle, commands: CommandNames, width = SCREEN_COLUMNS): string {
  const when = (iso: string | null | undefined) => formatWhen(iso, style);
  const lines: string[] = [];
  const field = (label: string, text: string) => {
    const [first, ...rest] = wrap(text, width - LABEL - 2);
    lines.push(label ? `${label.padEnd(LABEL)}: ${first ?? ''}` : `${''.padEnd(LABEL + 2)}${first ?? ''}`);
    for (const more of rest) lines.push(`${''.padEnd(LABEL + 2)}${more}`);
  };
  // A command to type is never broken across lines: it gets a line of its own.
  const command = (text: string) => lines.push(...commandLines(text, '    ', width));
  const indented = (prefix: string, text: string) => {
    const [first, ...rest] = wrap(text, width - prefix.length);
    lines.push(`${prefix}${first ?? ''}`);
    for (const more of rest) lines.push(`${''.padEnd(prefix.length)}${more}`);
  };

  for (const alert of alertLines(r.alertes, when)) indented('ATTENTION : ', alert);
  if (lines.length > 0) lines.push('');
  field('Relais', r.relais.en_marche ? `en marche (${r.relais.url})` : r.relais.raison);
  if (!r.relais.en_marche && r.totaux.en_attente + r.retours.en_attente > 0) {
    field('', "rien ne part tant qu'il est arrêté ; pour le démarrer :");
    command(relayCommand(commands, `start --upstream ${r.serveur.url ?? 'http://serveur:8000'}`));
  }
  const s = r.serveur;
  const reach = s.en_panne ? 'RÉPOND MAIS REFUSE TOUTES LES VENTES' : s.joignable === null ? 'pas encore contacté' : s.joignable ? 'répond' : 'NE RÉPOND PAS';
  field('Serveur central', `${s.url ?? '?'} — ${reach}${s.verifie_le ? ` (vérifié ${when(s.verifie_le)})` : ''}`);
  const t = r.totaux;
  field(
    'En attente',
    `${t.en_attente}${t.plus_ancienne_en_attente ? ` (la plus ancienne reçue ${when(t.plus_ancienne_en_attente)})` : ''}` +
      (t.en_attente_refusees > 0 ? `, dont ${t.en_attente_refusees} refusée(s) pour l'instant par le serveur` : ''),
  );
  field('Rejetées', `${t.rejetees}${t.rejetees > 0 ? ' — à traiter :' : ''}`);
  if (t.rejetees > 0) command(relayCommand(commands, 'rejected'));
  field('Synchronisées', `${t.synchronisees}${t.abandonnees > 0 ? ` (et ${t.abandonnees} abandonnée(s))` : ''}`);
  const rt = r.retours;
  if (rt.en_attente + rt.rejetes + rt.synchronises + rt.abandonnes > 0) {
    field(
      'Retours',
      `${rt.en_attente} en attente${rt.attendent_la_vente > 0 ? ` (dont ${rt.attendent_la_vente} attendent que leur vente parte)` : ''}, ` +
        `${rt.rejetes} rejeté(s), ${rt.synchronises} synchronisé(s)${rt.abandonnes > 0 ? `, ${rt.abandonnes} abandonné(s)` : ''}` +
        (rt.rejetes > 0 ? ' — à traiter :' : ''),
    );
    if (rt.rejetes > 0) command(relayCommand(commands, 'rejected'));
  }
  field('Dernière synchro', r.derniere_sync ? when(r.derniere_sync) : 'jamais');
  field('Rapprochement', r.rapprochement ? reconciliationLine(r.rapprochement, when) : 'pas encore fait');
  if (r.rapprochement && !r.rapprochement.accord) command(relayCommand(commands, `reconcile --jour ${r.rapprochement.jour}`));
  if (r.derniere_erreur && s.joignable !== true) field('Dernier problème', `${r.derniere_erreur.message} (${when(r.derniere_erreur.le)})`);

  for (const till of r.terminaux) {
    lines.push('');
    const name = till.terminal && till.terminal !== till.serial ? `${till.terminal} (${till.serial})` : till.serial;
    indented('', `${name}${till.boutique ? `, ${till.boutique}` : ''}`);
    const counts = [`${till.en_attente} en attente`, `${till.rejetees} rejetée(s)`, `${till.synchronisees} synchronisée(s)`];
    if (till.abandonnees > 0) counts.push(`${till.abandonnees} abandonnée(s)`);
    if (till.retours_en_attente > 0) counts.push(`${till.retours_en_attente} retour(s) en attente`);
    if (till.retours_rejetes > 0) counts.push(`${till.retours_rejetes} retour(s) rejeté(s)`);
    indented('  ', counts.join(', '));
    if (till.plus_ancienne_en_attente) indented('  ', `plus ancienne en attente : reçue ${when(till.plus_ancienne_en_attente)}`);
    indented('  ', `dernière synchro : ${till.derniere_sync ? when(till.derniere_sync) : 'jamais'}`);
    if (till.refus_serveur) {
      const f = till.refus_serveur;
      indented('  ', serverRefusalLine(till, when) ?? '');
      if (f.code === 'INSUFFICIENT_STOCK') {
        indented('  ', 'après correction du stock sur le serveur :');
        lines.push(...commandLines(relayCommand(commands, 'retry --all'), '    ', width));
      }
    }
    if (till.bloque) indented('  ', `BLOQUÉ : ${till.bloque}`);
    else if (till.probleme) indented('  ', `problème : ${till.probleme}${till.erreur_le ? ` (${when(till.erreur_le)})` : ''}`);
  }
  return lines.join('\n');
}
