import {
  bodySha256,
  errorBody,
  parseSignatureHeader,
  RELAY_ID_HEADER,
  type RequestErrorCode,
  SIGNATURE_HEADER,
  SIGNATURE_WINDOW_SECONDS,
  type ParsedSignature,
  signatureMatches,
  statusOf,
} from '@ventesync/shared';
import { checkRawBody, clientError, takeRawBodyCheck } from '@ventesync/runtime/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TerminalContext } from './catalogue-store.js';
import type { Db } from './db/open-database.js';
import { type ActiveRelay, parseRelayId, type RelayRegistry } from './relay-registry.js';

/** Pruning the remembered signatures costs a DELETE: at most once per this many seconds. */
export const SIGNATURE_PRUNE_INTERVAL_SECONDS = 60;

export interface SignatureOptions {
  /** `serve --require-signatures`: a terminal without a secret gets 401 SIGNATURE_REQUIRED. */
  requireSignatures: boolean;
  /** The clock, in Unix seconds. */
  nowSeconds: () => number;
}

const SIGNATURE = SIGNATURE_HEADER.toLowerCase();
const RELAY_ID = RELAY_ID_HEADER.toLowerCase();

const MESSAGES: Record<Exclude<SignatureCode, 'RELAY_NOT_FOUND' | 'RELAY_FORBIDDEN'>, string> = {
  SIGNATURE_REQUIRED: `Signature requise : ce terminal doit signer ses requêtes (header ${SIGNATURE_HEADER})`,
  INVALID_SIGNATURE: `Signature invalide (header ${SIGNATURE_HEADER}) : vérifiez le secret du terminal et la façon de signer`,
  SIGNATURE_EXPIRED: `Signature expirée : l’heure de l’appareil est à plus de ${SIGNATURE_WINDOW_SECONDS} secondes de celle du serveur`,
  SIGNATURE_REPLAYED: 'Signature déjà utilisée : chaque requête doit être signée à nouveau',
};
type SignatureCode =
  | 'SIGNATURE_REQUIRED'
  | 'INVALID_SIGNATURE'
  | 'SIGNATURE_EXPIRED'
  | 'SIGNATURE_REPLAYED'
  | 'RELAY_NOT_FOUND'
  | 'RELAY_FORBIDDEN';

/**
 * The v1s accepted within the window, in the database so that a replay is refused after a
 * restart too. One INSERT per signed request, checked and recorded in one statement (no
 * window between the two). It runs at synchronous=NORMAL: no fsync of its own (the next sale's
 * group commit makes it durable), since a signed read would otherwise cost a disk flush
 * each; a power cut can forget the last few, whose requests a sale's idempotence still guards.
 */
function createReplayGuard(db: Db, nowSeconds: () => number) {
  const insert = db.prepare<[string, number]>('INSERT INTO signatures_vues (v1, t) VALUES (?, ?) ON CONFLICT (v1) DO NOTHING');
  const prune = db.prepare<[number]>('DELETE FROM signatures_vues WHERE t < ?');
  let prunedAt = 0;
  return {
    /** True the first time this v1 is seen within the window, false for a replay. */
    accept(signature: ParsedSignature): boolean {
      const now = nowSeconds();
      const relaxed = !db.inTransaction;
      if (relaxed) db.pragma('synchronous = NORMAL');
      try {
        if (now - prunedAt >= SIGNATURE_PRUNE_INTERVAL_SECONDS) {
          prune.run(now - SIGNATURE_WINDOW_SECONDS);
          prunedAt = now;
        }
        return insert.run(signature.v1, signature.t).changes === 1;
      } finally {
        if (relaxed) db.pragma('synchronous = FULL');
      }
    },
  };
}

function refuse(reply: FastifyReply, code: SignatureCode, message: string) {
  return reply.code(statusOf(code)).send(errorBody(code, message));
}

/**
 * CONTRACT §6 on every route of `api`, after the serial has been resolved (registerTerminalAuth,
 * registered before this): the header is read and `t` checked at once; the HMAC over the body's
 * bytes as received runs before they are parsed (or on the empty body, for a request that has
 * none), so a refused request never reaches its route: nothing is written.
 */
export function registerRequestSignatures(api: FastifyInstance, db: Db, relays: RelayRegistry, options: SignatureOptions): void {
  const replays = createReplayGuard(db, options.nowSeconds);

  /** The refusal for this body, or null (and the v1 recorded). */
  function verify(
    request: FastifyRequest,
    key: string,
    signature: ParsedSignature,
    relay: ActiveRelay | null,
    bodyHash: string,
  ): { code: SignatureCode; message: string } | null {
    // request.raw.url: the path and query exactly as sent, before any decoding or rewriting.
    if (!signatureMatches(key, signature, request.method, request.raw.url ?? '', bodyHash)) {
      return { code: 'INVALID_SIGNATURE', message: MESSAGES.INVALID_SIGNATURE };
    }
    const terminal = request.terminal as TerminalContext;
    if (relay && !relay.boutiques.has(terminal.boutique_id)) {
      return { code: 'RELAY_FORBIDDEN', message: `Ce relais ne dessert pas la boutique du terminal ${terminal.serial}` };
    }
    if (!replays.accept(signature)) return { code: 'SIGNATURE_REPLAYED', message: MESSAGES.SIGNATURE_REPLAYED };
    return null;
  }

  api.addHook('onRequest', async (request, reply) => {
    const terminal = request.terminal as TerminalContext;
    let key: string;
    let relay: ActiveRelay | null = null;
    const relayHeader = request.headers[RELAY_ID];
    if (relayHeader !== undefined) {
      const id = typeof relayHeader === 'string' ? parseRelayId(relayHeader.trim()) : null;
      relay = (id !== null && relays.findActive(id)) || null;
      if (!relay) return refuse(reply, 'RELAY_NOT_FOUND', `Relais inconnu ou désactivé (header ${RELAY_ID_HEADER})`);
      key = relay.secret;
    } else if (terminal.secret !== null) {
      key = terminal.secret;
    } else if (options.requireSignatures) {
      return refuse(reply, 'SIGNATURE_REQUIRED', `${MESSAGES.SIGNATURE_REQUIRED} : donnez-lui un secret (ventesync-server terminal secret ${terminal.serial})`);
    } else {
      return; // a till without a secret, served as the guide says
    }
    const parsed = parseSignatureHeader(request.headers[SIGNATURE], options.nowSeconds());
    if (!parsed.ok) {
      const message = parsed.code === 'SIGNATURE_REQUIRED' ? MESSAGES.SIGNATURE_REQUIRED : `${MESSAGES[parsed.code]} (${parsed.reason})`;
      return refuse(reply, parsed.code, message);
    }
    const { signature } = parsed;
    checkRawBody(request, (body) => {
      const refusal = verify(request, key, signature, relay, bodySha256(body));
      return refusal && clientError(refusal.code as RequestErrorCode, refusal.message);
    });
  });

  api.addHook('preValidation', async (request, reply) => {
    const check = takeRawBodyCheck(request);
    if (!check) return;
    const refusal = check(Buffer.alloc(0)) as (Error & { ventesyncCode?: SignatureCode }) | null;
    if (refusal) return refuse(reply, refusal.ventesyncCode!, refusal.message);
  });
}
