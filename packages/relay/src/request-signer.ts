import { bodySha256, computeV1, RELAY_ID_HEADER, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECONDS } from '@ventesync/shared';
import type { RelayCredentials } from './relay-credentials.js';

/**
 * Identical messages remembered at most: a relay sends a few requests a second; beyond this
 * the oldest are forgotten (an identical request that old is long out of the window).
 */
export const MAX_REMEMBERED_MESSAGES = 10_000;
/** A t is never more than this ahead of the server's time as the relay estimates it. */
export const SIGN_AHEAD_MAX_SECONDS = 2;
/**
 * A past second reused for an identical message stays this far inside the window: time for
 * the request to reach the server, and room for an error in the relay's estimate of its clock.
 */
export const SIGN_PAST_MARGIN_SECONDS = 60;

/**
 * Signs what the relay sends upstream with its own secret (CONTRACT §6). The server refuses a
 * v1 it has already accepted within the window, and the relay's signature does not cover
 * `X-Device-Serial`: two tills reading the same URL in the same second, or a batch resent right
 * after a lost answer, would make the same v1. So a v1 is never reused: an identical message
 * gets a t not yet used for it, the current second first, else the most recent free past one
 * (within the window less a margin), else one or two seconds ahead. Never further ahead: a t
 * running ahead of the clock (t + 1 on every identical request) ends past the window, where
 * the server refuses every read. `sign` gives null when no t is free (more than one identical
 * request a second for minutes): the caller answers 503 rather than send what the server
 * would refuse. A relay restarted forgets the t's it used: should it pick one the server still
 * remembers, the answer SIGNATURE_REPLAYED makes upstream.ts sign again with the next free t.
 * `nowMs`: the relay's clock corrected by the server's offset, so that a shop PC with a wrong
 * clock still signs within the server's ±300 s.
 */
export function createRequestSigner(credentials: RelayCredentials, nowMs: () => number) {
  // Per message (method, path, body hash), the t's used: most recently used message last.
  const used = new Map<string, Set<number>>();
  /** The server's clock minus the corrected one, learned from an EXPIRED answer's Date header. */
  let extraOffsetMs = 0;

  /** The best estimate of the server's time: what tills are judged on at the relay's door too. */
  const serverNowMs = () => nowMs() + extraOffsetMs;
  const nowSeconds = () => Math.floor(serverNowMs() / 1000);

  function prune() {
    for (const key of used.keys()) {
      if (used.size <= MAX_REMEMBERED_MESSAGES) break;
      used.delete(key);
    }
  }

  /** A t not used yet for this message, or null. */
  function pickT(ts: Set<number>, now: number): number | null {
    for (const t of ts) if (t < now - SIGNATURE_WINDOW_SECONDS) ts.delete(t);
    const oldest = now - (SIGNATURE_WINDOW_SECONDS - SIGN_PAST_MARGIN_SECONDS);
    if (!ts.has(now)) return now;
    for (let t = now - 1; t >= oldest; t--) if (!ts.has(t)) return t;
    for (let t = now + 1; t <= now + SIGN_AHEAD_MAX_SECONDS; t++) if (!ts.has(t)) return t;
    return null;
  }

  return {
    relayId: credentials.id,
    /** The headers for one request; `body` is exactly the bytes sent (none for a GET). Null: no t free now. */
    sign(method: string, pathAndQuery: string, body?: string): Record<string, string> | null {
      const now = nowSeconds();
      const bodyHash = bodySha256(body === undefined ? undefined : Buffer.from(body, 'utf8'));
      const key = `${method} ${pathAndQuery} ${bodyHash}`;
      const ts = used.get(key) ?? new Set<number>();
      const t = pickT(ts, now);
      if (t === null) return null;
      ts.add(t);
      used.delete(key);
      used.set(key, ts);
      prune();
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
