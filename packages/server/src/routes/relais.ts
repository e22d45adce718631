import { RELAY_TERMINALS_PATH, RELAY_TERMINALS_VERSION_HEADER, type RelaisTerminauxResponse } from '@ventesync/shared';
import type { FastifyInstance } from 'fastify';
import type { ActiveRelay } from '../relay-registry.js';
import { registerRelayOnlySignatures, type SignatureOptions } from '../request-signature.js';
import type { Storage } from '../storage/storage.js';

/**
 * CONTRACT §6: what a registered relay needs to guard its door: the terminals of its boutiques,
 * their secrets, and whether unsigned tills are refused. No till is named (no X-Device-Serial):
 * the relay's own signature is the only credential, checked with the same rules and codes.
 */
export function relaisRoutes(app: FastifyInstance, storage: Pick<Storage, 'relays' | 'signatures'>, options: SignatureOptions): void {
  const { relays } = storage;
  registerRelayOnlySignatures(app, storage, options);
  app.get(RELAY_TERMINALS_PATH, async (request, reply): Promise<RelaisTerminauxResponse> => {
    const relay = request.relay as ActiveRelay;
    // The secrets travel to this relay only, over its signed link: no cache on the way keeps them.
    reply.header('cache-control', 'no-store');
    return {
      success: true,
      relais_id: relay.id,
      signatures_requises: options.requireSignatures,
      version: String(reply.getHeader(RELAY_TERMINALS_VERSION_HEADER) ?? (await relays.terminalsVersion(relay.id, options.requireSignatures))),
      terminaux: await relays.terminalsOf(relay.id),
    };
  });
}
