import { commandNames } from '@ventesync/runtime/cli';
import { errorBody, hasUnprintable, MAX_NUMERO_LENGTH, type RequestErrorCode, statusOf, UNPRINTABLE_MESSAGE } from '@ventesync/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { audited } from '@ventesync/runtime/sqlite';
import type { Db } from '../db/open-database.js';
import type { Forwarder } from '../forwarder.js';
import type { RelayStore } from '../relay-store.js';
import {
  ambiguousWords,
  discardRefusalWords,
  discardRetour,
  discardSale,
  MAX_DISCARD_REASON_CHARS,
  type Refusal,
  retryRefusalWords,
  retryRetour,
  retrySales,
} from '../sale-decisions.js';
import { SERVER_AWAY_ALERT_MS, type ShopView, shopView } from './shop-view.js';

export const PAGE_STATE_PATH = '/etat';
export const PAGE_RETRY_PATH = '/etat/renvoyer';
export const PAGE_DISCARD_PATH = '/etat/abandonner';
/** The header the page's own script sends with each decision, carrying the relay's token. */
export const PAGE_TOKEN_HEADER = 'x-relais-jeton';
/** How often the page asks for the state again. */
export const PAGE_REFRESH_MS = 3_000;
/**
 * The state is computed in the relay's own process, which tills wait on while it runs: it is
 * reused by every open page for at least this long, and longer when computing it is slow (a
 * long history), so that the page never takes more than VIEW_TIME_SHARE of the relay's time.
 */
const VIEW_REUSE_MIN_MS = 1_000;
const VIEW_TIME_SHARE = 0.05;
/** Seconds before asking again when the file is busy or the sale is being sent. */
const TRY_AGAIN_SECONDS = 2;

/** The shop PC itself, by the socket's address (never a header a client could write). */
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export interface ShopPageOptions {
  store: RelayStore;
  forwarder: Pick<Forwarder, 'syncNow'>;
  now: () => Date;
  /** The light turns red past this wait with the server away (tests shorten it). */
  alertAfterMs?: number;
  /** The relay's file: a decision is written in its audit table with the change, like the CLI's. */
  auditDb?: Db;
}

/**
 * The files of the page, read once: one HTML page, its style and its script, a few KB. They are
 * read from the package's `src/page` both from `src` (tests) and from `dist` (the CLI): both
 * sit two levels under the package.
 */
const ASSETS = new URL('../../src/page/', import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, ASSETS), 'utf8');

/** Nothing from elsewhere, no inline script: a numero that slipped into markup would run nothing. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  // No other site may show the page inside its own and trick a click on Renvoyer/Abandonner.
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const isLoopback = (request: FastifyRequest) => LOOPBACK.has(request.socket.remoteAddress ?? '');

/**
 * Names the shop PC answers to from its own browser. A name outside these, even on loopback,
 * is a web page that had its own name point at this PC (DNS rebinding): refused.
 */
function ownHostNames(): Set<string> {
  const name = hostname().toLowerCase();
  const short = name.split('.')[0]!;
  return new Set(['localhost', name, short, `${short}.local`]);
}

function hostOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  try {
    return new URL(`http://${hostHeader}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return null;
  }
}

/**
 * The relay's page on the shop PC: `GET /` for people, `GET /etat` for its script, and a
 * person's decision on a refused sale or return (retry, discard) from the shop PC itself only.
 */
export function registerShopPage(app: FastifyInstance, options: ShopPageOptions): void {
  const { store, forwarder, now } = options;
  const alertAfterMs = options.alertAfterMs ?? SERVER_AWAY_ALERT_MS;
  const commands = commandNames();
  const html = asset('index.html');
  const css = asset('page.css');
  const js = asset('page.js').replace('__PAGE_REFRESH_MS__', String(PAGE_REFRESH_MS));
  const hostNames = ownHostNames();
  /** Known only to the page served on this PC: a web page elsewhere cannot read it (same-origin). */
  const token = randomBytes(24).toString('base64url');
  const startedAt = now().toISOString();

  const refuse = (reply: FastifyReply, code: RequestErrorCode, message: string, retryAfter?: number) => {
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    return reply.code(statusOf(code)).send(errorBody(code, message));
  };

  /** A page on this PC, asked by that name: the only place decisions are offered. */
  const ownPage = (request: FastifyRequest) => {
    const host = hostOf(request.headers.host);
    return isLoopback(request) && host !== null && (isIP(host) !== 0 || hostNames.has(host));
  };

  /**
   * A decision must come from the page's own script on this PC: loopback, a Host it answers
   * to, an Origin (which browsers always send on POST) naming that same host, and the token
   * in a header of its own (a form on another site can send none of these).
   */
  function decisionRefused(request: FastifyRequest, reply: FastifyReply) {
    if (!isLoopback(request)) {
      return refuse(reply, 'FORBIDDEN', "Réservé au PC de la boutique : d'ici, la page se consulte seulement");
    }
    const origin = request.headers.origin;
    const sent = request.headers[PAGE_TOKEN_HEADER];
    let sameOrigin = false;
    try {
      // Compared as URLs: `Shop-PC:8001` and `shop-pc:8001` are one host, `:80` is the default port.
      sameOrigin = typeof origin === 'string' && new URL(origin).host === new URL(`http://${request.headers.host}`).host;
    } catch {
      sameOrigin = false;
    }
    const fetchSite = request.headers['sec-fetch-site'];
    const tokenOk = typeof sent === 'string' && sent.length === token.length && timingSafeEqual(Buffer.from(sent), Buffer.from(token));
    if (!ownPage(request) || !sameOrigin || (fetchSite !== undefined && fetchSite !== 'same-origin') || !tokenOk) {
      return refuse(reply, 'FORBIDDEN', 'Demande refusée : elle ne vient pas de la page du relais sur ce PC (rechargez la page)');
    }
    return null;
  }

  /** The change and its audit row together (when the relay keeps one), as the CLI writes them. */
  function decided<T>(request: FastifyRequest, commande: string, change: () => T, describe: (result: T) => string | null): T {
    if (!options.auditDb) return change();
    const source = { utilisateur: `page du relais (${request.socket.remoteAddress ?? '?'})`, commande };
    return audited(options.auditDb, source, change, describe, now);
  }

  const numeroOf = (body: unknown): string | null => {
    const numero = (body as { numero?: unknown } | null)?.numero;
    return typeof numero === 'string' && numero.length > 0 && numero.length <= MAX_NUMERO_LENGTH ? numero : null;
  };

  /**
   * A decision on a return (`genre: "retour"`) rather than a sale (`"vente"` or none): their
   * numeros are apart. Anything else is a mistake, never taken for a sale. null: not valid.
   */
  const genreOf = (body: unknown): 'vente' | 'retour' | null => {
    const genre = (body as { genre?: unknown } | null)?.genre;
    if (genre === undefined || genre === 'vente') return 'vente';
    return genre === 'retour' ? 'retour' : null;
  };
  const BAD_GENRE = 'genre attendu : « vente » ou « retour »';
  /**
   * The till the page shows the sale or return under (`caisse`: its serial), so that a decision
   * acts on that one when tills share a numero. Absent: the numero alone, if one till has it.
   */
  const caisseOf = (body: unknown): { ok: true; serial: string | null } | { ok: false } => {
    const caisse = (body as { caisse?: unknown } | null)?.caisse;
    if (caisse === undefined || caisse === null) return { ok: true, serial: null };
    return typeof caisse === 'string' && caisse.length > 0 && caisse.length <= MAX_NUMERO_LENGTH ? { ok: true, serial: caisse } : { ok: false };
  };
  const BAD_CAISSE = `caisse attendue : le numéro de série de la caisse, texte de 1 à ${MAX_NUMERO_LENGTH} caractères`;
  /** A refused decision, with the same status for a sale and a return. */
  const refuseDecision = (reply: FastifyReply, refusal: Refusal, words: string) => {
    if (refusal === 'INTROUVABLE') return refuse(reply, 'NOT_FOUND', words);
    if (refusal === 'AMBIGU') return refuse(reply, 'BAD_REQUEST', words);
    // In flight: a moment. No clear verdict yet: until the next send, whenever that is.
    return refuse(reply, 'SERVICE_UNAVAILABLE', words, refusal === 'EN_COURS_D_ENVOI' ? TRY_AGAIN_SECONDS : undefined);
  };

  app.get('/', { logLevel: 'warn' }, async (_request, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html),
  );
  app.get('/page/page.css', { logLevel: 'warn' }, async (_request, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/css; charset=utf-8').send(css),
  );
  app.get('/page/page.js', { logLevel: 'warn' }, async (_request, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(js),
  );

  let reused: { view: ShopView; until: number } | null = null;
  const currentView = (): ShopView => {
    const started = performance.now();
    if (reused && started < reused.until) return reused.view;
    const daemon = {
      running: true as const,
      url: store.getEtat('daemon_url') ?? '',
      identity: { relais_id: store.getEtat('relais_id') ?? '', pid: process.pid, demarre_le: startedAt },
    };
    const view = shopView(store, { now: now(), daemon, commands, alertAfterMs });
    const took = performance.now() - started;
    reused = { view, until: started + Math.max(VIEW_REUSE_MIN_MS, took / VIEW_TIME_SHARE) };
    return view;
  };

  // Asked every few seconds by every open page: not worth a line each in the shop's log.
  app.get(PAGE_STATE_PATH, { logLevel: 'warn' }, async (request, reply) => {
    const view = currentView();
    const actions = ownPage(request);
    return reply.headers({ 'cache-control': 'no-store' }).send({ ...view, actions_permises: actions, ...(actions ? { jeton: token } : {}) });
  });

  app.post(PAGE_RETRY_PATH, async (request, reply) => {
    const refused = decisionRefused(request, reply);
    if (refused) return refused;
    const numero = numeroOf(request.body);
    if (!numero) return refuse(reply, 'BAD_REQUEST', `numero attendu : texte de 1 à ${MAX_NUMERO_LENGTH} caractères`);
    const genre = genreOf(request.body);
    if (genre === null) return refuse(reply, 'BAD_REQUEST', BAD_GENRE);
    const caisse = caisseOf(request.body);
    if (!caisse.ok) return refuse(reply, 'BAD_REQUEST', BAD_CAISSE);
    const serial = caisse.serial;
    if (genre === 'retour') {
      const done = decided(
        request,
        `Renvoyer le retour ${numero}${serial ? ` (caisse ${serial})` : ''}`,
        () => retryRetour(store, numero, serial),
        (o) => (o.ok ? `1 retour(s) remis en attente : ${numero}` : null),
      );
      if (!done.ok && done.refusal === 'AMBIGU') return refuse(reply, 'BAD_REQUEST', ambiguousWords('retour', numero, done.caisses, null));
      if (!done.ok) return refuse(reply, 'NOT_FOUND', `pas de retour rejeté ou abandonné : ${numero}`);
      reused = null;
      request.log.info({ numero_retour: numero }, `Retour ${numero} remis en attente depuis la page du relais`);
      void forwarder.syncNow().catch(() => {});
      return { success: true, message: `Retour ${numero} remis en attente : il part vers le serveur après sa vente.` };
    }
    const outcome = decided(
      request,
      `Renvoyer ${numero}${serial ? ` (caisse ${serial})` : ''}`,
      () => retrySales(store, [numero], now(), serial),
      (o) =>
        o.count > 0
          ? `${o.count} vente(s) remise(s) en attente : ${numero}` +
            (o.retours.length > 0 ? ` ; avec elle ${o.retours.length} retour(s) refusé(s) faute de vente : ${o.retours.join(', ')}` : '')
          : null,
    );
    const words = retryRefusalWords(outcome);
    if (outcome.ambiguous.length > 0) return refuse(reply, 'BAD_REQUEST', words!);
    if (outcome.sending.length > 0) return refuse(reply, 'SERVICE_UNAVAILABLE', words!, TRY_AGAIN_SECONDS);
    if (words) return refuse(reply, 'NOT_FOUND', words);
    reused = null;
    request.log.info({ numero }, `Vente ${numero} remise en attente depuis la page du relais`);
    // Sent now, as the CLI's retry asks the daemon to: the page does not wait for the answer.
    void forwarder.syncNow().catch(() => {});
    const withRetours = outcome.retours.length > 0 ? ` Ses retours refusés faute de vente (${outcome.retours.join(', ')}) repartent après elle.` : '';
    return { success: true, message: `Vente ${numero} remise en attente : elle part vers le serveur.${withRetours}` };
  });

  app.post(PAGE_DISCARD_PATH, async (request, reply) => {
    const refused = decisionRefused(request, reply);
    if (refused) return refused;
    const numero = numeroOf(request.body);
    if (!numero) return refuse(reply, 'BAD_REQUEST', `numero attendu : texte de 1 à ${MAX_NUMERO_LENGTH} caractères`);
    const raison = (request.body as { raison?: unknown }).raison;
    if (typeof raison !== 'string' || raison.trim() === '') return refuse(reply, 'BAD_REQUEST', "Donnez la raison de l'abandon : elle est gardée avec la vente");
    if (raison.length > MAX_DISCARD_REASON_CHARS) return refuse(reply, 'BAD_REQUEST', `Raison trop longue : ${MAX_DISCARD_REASON_CHARS} caractères au plus`);
    // Kept with the sale, then shown by the CLI and in the audit: plain text only.
    if (hasUnprintable(raison)) return refuse(reply, 'BAD_REQUEST', `La raison ${UNPRINTABLE_MESSAGE}`);
    const reason = raison.trim();
    const genre = genreOf(request.body);
    if (genre === null) return refuse(reply, 'BAD_REQUEST', BAD_GENRE);
    const caisse = caisseOf(request.body);
    if (!caisse.ok) return refuse(reply, 'BAD_REQUEST', BAD_CAISSE);
    const serial = caisse.serial;
    if (genre === 'retour') {
      const done = decided(
        request,
        `Abandonner le retour ${numero}${serial ? ` (caisse ${serial})` : ''} : ${reason}`,
        () => discardRetour(store, numero, reason, now(), serial),
        (o) => (o.ok ? `Retour ${numero} abandonné : ${reason}` : null),
      );
      if (!done.ok) return refuseDecision(reply, done.refusal, discardRefusalWords(done.refusal, numero, undefined, { genre: 'retour', caisses: done.caisses }));
      reused = null;
      request.log.info({ numero_retour: numero, raison: reason }, `Retour ${numero} abandonné depuis la page du relais`);
      return { success: true, message: `Retour ${numero} abandonné : ${reason}` };
    }
    const outcome = decided(
      request,
      `Abandonner ${numero}${serial ? ` (caisse ${serial})` : ''} : ${reason}`,
      () => discardSale(store, numero, reason, now(), serial),
      (o) => (o.ok ? `Vente ${numero} abandonnée : ${reason}` : null),
    );
    if (!outcome.ok) return refuseDecision(reply, outcome.refusal, discardRefusalWords(outcome.refusal, numero, undefined, { caisses: outcome.caisses }));
    reused = null;
    request.log.info({ numero, raison }, `Vente ${numero} abandonnée depuis la page du relais`);
    return { success: true, message: `Vente ${numero} abandonnée : ${raison.trim()}` };
  });
}
