import { RetourErreurSchema, RetoursResponseSchema, SyncResponseSchema, VenteCreeeSchema, VenteErreurSchema } from '@ventesync/shared';
import { z } from 'zod';
import type { SaleWarning } from './relay-store.js';

/** What the server's answer means for each sale of the batch that was sent. */
export type SaleOutcome =
  /** `avertissements`: the server created it with a warning to show (CONTRACT §7: STOCK_NEGATIF). */
  | { kind: 'synced'; montant: string | null; avertissements?: SaleWarning[] }
  | { kind: 'rejected'; code: string; erreur: string }
  | { kind: 'stock'; erreur: string }
  /** Not mentioned in the answer: keep it waiting, send it again. */
  | { kind: 'unknown' };

export type BatchOutcome =
  | { kind: 'answered'; sales: SaleOutcome[]; boutique: { boutique_id: number; boutique_nom: string; terminal: string } }
  /** The server is away or busy (network, timeout, 502/503/504, 429): wait and send it again. */
  | { kind: 'retry'; reason: string; retryAfterMs: number | null; unsure: boolean }
  /**
   * The server answered, but not with something the relay can trust (400, 500, an answer that
   * does not read): maybe one sale of the batch makes it fail, so the batch is split.
   */
  | { kind: 'failed'; reason: string; code: string; unsure: boolean }
  | { kind: 'terminal-unknown'; reason: string }
  /**
   * The server refused the relay's credentials or signature for this till (CONTRACT §6: 401
   * SIGNATURE_*, RELAY_NOT_FOUND, 403 RELAY_FORBIDDEN): never the sales' fault. They wait, with
   * the reason for the staff; `retryAfterMs` set when it should pass by itself (time, replay).
   */
  | { kind: 'trust'; code: string; reason: string; retryAfterMs: number | null }
  | { kind: 'too-large'; reason: string; code: string };

export type UpstreamAnswer =
  | { kind: 'response'; status: number; body: unknown; retryAfterMs: number | null; clockOffsetMs?: number | null }
  /**
   * `unreadable`: an answer came but could not be read whole (too large). `maybeReceived`: the
   * request may have reached the server (reset, timeout…), so it may have the sales.
   */
  | { kind: 'network-error'; reason: string; unreadable?: boolean; maybeReceived?: boolean };

const PERMANENT_CODES = new Set(['ARTICLE_NOT_FOUND', 'INVALID_SALE']);
/**
 * Statuses that say the server (or the way to it) is away or cannot write for now (507: its
 * disk is full), not that this batch is wrong: no sale is blamed for them.
 */
const AWAY_STATUSES = new Set([429, 502, 503, 504, 507]);

/**
 * The contract's answer, read strictly, except that a sale error code this relay does not
 * know yet is kept (for a person to read) rather than making the whole answer unreadable.
 */
const RelaySyncResponseSchema = SyncResponseSchema.extend({
  // A sale created with a warning is created: a warning this relay does not know yet is kept
  // to be shown, never a reason to read the whole answer as broken and send it again.
  ventes_creees: z.array(
    VenteCreeeSchema.extend({
      avertissements: z
        .array(z.object({ code: z.string().min(1).max(64), article_id: z.int().optional(), manque: z.int().optional() }))
        .optional(),
    }),
  ),
  ventes_erreurs: z.array(VenteErreurSchema.extend({ code: z.string().min(1).max(64) })).nullable(),
});
const ErrorSchema = z.object({ error: z.string(), code: z.string() }).loose();

const MAX_REASON_CHARS = 300;

/** Soon again: a replayed or expired signature is signed anew at the next send. */
export const TRUST_RETRY_SOON_MS = 1_000;

/** What the staff read for each §6 refusal of the relay's sends (the server's own words follow). */
const TRUST_REASONS: Record<string, string> = {
  RELAY_NOT_FOUND: 'relais inconnu ou désactivé sur le serveur : vérifiez --relay-id et le secret (ventesync-server relais list)',
  RELAY_FORBIDDEN:
    "le serveur refuse ce terminal à ce relais : sa boutique n'est pas une de celles du relais (ventesync-server relais list)",
  SIGNATURE_REQUIRED:
    'le serveur exige une signature pour ce terminal : le relais doit être enregistré (ventesync-server relais add) et démarré avec --relay-id et --relay-secret-file',
  INVALID_SIGNATURE: 'le serveur refuse la signature du relais : vérifiez le secret du relais (--relay-secret-file), peut-être changé sur le serveur',
  SIGNATURE_EXPIRED: "signature du relais expirée : l'horloge de cet ordinateur est loin de celle du serveur ; nouvel essai à l'heure du serveur",
  SIGNATURE_REPLAYED: 'signature du relais déjà vue par le serveur ; nouvel essai avec une nouvelle signature',
};
const TRUST_RETRY_SOON = new Set(['SIGNATURE_EXPIRED', 'SIGNATURE_REPLAYED']);

/**
 * Answers after which the server may have committed the batch: a gateway's timeout or error
 * (502, 504: the server may have done the work behind it) and the server's own crash (500…).
 * 4xx, 503, 429 and 507 say it did not take the batch.
 */
const maybeCommitted = (status: number) => status === 502 || status === 504 || (status >= 500 && !AWAY_STATUSES.has(status));

function errorText(body: unknown): string {
  const parsed = ErrorSchema.safeParse(body);
  if (parsed.success) return parsed.data.error.slice(0, MAX_REASON_CHARS);
  return typeof body === 'string' ? body.slice(0, 200) : '';
}

function statusReason(status: number, body: unknown): string {
  const text = errorText(body);
  return `Réponse ${status} du serveur${text ? ` : ${text}` : ''}`;
}

/**
 * Reads the server's answer to a batch of `numeros` (in the order sent). Only a sale the
 * server has (created, or a DUPLICATE it says is identical, naming the sale) counts as
 * synced; a sale the answer does not mention stays waiting, so nothing is ever marked
 * delivered by guess. An answer that does not read marks nothing.
 */
export function classifyAnswer(answer: UpstreamAnswer, numeros: readonly string[]): BatchOutcome {
  if (answer.kind === 'network-error') {
    return answer.unreadable
      ? { kind: 'failed', reason: answer.reason, code: 'REPONSE_ILLISIBLE', unsure: true }
      : { kind: 'retry', reason: answer.reason, retryAfterMs: null, unsure: answer.maybeReceived ?? true };
  }
  const { status, body } = answer;

  if (status === 200 || status === 201) {
    const parsed = RelaySyncResponseSchema.safeParse(body);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.') ?? '';
      return {
        kind: 'failed',
        reason: `Réponse ${status} du serveur illisible${where ? ` (champ ${where})` : ''}`,
        code: 'REPONSE_ILLISIBLE',
        unsure: true,
      };
    }
    const answerBody = parsed.data;
    const sales: SaleOutcome[] = numeros.map(() => ({ kind: 'unknown' }));
    const position = new Map(numeros.map((n, i) => [n, i]));
    for (const created of answerBody.ventes_creees) {
      const i = position.get(created.numero_facture);
      if (i === undefined) continue;
      // Created with STOCK_NEGATIF: the server has it, stock below zero. Synced, the warning
      // kept; never the stock-retry cycle, which is for sales the server refused.
      sales[i] = created.avertissements?.length
        ? { kind: 'synced', montant: created.montant_total, avertissements: created.avertissements }
        : { kind: 'synced', montant: created.montant_total };
    }
    for (const e of answerBody.ventes_erreurs ?? []) {
      // The index is 1-based and the numero must name our sale: the relay always sends one,
      // so an error without it, or with another, is not about that sale.
      const i = e.index - 1;
      if (numeros[i] === undefined || e.numero_facture !== numeros[i]) continue;
      if (e.code === 'DUPLICATE') {
        sales[i] =
          e.identique === true
            ? { kind: 'synced', montant: e.vente_existante?.montant_total ?? null }
            : { kind: 'rejected', code: 'DUPLICATE', erreur: `${e.erreur} (numéro réutilisé pour une autre vente)` };
      } else if (e.code === 'INSUFFICIENT_STOCK') {
        sales[i] = { kind: 'stock', erreur: e.erreur };
      } else if (PERMANENT_CODES.has(e.code)) {
        sales[i] = { kind: 'rejected', code: e.code, erreur: e.erreur };
      } else {
        // A code this relay does not know: a person should look rather than loop forever.
        sales[i] = { kind: 'rejected', code: e.code, erreur: e.erreur };
      }
    }
    const boutique = { boutique_id: answerBody.boutique_id, boutique_nom: answerBody.boutique_nom, terminal: answerBody.terminal };
    return { kind: 'answered', sales, boutique };
  }
  const code = ErrorSchema.safeParse(body).data?.code.slice(0, 64);
  if (status === 404 && code === 'TERMINAL_NOT_FOUND') {
    return { kind: 'terminal-unknown', reason: `Le serveur ne connaît pas ce terminal ou l'a désactivé (${errorText(body)})` };
  }
  if ((status === 401 || status === 403) && code !== undefined && TRUST_REASONS[code] !== undefined) {
    return {
      kind: 'trust',
      code,
      reason: `Ventes en attente, ${TRUST_REASONS[code]} (${code})`,
      retryAfterMs: TRUST_RETRY_SOON.has(code) ? TRUST_RETRY_SOON_MS : null,
    };
  }
  if (status === 413) return { kind: 'too-large', reason: statusReason(status, body), code: code ?? 'PAYLOAD_TOO_LARGE' };
  if (AWAY_STATUSES.has(status)) {
    return { kind: 'retry', reason: statusReason(status, body), retryAfterMs: answer.retryAfterMs, unsure: maybeCommitted(status) };
  }
  return { kind: 'failed', reason: statusReason(status, body), code: code ?? `HTTP_${status}`, unsure: maybeCommitted(status) };
}

/**
 * The returns answer (issue 10), read like the sync answer: the envelope strictly, a per-return
 * code this relay does not know kept for a person to read.
 */
const RelayRetoursResponseSchema = RetoursResponseSchema.extend({
  retours_erreurs: z.array(RetourErreurSchema.extend({ code: z.string().min(1).max(64) })).nullable(),
});

/** What the answer says of each return; `missing`: SALE_NOT_FOUND (the forwarder judges whether to wait). */
export type RetourOutcome = SaleOutcome | { kind: 'missing'; erreur: string };

export type RetoursBatchOutcome =
  | { kind: 'answered'; retours: RetourOutcome[]; boutique: { boutique_id: number; boutique_nom: string; terminal: string } }
  | Exclude<BatchOutcome, { kind: 'answered' }>;

/**
 * Reads the server's answer to a batch of returns (`numeros`: numero_retour, in the order
 * sent), as classifyAnswer does for sales: created, or DUPLICATE identique, is synced; any
 * answer other than 200/201 means the same as for sales.
 */
export function classifyRetoursAnswer(answer: UpstreamAnswer, numeros: readonly string[]): RetoursBatchOutcome {
  if (answer.kind !== 'response' || (answer.status !== 200 && answer.status !== 201)) {
    return classifyAnswer(answer, []) as Exclude<BatchOutcome, { kind: 'answered' }>;
  }
  const parsed = RelayRetoursResponseSchema.safeParse(answer.body);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') ?? '';
    return { kind: 'failed', reason: `Réponse ${answer.status} du serveur illisible${where ? ` (champ ${where})` : ''}`, code: 'REPONSE_ILLISIBLE', unsure: true };
  }
  const body = parsed.data;
  const retours: RetourOutcome[] = numeros.map(() => ({ kind: 'unknown' }));
  const position = new Map(numeros.map((n, i) => [n, i]));
  for (const created of body.retours_crees) {
    const i = position.get(created.numero_retour);
    if (i !== undefined) retours[i] = { kind: 'synced', montant: created.montant_total };
  }
  for (const e of body.retours_erreurs ?? []) {
    const i = e.index - 1;
    if (numeros[i] === undefined || e.numero_retour !== numeros[i]) continue;
    if (e.code === 'DUPLICATE') {
      retours[i] =
        e.identique === true
          ? { kind: 'synced', montant: e.retour_existant?.montant_total ?? null }
          : { kind: 'rejected', code: 'DUPLICATE', erreur: `${e.erreur} (numéro réutilisé pour un autre retour)` };
    } else if (e.code === 'SALE_NOT_FOUND') {
      retours[i] = { kind: 'missing', erreur: e.erreur };
    } else {
      retours[i] = { kind: 'rejected', code: e.code, erreur: e.erreur };
    }
  }
  return { kind: 'answered', retours, boutique: { boutique_id: body.boutique_id, boutique_nom: body.boutique_nom, terminal: body.terminal } };
}
