import type { CommandNames } from '@ventesync/runtime/cli';
import { formatMoney } from '@ventesync/shared';
import type { DaemonProbe } from '../daemon-probe.js';
import { describeError } from '../describe-error.js';
import { formatDateTime, formatWhen, relative } from '../format-time.js';
import { nextStep } from '../next-step.js';
import { montantOf } from '../receipt.js';
import type { RelayStore } from '../relay-store.js';
import { retourTodo } from '../retour-view.js';
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

/**
 * "1 vente en attente depuis 3 min", "12 ventes et 1 retour en attente depuis 1 h 05", "2 retours
 * en attente…"; null when nothing waits. `oldestIso`: the oldest of them all.
 */
export function waitingSentence(count: number, oldestIso: string | null, now: Date, retours = 0): string | null {
  if (count === 0 && retours === 0) return null;
  const parts = [
    ...(count > 0 ? [count === 1 ? '1 vente' : `${count} ventes`] : []),
    ...(retours > 0 ? [retours === 1 ? '1 retour' : `${retours} retours`] : []),
  ];
  const waiting = `${parts.join(' et ')} en attente`;
  const since = oldestIso ? new Date(oldestIso).getTime() : Number.NaN;
  return Number.isNaN(since) ? waiting : `${waiting} depuis ${waitWords(Math.max(0, now.getTime() - since))}`;
}

/** What waits, in words that agree in French: sales (feminine), returns (masculine), or both. */
function waitingWords(ventes: number, retours: number) {
  if (retours === 0) return { des: 'des ventes', les: 'les ventes', elles: 'elles', gardees: 'gardées', envoyees: 'envoyées' };
  if (ventes === 0) return { des: 'des retours', les: 'les retours', elles: 'ils', gardees: 'gardés', envoyees: 'envoyés' };
  return { des: 'des ventes et des retours', les: 'les ventes et les retours', elles: 'ils', gardees: 'gardés', envoyees: 'envoyés' };
}

/** The oldest of two ISO times, either maybe absent. */
function oldestOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

export interface LightVerdict {
  feu: Light;
  titre: string;
  /** Why, in sentences, most pressing first. */
  raisons: string[];
}

/**
 * Green: nothing waits, sales or returns. Red: a refused sale or return awaits a person's
 * decision, the relay cannot write its file, or the server has not answered while a sale or a
 * return waited longer than `alertAfterMs`. Orange: they wait and the server answers, or the
 * wait is still short. Returns count as sales do: they too exist only on this PC until sent.
 */
export function trafficLight(r: StatusReport, now: Date, alertAfterMs: number = SERVER_AWAY_ALERT_MS): LightVerdict {
  const t = r.totaux;
  const rt = r.retours;
  const red: string[] = [];
  const orange: string[] = [];
  if (t.rejetees > 0) {
    red.push(
      `${t.rejetees === 1 ? '1 vente refusée par le serveur attend' : `${t.rejetees} ventes refusées par le serveur attendent`} ` +
        'une décision : voir « Ventes refusées » plus bas.',
    );
  }
  if (rt.rejetes > 0) {
    red.push(
      `${rt.rejetes === 1 ? '1 retour refusé par le serveur attend' : `${rt.rejetes} retours refusés par le serveur attendent`} ` +
        'une décision : voir « Retours refusés » plus bas.',
    );
  }
  if (r.alertes.ecriture_impossible) red.push(r.alertes.ecriture_impossible.message);
  const away = r.serveur.joignable !== true;
  const waiting = t.en_attente + rt.en_attente;
  const w = waitingWords(t.en_attente, rt.en_attente);
  const oldestIso = oldestOf(t.plus_ancienne_en_attente, rt.plus_ancien_en_attente);
  const oldest = oldestIso ? new Date(oldestIso).getTime() : Number.NaN;
  const waitedMs = Number.isNaN(oldest) ? 0 : now.getTime() - oldest;
  if (waiting > 0 && r.serveur.en_panne) {
    // It answers, but fails every sale: as long a wait as a server away is as worth a call.
    if (waitedMs >= alertAfterMs) {
      red.push(
        `Le serveur central répond mais refuse toutes les ventes, et ${w.des} attendent depuis plus de ${thresholdWords(alertAfterMs)} : ` +
          `prévenez le responsable informatique (${w.les} restent ${w.gardees} sur ce PC).`,
      );
    } else {
      orange.push(`Le serveur central répond mais refuse toutes les ventes pour l'instant : ${w.elles} sont ${w.gardees} sur ce PC et partiront quand il les acceptera.`);
    }
  } else if (waiting > 0 && away) {
    if (waitedMs >= alertAfterMs) {
      red.push(
        `Le serveur central ne répond pas, et ${w.des} attendent depuis plus de ${thresholdWords(alertAfterMs)} : ` +
          "vérifiez la connexion internet de la boutique ; si cela dure, prévenez le responsable informatique.",
      );
    } else {
      orange.push(`Le serveur central ne répond pas pour l'instant : ${w.les} sont ${w.gardees} sur ce PC et partiront dès son retour.`);
    }
  } else if (waiting > 0) {
    orange.push(`Le serveur central répond : ${w.les} en attente partent.`);
  }
  if (t.en_attente_refusees > 0) {
    orange.push(
      `${t.en_attente_refusees === 1 ? '1 vente refusée' : `${t.en_attente_refusees} ventes refusées`} pour l'instant par le serveur ` +
        '(stock) : nouvel essai automatique.',
    );
  }
  if (r.terminaux.some((till) => till.bloque)) orange.push('Une caisse est refusée par le serveur : voir sa ligne plus bas.');
  if (red.length > 0) return { feu: 'rouge', titre: 'Attention : une intervention est nécessaire', raisons: [...red, ...orange] };
  if (waiting > 0) return { feu: 'orange', titre: `${w.des.charAt(0).toUpperCase()}${w.des.slice(1)} attendent d’être ${w.envoyees}`, raisons: orange };
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
  const refusedRetours = store.retours.byStatut('REJETEE', null, REFUSED_SHOWN);
  const t = report.totaux;
  const rt = report.retours;
  const tillName = (serial: string) => store.terminal(serial)?.terminal_nom ?? serial;
  return {
    ...light,
    attente: waitingSentence(t.en_attente, oldestOf(t.plus_ancienne_en_attente, rt.plus_ancien_en_attente), now, rt.en_attente),
    en_attente: t.en_attente,
    retours_en_attente: rt.en_attente,
    /** Sales and returns are on this PC only until sent: it must stay on for them to leave. */
    ne_pas_eteindre: t.en_attente + rt.en_attente > 0,
    ne_pas_eteindre_texte: `Ne pas éteindre ce PC : ${waitingWords(t.en_attente, rt.en_attente).des} attendent d’être ${waitingWords(t.en_attente, rt.en_attente).envoyees} au serveur central.`,
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
      retours_en_attente: till.retours_en_attente,
      retours_rejetes: till.retours_rejetes,
      synchronisees: till.synchronisees,
      dernier_envoi: till.derniere_sync ? when(till.derniere_sync) : 'jamais',
      situation: till.bloque
        ? `BLOQUÉ : ${till.bloque}`
        : (serverRefusalLine(till, when) ??
          (till.probleme && till.en_attente > 0 ? `problème : ${till.probleme}${till.erreur_le ? ` (${when(till.erreur_le)})` : ''}` : null)),
    })),
    refusees: refused.map((v) => ({
      numero_facture: v.numero_facture,
      terminal: tillName(v.serial),
      /** The till's serial: a decision names it, as numeros are unique per till or boutique only. */
      caisse: v.serial,
      montant: montantOf(v),
      recue: when(v.recue_le),
      raison: describeError(v.erreur) || v.code_erreur || 'refusée par le serveur',
      que_faire: todoWords(v.code_erreur, v.numero_facture, commands),
    })),
    refusees_non_montrees: Math.max(0, report.totaux.rejetees - refused.length),
    retours_refuses: refusedRetours.map((r) => ({
      numero_retour: r.numero_retour,
      numero_facture: r.numero_facture,
      terminal: tillName(r.serial),
      caisse: r.serial,
      montant: r.montant_serveur ?? formatMoney(r.montant_total),
      recu: when(r.recue_le),
      raison: describeError(r.erreur) || r.code_erreur || 'refusé par le serveur',
      que_faire: retourTodo(r.code_erreur, r.numero_facture),
    })),
    retours_refuses_non_montres: Math.max(0, rt.rejetes - refusedRetours.length),
    mis_a_jour: formatDateTime(now.toISOString(), false),
  };
}

export type ShopView = ReturnType<typeof shopView>;
