import { SERIAL_HEADER, SYNC_PATH } from '@ventesync/shared';
import { Agent, type Dispatcher, request } from 'undici';
import { parseRetryAfter } from './backoff.js';
import type { UpstreamAnswer } from './classify.js';

export interface UpstreamTimeouts {
  connectMs: number;
  /** Until the server's answer headers arrive: it includes the server's write of the batch. */
  headersMs: number;
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000 };

/**
 * The largest answer the relay reads from the server. A sync answer for 500 sales, a large
 * shop's catalogue or a page of history stay far below; anything bigger is a broken server or
 * proxy, and reading it whole would cost the shop PC its memory.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Keep-alive: a shop's relay talks to one server, batch after batch. */
export function createAgent(timeouts: UpstreamTimeouts = DEFAULT_TIMEOUTS): Agent {
  return new Agent({
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    keepAliveTimeout: 30_000,
  });
}

function describeNetworkError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code ?? 'ERREUR';
  return `Serveur injoignable (${code}${e.message ? ` : ${e.message}` : ''})`;
}

class AnswerTooLarge extends Error {}

/** Reads a body up to `limit` bytes; beyond, stops reading (the connection is dropped). */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new AnswerTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The server's clock minus ours, from its `Date` header (whole seconds, truncated: +500 ms
 * centres it) against the middle of the exchange.
 */
function clockOffset(dateHeader: string | string[] | undefined, sentAt: number, answeredAt: number): number | null {
  const value = Array.isArray(dateHeader) ? dateHeader[0] : dateHeader;
  const serverTime = value ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(serverTime)) return null;
  return serverTime + 500 - (sentAt + answeredAt) / 2;
}

export interface UpstreamOptions {
  timeouts?: UpstreamTimeouts;
  /** Called with the measured clock offset (server minus relay, ms) after each answer. */
  onClockOffset?: (offsetMs: number) => void;
  maxAnswerBytes?: number;
}

/** The central server as the relay sees it: a base URL reached through an undici dispatcher. */
export function createUpstream(baseUrl: string, dispatcher: Dispatcher, timeoutsOrOptions: UpstreamTimeouts | UpstreamOptions = {}) {
  const options: UpstreamOptions = 'connectMs' in timeoutsOrOptions ? { timeouts: timeoutsOrOptions } : timeoutsOrOptions;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const maxBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  const base = baseUrl.replace(/\/+$/, '');

  async function send(
    method: 'GET' | 'POST',
    path: string,
    serial: string,
    body: string | undefined,
    signal?: AbortSignal,
    headersMs = timeouts.headersMs,
  ): Promise<UpstreamAnswer> {
    try {
      const sentAt = Date.now();
      const res = await request(`${base}${path}`, {
        method,
        dispatcher,
        headers: { [SERIAL_HEADER]: serial, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body,
        headersTimeout: headersMs,
        bodyTimeout: timeouts.bodyMs,
        ...(signal ? { signal } : {}),
      });
      const offset = clockOffset(res.headers['date'], sentAt, Date.now());
      if (offset !== null) options.onClockOffset?.(offset);
      const declared = Number(res.headers['content-length']);
      if (declared > maxBytes) {
        res.body.destroy();
        throw new AnswerTooLarge();
      }
      const text = await readCapped(res.body, maxBytes);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (a proxy's HTML error page…): kept as text for the message.
      }
      return { kind: 'response', status: res.statusCode, body: parsed, retryAfterMs: parseRetryAfter(res.headers['retry-after'], new Date()) };
    } catch (error) {
      if (error instanceof AnswerTooLarge) {
        return { kind: 'network-error', reason: `Réponse du serveur trop volumineuse (plus de ${Math.round(maxBytes / 1024)} Kio)`, unreadable: true };
      }
      return { kind: 'network-error', reason: describeNetworkError(error) };
    }
  }

  return {
    baseUrl: base,
    /** `body` is the batch already serialised: the relay stores each sale as JSON text. */
    postSync: (serial: string, body: string, signal?: AbortSignal) => send('POST', SYNC_PATH, serial, body, signal),
    get: (pathAndQuery: string, serial: string, headersMs?: number) => send('GET', pathAndQuery, serial, undefined, undefined, headersMs),
  };
}

export type Upstream = ReturnType<typeof createUpstream>;
