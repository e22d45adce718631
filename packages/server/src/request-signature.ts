import { RELAY_ID_HEADER, RELAY_TERMINALS_VERSION_HEADER } from '@ventesync/shared';
import { type ReplayGuard, registerSignatureCheck, SIGNATURE_MESSAGES, type SignatureDemand } from '@ventesync/runtime/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TerminalContext } from './catalogue-store.js';
import { type ActiveRelay, parseRelayId } from './relay-registry.js';
import type { RelayStorage, Storage } from './storage/storage.js';

export { SIGNATURE_PRUNE_INTERVAL_SECONDS } from '@ventesync/runtime/http';

export interface SignatureOptions {
  /** `serve --require-signatures`: a terminal without a secret gets 401 SIGNATURE_REQUIRED. */
  requireSignatures: boolean;
  /** The clock, in Unix seconds. */
  nowSeconds: () => number;
}

const RELAY_ID = RELAY_ID_HEADER.toLowerCase();

declare module 'fastify' {
  interface FastifyRequest {
    /** The registered relay that signed this request (CONTRACT §6), once its signature is checked. */
    relay: ActiveRelay | null;
  }
}

/** The relay named by `X-Relay-Id`, or a 401 RELAY_NOT_FOUND; undefined when there is no such header. */
async function relayOf(
  request: FastifyRequest,
  relays: RelayStorage,
): Promise<ActiveRelay | { code: 'RELAY_NOT_FOUND'; message: string } | undefined> {
  const header = request.headers[RELAY_ID];
  if (header === undefined) return undefined;
  const id = typeof header === 'string' ? parseRelayId(header.trim()) : null;
  const relay = id !== null ? await relays.findActive(id) : undefined;
  return relay ?? { code: 'RELAY_NOT_FOUND', message: `Relais inconnu ou désactivé (header ${RELAY_ID_HEADER})` };
}

/**
 * Every answer to a request the relay really signed (its HMAC matched), a refusal for a till of
 * another boutique included, says which version of its terminals' list is current, so that a
 * secret rotated (or a boutique moved) on the server reaches the relay at its next contact.
 * The version is read before the signature is checked (the check itself runs synchronously).
 */
async function markRelay(request: FastifyRequest, relay: ActiveRelay, relays: RelayStorage, options: SignatureOptions) {
  const version = await relays.terminalsVersion(relay.id, options.requireSignatures);
  return (reply: FastifyReply) => {
    request.relay = relay;
    reply.header(RELAY_TERMINALS_VERSION_HEADER, version);
  };
}

/** The storage's memory of accepted v1s, on this app's clock. */
function replaysOf(storage: Pick<Storage, 'signatures'>, options: SignatureOptions): ReplayGuard {
  return { accept: (signature) => storage.signatures.accept(signature, options.nowSeconds()) };
}

/**
 * CONTRACT §6 on every route of `api`, after the serial has been resolved (registerTerminalAuth,
 * registered before this): a registered relay signs with its own secret for a till of its
 * boutiques; a terminal with a secret signs with it; one without is served as the guide says
 * unless signatures are required. Accepted v1s are kept in the database (signatures_vues).
 */
export function registerRequestSignatures(api: FastifyInstance, storage: Pick<Storage, 'relays' | 'signatures'>, options: SignatureOptions): void {
  const { relays } = storage;
  if (!api.hasRequestDecorator('relay')) api.decorateRequest('relay', null);
  registerSignatureCheck(api, {
    replays: replaysOf(storage, options),
    nowSeconds: options.nowSeconds,
    async demand(request): Promise<SignatureDemand> {
      const terminal = request.terminal as TerminalContext;
      const relay = await relayOf(request, relays);
      if (relay && 'code' in relay) return relay;
      if (relay) {
        return {
          key: relay.secret,
          afterMatch: () =>
            relay.boutiques.has(terminal.boutique_id)
              ? null
              : { code: 'RELAY_FORBIDDEN', message: `Ce relais ne dessert pas la boutique du terminal ${terminal.serial}` },
          onAuthenticated: await markRelay(request, relay, relays, options),
        };
      }
      if (terminal.secret !== null) return { key: terminal.secret };
      if (options.requireSignatures) {
        return {
          code: 'SIGNATURE_REQUIRED',
          message: `${SIGNATURE_MESSAGES.SIGNATURE_REQUIRED} : donnez-lui un secret (ventesync-server terminal secret ${terminal.serial})`,
        };
      }
      return null; // a till without a secret, served as the guide says
    },
  });
}

/**
 * The relays' own routes (no till named): signed by a registered relay alone, with the same
 * rules, codes and replay memory as every other /api/ request.
 */
export function registerRelayOnlySignatures(api: FastifyInstance, storage: Pick<Storage, 'relays' | 'signatures'>, options: SignatureOptions): void {
  const { relays } = storage;
  if (!api.hasRequestDecorator('relay')) api.decorateRequest('relay', null);
  registerSignatureCheck(api, {
    replays: replaysOf(storage, options),
    nowSeconds: options.nowSeconds,
    async demand(request): Promise<SignatureDemand> {
      const relay = (await relayOf(request, relays)) ?? {
        code: 'RELAY_NOT_FOUND' as const,
        message: `Réservé aux relais enregistrés : header ${RELAY_ID_HEADER} absent`,
      };
      if ('code' in relay) return relay;
      return { key: relay.secret, onAuthenticated: await markRelay(request, relay, relays, options) };
    },
  });
}
