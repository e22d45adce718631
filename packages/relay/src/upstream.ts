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

/** The central server as the relay sees it: a base URL reached through an undici dispatcher. */
export function createUpstream(baseUrl: string, dispatcher: Dispatcher, timeouts: UpstreamTimeouts = DEFAULT_TIMEOUTS) {
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
      const res = await request(`${base}${path}`, {
        method,
        dispatcher,
        headers: { [SERIAL_HEADER]: serial, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body,
        headersTimeout: headersMs,
        bodyTimeout: timeouts.bodyMs,
        ...(signal ? { signal } : {}),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (a proxy's HTML error page…): kept as text for the message.
      }
      return { kind: 'response', status: res.statusCode, body: parsed, retryAfterMs: parseRetryAfter(res.headers['retry-after'], new Date()) };
    } catch (error) {
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
