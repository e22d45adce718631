import {
  bodySha256,
  errorBody,
  type ParsedSignature,
  parseSignatureHeader,
  type RequestErrorCode,
  SIGNATURE_HEADER,
  SIGNATURE_WINDOW_SECONDS,
  signatureMatches,
  statusOf,
} from '@ventesync/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientError } from './error-handler.js';
import { checkRawBody, takeRawBodyCheck } from './json-body.js';

/**
 * CONTRACT §6's check as one hook, written once for the server (terminals, relays, the relays'
 * own endpoint) and for the relay's door (its tills): each says only which key a request must
 * be signed with and where accepted v1s are remembered.
 */
export type SignatureCode =
  | 'SIGNATURE_REQUIRED'
  | 'INVALID_SIGNATURE'
  | 'SIGNATURE_EXPIRED'
  | 'SIGNATURE_REPLAYED'
  | 'RELAY_NOT_FOUND'
  | 'RELAY_FORBIDDEN';

export const SIGNATURE_MESSAGES: Record<Exclude<SignatureCode, 'RELAY_NOT_FOUND' | 'RELAY_FORBIDDEN'>, string> = {
  SIGNATURE_REQUIRED: `Signature requise : ce terminal doit signer ses requêtes (header ${SIGNATURE_HEADER})`,
  INVALID_SIGNATURE: `Signature invalide (header ${SIGNATURE_HEADER}) : vérifiez le secret du terminal et la façon de signer`,
  SIGNATURE_EXPIRED: `Signature expirée : l’heure de l’appareil est à plus de ${SIGNATURE_WINDOW_SECONDS} secondes de celle du serveur`,
  SIGNATURE_REPLAYED: 'Signature déjà utilisée : chaque requête doit être signée à nouveau',
};

export interface SignatureRefusal {
  code: SignatureCode;
  message: string;
}

/** What a request must be signed with; null when it is served unsigned. */
export type SignatureDemand =
  | null
  | SignatureRefusal
  | {
      key: string;
      /** Checked once the HMAC matches, before the v1 is recorded (the relay's boutiques). */
      afterMatch?: () => SignatureRefusal | null;
      /**
       * The HMAC matched: the signer is who it says, whatever comes next (its boutiques, a
       * replay). E.g. a header for the answer, refusals included.
       */
      onAuthenticated?: (reply: FastifyReply) => void;
    };

export interface ReplayGuard {
  /**
   * True the first time this v1 is seen within the window (and records it), false for a replay.
   * A promise of it from an asynchronous database; a synchronous answer is used at once.
   */
  accept(signature: ParsedSignature): boolean | Promise<boolean>;
}

export interface SignatureCheckOptions {
  /** Runs after the serial was resolved (when the scope has one). */
  demand: (request: FastifyRequest) => SignatureDemand | Promise<SignatureDemand>;
  replays: ReplayGuard;
  /** The checker's clock, in Unix seconds. */
  nowSeconds: () => number;
}

const replayed = () => clientError('SIGNATURE_REPLAYED', SIGNATURE_MESSAGES.SIGNATURE_REPLAYED);

function refuse(reply: FastifyReply, refusal: SignatureRefusal) {
  return reply.code(statusOf(refusal.code)).send(errorBody(refusal.code, refusal.message));
}

const SIGNATURE = SIGNATURE_HEADER.toLowerCase();

/**
 * The header is read and `t` checked at once; the HMAC over the body's bytes as received runs
 * before they are parsed (or on the empty body, for a request that has none), so a refused
 * request never reaches its route: nothing is written. Order (§6): HMAC, the caller's own
 * check (a relay's boutiques), then the replay.
 */
export function registerSignatureCheck(api: FastifyInstance, options: SignatureCheckOptions): void {
  api.addHook('onRequest', async (request, reply) => {
    const demand = await options.demand(request);
    if (demand === null) return;
    if ('code' in demand) return refuse(reply, demand);
    const parsed = parseSignatureHeader(request.headers[SIGNATURE], options.nowSeconds());
    if (!parsed.ok) {
      const message =
        parsed.code === 'SIGNATURE_REQUIRED' ? SIGNATURE_MESSAGES.SIGNATURE_REQUIRED : `${SIGNATURE_MESSAGES[parsed.code]} (${parsed.reason})`;
      return refuse(reply, { code: parsed.code, message });
    }
    const { signature } = parsed;
    checkRawBody(request, (body) => {
      // request.raw.url: the path and query exactly as sent, before any decoding or rewriting.
      let refusal: SignatureRefusal | null = null;
      if (!signatureMatches(demand.key, signature, request.method, request.raw.url ?? '', bodySha256(body))) {
        refusal = { code: 'INVALID_SIGNATURE', message: SIGNATURE_MESSAGES.INVALID_SIGNATURE };
      } else {
        demand.onAuthenticated?.(reply);
        refusal = demand.afterMatch?.() ?? null;
        if (!refusal) {
          const accepted = options.replays.accept(signature);
          if (accepted instanceof Promise) return accepted.then((ok) => (ok ? null : replayed()));
          if (!accepted) return replayed();
        }
      }
      return refusal && clientError(refusal.code as RequestErrorCode, refusal.message);
    });
  });

  api.addHook('preValidation', async (request, reply) => {
    const check = takeRawBodyCheck(request);
    if (!check) return;
    const refusal = (await check(Buffer.alloc(0))) as (Error & { ventesyncCode?: SignatureCode }) | null;
    if (refusal) return refuse(reply, { code: refusal.ventesyncCode!, message: refusal.message });
  });
}

/** The few better-sqlite3 methods the replay guard needs (runtime does not depend on the addon). */
export interface ReplayDb {
  prepare(source: string): { run(...params: unknown[]): { changes: number } };
  pragma(source: string): unknown;
  readonly inTransaction: boolean;
}

/**
 * Pruning the remembered signatures costs a DELETE: at most once per this many seconds. Short,
 * so each prune is short: at 3,000 signed requests a second, a minute's worth (180,000 rows)
 * deleted at once held the server for seconds.
 */
export const SIGNATURE_PRUNE_INTERVAL_SECONDS = 5;

/**
 * A v1 is remembered this much longer than the window. `t` is checked when the headers arrive,
 * the v1 recorded when the body has: a replay signed at now − 299 whose body is held back would
 * otherwise find the original's row pruned by then, and pass. Above the longest a request may
 * take to arrive on the server and on the relay (DEFAULT_HTTP_LIMITS.requestTimeoutMs, 60 s;
 * a test holds it to that).
 */
export const SIGNATURE_PRUNE_MARGIN_SECONDS = 120;

/**
 * The v1s accepted within the window, in a table `signatures_vues (t INTEGER, v1 BLOB,
 * PRIMARY KEY (t, v1))`, so that a replay is refused after a restart too. One INSERT per signed request,
 * checked and recorded in one statement (no window between the two). It runs at
 * synchronous=NORMAL: no fsync of its own (the next sale's commit makes it durable), since a
 * signed read would otherwise cost a disk flush each; a power cut can forget the last few,
 * whose requests a sale's idempotence still guards.
 */
export function createReplayGuard(db: ReplayDb, nowSeconds: () => number): ReplayGuard {
  const insert = db.prepare('INSERT INTO signatures_vues (t, v1) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const prune = db.prepare('DELETE FROM signatures_vues WHERE t < ?');
  // Prepared once: db.pragma() prepares its statement on every call.
  const relax = db.prepare('PRAGMA synchronous = NORMAL');
  const restore = db.prepare('PRAGMA synchronous = FULL');
  let prunedAt = 0;
  return {
    accept(signature: ParsedSignature): boolean {
      const now = nowSeconds();
      const relaxed = !db.inTransaction;
      if (relaxed) relax.run();
      try {
        if (now - prunedAt >= SIGNATURE_PRUNE_INTERVAL_SECONDS) {
          prune.run(now - SIGNATURE_WINDOW_SECONDS - SIGNATURE_PRUNE_MARGIN_SECONDS);
          prunedAt = now;
        }
        return insert.run(signature.t, Buffer.from(signature.v1, 'hex')).changes === 1;
      } finally {
        if (relaxed) restore.run();
      }
    },
  };
}
