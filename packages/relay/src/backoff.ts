/**
 * Retry policies as plain data with units. Delays use "full jitter" (a random delay between 0
 * and the exponential ceiling): after an outage, the relays of every shop do not come back in
 * step and knock the server over together.
 */
export interface RetryPolicy {
  baseMs: number;
  capMs: number;
  factor: number;
}

/** A batch that could not be delivered (network, timeout, 5xx, 429): retried forever. */
export const NETWORK_RETRY: RetryPolicy = { baseMs: 1_000, capMs: 5 * 60_000, factor: 2 };

/** A sale the server refused for stock: the stock may be corrected there, so try again a few times. */
export interface StockRetryPolicy extends RetryPolicy {
  maxAttempts: number;
}
export const STOCK_RETRY: StockRetryPolicy = { baseMs: 60_000, capMs: 30 * 60_000, factor: 2, maxAttempts: 5 };

/** Delay before attempt `attempt + 1`, `attempt` counting the failures so far (from 0). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * policy.factor ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** The longest delay a Node timer takes (2^31 − 1 ms); a longer one fires at once, in a loop. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay a timer can take: whole, between 0 and `capMs` (itself never above MAX_TIMER_MS). */
export function timerDelay(ms: number, capMs: number = MAX_TIMER_MS): number {
  const cap = Math.min(capMs, MAX_TIMER_MS);
  return Number.isFinite(ms) ? Math.min(cap, Math.max(0, Math.ceil(ms))) : ms > 0 ? cap : 0;
}

/**
 * `Retry-After` as seconds or as an HTTP date; null when absent or unreadable. Never more
 * than MAX_TIMER_MS: the caller caps it further at its own backoff maximum.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: Date): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return timerDelay(Number(value.trim()) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : timerDelay(date - now.getTime());
}
