import type { CommandNames } from '@ventesync/runtime/cli';
import type { DaemonProbe } from '../daemon-probe.js';
import { describeError } from '../describe-error.js';
import { formatDateTime, formatWhen, relative } from '../format-time.js';
import { nextStep } from '../next-step.js';
import { montantOf } from '../receipt.js';
import type { RelayStore } from '../relay-store.js';
import { alertLines, serverRefusalLine, type StatusReport, statusReport } from '../status-report.js';

/**
 * The shop page's light turns red when the server has not answered and a sale has waited this
 * long: a cut of a few minutes is ordinary, half an hour is worth a call to IT.
 */
export const SERVER_AWAY_ALERT_MS = 30 * 60_000;
/** Refused sales listed on the page; the rest are counted (the CLI's `rejected` lists them all). */
export const REFUSED_SHOWN = 50;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type Light = 'vert' | 'orange' | 'rouge';

/** A wait for people: "moins d'une minute", "12 min", "2 h 05", "3 j 4 h". */
export function waitWords(ms: number): string {
  if (ms < MINUTE) return "moins d'une minute";
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)} h ${String(Math.floor((ms % HOUR) / MINUTE)).padStart(2, '0')}`;
  return `${Math.floor(ms / DAY)} j ${Math.floor((ms % DAY) / HOUR)} h`;
}

/** A threshold for people: "30 min", "2 h 00"; seconds below a minute (a test's short threshold). */
function thresholdWords(ms: number): string {
  return ms < MINUTE ? `${Math.max(1, Math.round(ms / 1000))} s` : waitWords(ms);
}

/** "1 vente en attente depuis 3 min", "12 ventes en attente depuis 1 h 05"; null when none waits. */
export function waitingSentence(count: number, oldestIso: string | null, now: Date): string | null {
  if (count === 0) return null;
  const ventes = count === 1 ? '1 vente en attente' : `${count} ventes en attente`;
  const since = oldestIso ? new Date(oldestIso).getTime() : Number.NaN;
  return Number.isNaN(since) ? ventes : `${ventes} depuis ${waitWords(Math.max(0, now.getTime() - since))}`;
}

export interface LightVerdict {
  feu: Light;
  titre: string;
  /** Why, in sentences, most pressing first. */
  raisons: string[];
}

/**
 * Green: nothing waits. Red: a refused sale awaits a person's decision, the relay cannot write
 * its file, or the server has not answered while a sale waited longer than `alertAfterMs`.
 * Orange: sales wait and the server answers, or the wait is still short.
 */
export function trafficLight(r: StatusReport, now: Date, alertAfterMs: number = SERVER_AWAY_ALERT_MS): LightVerdict {
  const t = r.totaux;
  const red: string[] = [];
  const orange: string[] = [];
  if (t.rejetees > 0) {
    red.push(
      `${t.rejetees === 1 ? '1 vente refusée par le serveur attend' : `${t.rejetees} ventes refusées par le serveur attendent`} ` +
        'une décision : voir « Ventes refusées » plus bas.',
    );
  }
  if (r.alertes.ecriture_impossible) red.push(r.alertes.ecriture_impossible.message);
  const away = r.serveur.joignable !== true;
  const oldest = t.plus_ancienne_en_attente ? new Date(t.plus_ancienne_en_attente).getTime() : Number.NaN;
  const waitedMs = Number.isNaN(oldest) ? 0 : now.getTime() - oldest;
  if (t.en_attente > 0 && r.serveur.en_panne) {
    // It answers, but fails every sale: as long a wait as a server away is as worth a call.
    if (waitedMs >= alertAfterMs) {
      red.push(
        `Le serveur central répond mais refuse toutes les ventes, et des ventes attendent depuis plus de ${thresholdWords(alertAfterMs)} : ` +
          'prévenez le responsable informatique (les ventes restent gardées sur ce PC).',
      );
    } else {
      orange.push("Le serveur central répond mais refuse toutes les ventes pour l'instant : elles sont gardées sur ce PC et partiront quand il les acceptera.");
    }
  } else if (t.en_attente > 0 && away) {
    if (waitedMs >= alertAfterMs) {
      red.push(
        `Le serveur central ne répond pas, et des ventes attendent depuis plus de ${thresholdWords(alertAfterMs)} : ` +
          "vérifiez la connexion internet de la boutique ; si cela dure, prévenez le responsable informatique.",
      );
    } else {
      orange.push("Le serveur central ne répond pas pour l'instant : les ventes sont gardées sur ce PC et partiront dès son retour.");
    }
  } else if (t.en_attente > 0) {
    orange.push('Le serveur central répond : les ventes en attente partent.');
  }
  if (t.en_attente_refusees > 0) {
    orange.push(
      `${t.en_attente_refusees === 1 ? '1 vente refusée' : `${t.en_attente_refusees} ventes refusées`} pour l'instant par le serveur ` +
        '(stock) : nouvel essai automatique.',
    );
  }
  if (r.terminaux.some((till) => till.bloque)) orange.push('Une caisse est refusée par le serveur : voir sa ligne plus bas.');
  if (red.length > 0) return { feu: 'rouge', titre: 'Attention : une intervention est nécessaire', raisons: [...red, ...orange] };
  if (t.en_attente > 0) return { feu: 'orange', titre: 'Des ventes attendent d’être envoyées', raisons: orange };
  const calm = r.serveur.en_panne
    ? ["Le serveur central répond mais refuse toutes les ventes en ce moment ; aucune vente n'attend."]
    : away && r.serveur.joignable === false ? ["Le serveur central ne répond pas en ce moment, mais aucune vente n'attend."] : [];
  return { feu: 'vert', titre: 'Tout est envoyé', raisons: calm };
}

/** A moment to the second in the shop's time, with "il y a 3 min" when close. */
function moment(iso: string | null | undefined, now: Date): string | null {
  if (!iso) return null;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const near = relative(date, now);
  return `${formatDateTime(iso, false)}${near ? ` (${near})` : ''}`;
}

/** What to do, from the CLI's next step: its words without the commands that follow them. */
function todoWords(code: string | null, numero: string, commands: CommandNames): string {
  const words = nextStep(code, numero, commands).todo.replace(/\s*:\s*$/, '');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Everything the shop page shows, built on the CLI's `status` (same counts, same sentences),
 * with times already in the shop PC's own zone. Text only: the page puts it on screen as text.
 */
export function shopView(
  store: RelayStore,
  options: { now: Date; daemon: DaemonProbe; commands: CommandNames; alertAfterMs?: number },
) {
  const { now, commands } = options;
  const report = statusReport(store, options.daemon, commands);
  const when = (iso: string) => formatWhen(iso, { now, utc: false });
  const light = trafficLight(report, now, options.alertAfterMs);
  const s = report.serveur;
  const refused = store.byStatut('REJETEE', null, REFUSED_SHOWN);
  return {
    ...light,
    attente: waitingSentence(report.totaux.en_attente, report.totaux.plus_ancienne_en_attente, now),
    en_attente: report.totaux.en_attente,
    /** Sales are on this PC only: it must stay on for them to leave. */
    ne_pas_eteindre: report.totaux.en_attente > 0,
    dernier_envoi: moment(report.derniere_sync, now) ?? 'jamais',
    serveur:
      (s.en_panne ? 'répond mais refuse toutes les ventes' : s.joignable === null ? 'pas encore contacté' : s.joignable ? 'répond' : 'ne répond pas') +
      (s.verifie_le ? ` (vérifié ${when(s.verifie_le)})` : ''),
    alertes: alertLines(report.alertes, when),
    terminaux: report.terminaux.map((till) => ({
      nom: till.terminal && till.terminal !== till.serial ? `${till.terminal} (${till.serial})` : till.serial,
      boutique: till.boutique,
      en_attente: till.en_attente,
      rejetees: till.rejetees,
      synchronisees: till.synchronisees,
      dernier_envoi: till.derniere_sync ? when(till.derniere_sync) : 'jamais',
      situation: till.bloque
        ? `BLOQUÉ : ${till.bloque}`
        : (serverRefusalLine(till, when) ??
          (till.probleme && till.en_attente > 0 ? `problème : ${till.probleme}${till.erreur_le ? ` (${when(till.erreur_le)})` : ''}` : null)),
    })),
    refusees: refused.map((v) => ({
      numero_facture: v.numero_facture,
      terminal: store.terminal(v.serial)?.terminal_nom ?? v.serial,
      montant: montantOf(v),
      recue: when(v.recue_le),
      raison: describeError(v.erreur) || v.code_erreur || 'refusée par le serveur',
      que_faire: todoWords(v.code_erreur, v.numero_facture, commands),
    })),
    refusees_non_montrees: Math.max(0, report.totaux.rejetees - refused.length),
    mis_a_jour: formatDateTime(now.toISOString(), false),
  };
}

export type ShopView = ReturnType<typeof shopView>;
