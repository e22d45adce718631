import { bodySha256, computeV1, RELAY_ID_HEADER, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECONDS } from '@ventesync/shared';
import type { RelayCredentials } from './relay-credentials.js';

/**
 * Identical messages remembered at most: a relay sends a few requests a second; beyond this
 * the oldest are forgotten (an identical request that old is long out of the window).
 */
export const MAX_REMEMBERED_MESSAGES = 10_000;

/**
 * Signs what the relay sends upstream with its own secret (CONTRACT §6). The server refuses a
 * v1 it has already accepted within the window, and the relay's signature does not cover
 * `X-Device-Serial`: two tills reading the same URL in the same second, or a batch resent right
 * after a lost answer, would make the same v1. So a v1 is never reused: an identical message
 * already signed at `t` or later is signed at the next second instead.
 * `nowMs`: the relay's clock corrected by the server's offset, so that a shop PC with a wrong
 * clock still signs within the server's ±300 s.
 */
export function createRequestSigner(credentials: RelayCredentials, nowMs: () => number) {
  // Per message (method, path, body hash), the last t used: newest last (Map keeps insertion order).
  const lastT = new Map<string, number>();
  /** The server's clock minus the corrected one, learned from an EXPIRED answer's Date header. */
  let extraOffsetMs = 0;

  /** The best estimate of the server's time: what tills are judged on at the relay's door too. */
  const serverNowMs = () => nowMs() + extraOffsetMs;
  const nowSeconds = () => Math.floor(serverNowMs() / 1000);

  function prune(now: number) {
    for (const [key, t] of lastT) {
      if (lastT.size <= MAX_REMEMBERED_MESSAGES && t >= now - SIGNATURE_WINDOW_SECONDS) break;
      lastT.delete(key);
    }
  }

  return {
    relayId: credentials.id,
    /** The headers for one request; `body` is exactly the bytes sent (none for a GET). */
    sign(method: string, pathAndQuery: string, body?: string): Record<string, string> {
      const now = nowSeconds();
      const bodyHash = bodySha256(body === undefined ? undefined : Buffer.from(body, 'utf8'));
      const key = `${method} ${pathAndQuery} ${bodyHash}`;
      const previous = lastT.get(key);
      const t = previous !== undefined && previous >= now ? previous + 1 : now;
      lastT.delete(key);
      lastT.set(key, t);
      prune(now);
      return {
        [RELAY_ID_HEADER]: String(credentials.id),
        [SIGNATURE_HEADER]: `t=${t},v1=${computeV1(credentials.secret, t, method, pathAndQuery, bodyHash)}`,
      };
    },
    /**
     * The server said SIGNATURE_EXPIRED and its `Date` header gives its time: sign on its time
     * from now on (clock.ts's measure may not exist yet: no sync went through). Should the
     * corrected clock move later, the next EXPIRED sets this again.
     */
    adjust(serverNowMs: number): void {
      if (Number.isFinite(serverNowMs)) extraOffsetMs = serverNowMs - nowMs();
    },
    nowSeconds,
    serverNowMs,
  };
}

export type RequestSigner = ReturnType<typeof createRequestSigner>;
