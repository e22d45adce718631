import {
  errorBody,
  RELAY_REPORT_PATH,
  RELAY_TERMINALS_PATH,
  RELAY_TERMINALS_VERSION_HEADER,
  RETOURS_PATH,
  SERIAL_HEADER,
  statusOf,
  SYNC_PATH,
} from '@ventesync/shared';
import { Agent, type Dispatcher, request } from 'undici';
import { parseRetryAfter } from './backoff.js';
import type { UpstreamAnswer } from './classify.js';
import type { RequestSigner } from './request-signer.js';

export interface UpstreamTimeouts {
  connectMs: number;
  /** Until the server's answer headers arrive: it includes the server's write of the batch. */
  headersMs: number;
  /** The longest gap between two pieces of the answer. */
  bodyMs: number;
  /**
   * The whole exchange, from sending to the answer's last byte (`--timeout`). The two above only
   * measure gaps: a server dribbling a byte every half second would otherwise hold the send, and
   * the till's queue behind it, for ever.
   */
  deadlineMs: number;
}

/** `--timeout`'s default: the whole answer, not only its first byte. */
export const ANSWER_DEADLINE_MS = 30_000;

/**
 * `--timeout`'s largest value. Below CLAIM_STALE_MS (relay-store.ts): a claim older than that
 * is taken for one left by a relay that died, so no live send may last as long; and far below
 * what Node's timers hold (about 24.8 days: a longer delay fires at once).
 */
export const MAX_ANSWER_DEADLINE_MS = 5 * 60_000;

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000, deadlineMs: ANSWER_DEADLINE_MS };

/**
 * The largest answer the relay reads from the server. A sync answer for 500 sales, a large
 * shop's catalogue or a page of history stay far below; anything bigger is a broken server or
 * proxy, and reading it whole would cost the shop PC its memory.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** Keep-alive: a shop's relay talks to one server, batch after batch. */
export function createAgent(timeouts: Omit<UpstreamTimeouts, 'deadlineMs'> = DEFAULT_TIMEOUTS, ca?: Buffer): Agent {
  return new Agent({
    // `--ca`: an https:// server whose certificate a private authority signed (trusted instead of the system's).
    connect: { timeout: timeouts.connectMs, ...(ca ? { ca } : {}) },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    keepAliveTimeout: 30_000,
  });
}

/**
 * Errors that happen before the request can reach the server: the server surely did not get
 * the batch. After any other failure (reset, timeout, an answer cut short) it may have.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? 'ERREUR';
}

function describeNetworkError(error: unknown): string {
  const e = error as { message?: string };
  return `Serveur injoignable (${errorCode(error)}${e.message ? ` : ${e.message}` : ''})`;
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
 * centres it) against the middle of the exchange. Only a measure: the forwarder keeps it only
 * from sync answers that validate (clock.ts decides whether to believe it).
 */
function clockOffset(dateHeader: string | string[] | undefined, sentAt: number, answeredAt: number): number | null {
  const value = Array.isArray(dateHeader) ? dateHeader[0] : dateHeader;
  const serverTime = value ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(serverTime)) return null;
  return serverTime + 500 - (sentAt + answeredAt) / 2;
}

export interface UpstreamOptions {
  timeouts?: UpstreamTimeouts;
  maxAnswerBytes?: number;
  /** A registered relay signs every request it sends (CONTRACT §6); none: as before. */
  signer?: RequestSigner;
  /** The version of the relay's terminals' list, as every answer to a signed request gives it. */
  onTerminalsVersion?: (version: string) => void;
  logger?: { warn(obj: object, msg: string): void };
}

/** A till whose identical request could not be signed is asked again this soon. */
export const NO_FREE_SIGNATURE_RETRY_AFTER_MS = 1_000;
/** That case is logged at most this often. */
export const NO_FREE_SIGNATURE_LOG_EVERY_MS = 60_000;

/** The server refused the relay's signature for its time or as a replay: safe to sign again and resend once. */
const RESIGN_CODES = new Set(['SIGNATURE_EXPIRED', 'SIGNATURE_REPLAYED']);

class DeadlinePassed extends Error {}

/** The central server as the relay sees it: a base URL reached through an undici dispatcher. */
export function createUpstream(baseUrl: string, dispatcher: Dispatcher, options: UpstreamOptions = {}) {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const maxBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  const base = baseUrl.replace(/\/+$/, '');

  /**
   * One exchange; a signature refused as expired or replayed (nothing done on the server) is
   * signed again, on the server's time, and sent once more.
   */
  async function send(
    method: 'GET' | 'POST',
    path: string,
    serial: string | null,
    body: string | undefined,
    signal: AbortSignal | undefined,
    deadlineMs: number,
  ): Promise<UpstreamAnswer> {
    const answer = await sendOnce(method, path, serial, body, signal, deadlineMs);
    if (!options.signer || answer.kind !== 'response' || answer.status !== 401) return answer;
    const code = (answer.body as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !RESIGN_CODES.has(code)) return answer;
    if (code === 'SIGNATURE_EXPIRED' && typeof answer.clockOffsetMs === 'number') options.signer.adjust(Date.now() + answer.clockOffsetMs);
    return sendOnce(method, path, serial, body, signal, deadlineMs);
  }

  let noFreeSignatureLoggedAt = Number.NEGATIVE_INFINITY;
  /**
   * The signer has no unused t for this identical message (request-signer.ts): nothing is sent,
   * the caller answers 503 and is asked again in a second. Said once a minute at most.
   */
  function noFreeSignature(method: string, pathAndQuery: string): UpstreamAnswer {
    if (Date.now() - noFreeSignatureLoggedAt >= NO_FREE_SIGNATURE_LOG_EVERY_MS) {
      noFreeSignatureLoggedAt = Date.now();
      options.logger?.warn(
        { method, path: pathAndQuery.slice(0, 200) },
        `Requête identique envoyée plus d'une fois par seconde depuis des minutes (${method} ${pathAndQuery.slice(0, 200)}) : les caisses sont priées de réessayer dans une seconde`,
      );
    }
    return {
      kind: 'response',
      status: statusOf('SERVICE_UNAVAILABLE'),
      body: errorBody('SERVICE_UNAVAILABLE', 'Relais occupé : la même demande arrive plus vite que le relais ne peut la signer, réessayez dans une seconde'),
      retryAfterMs: NO_FREE_SIGNATURE_RETRY_AFTER_MS,
    };
  }

  async function sendOnce(
    method: 'GET' | 'POST',
    path: string,
    serial: string | null,
    body: string | undefined,
    signal: AbortSignal | undefined,
    deadlineMs: number,
  ): Promise<UpstreamAnswer> {
    // The whole exchange, body included, ends by the deadline, whatever the server dribbles.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DeadlinePassed()), deadlineMs);
    const signals = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    try {
      // Signed over the path and query exactly as they go on the wire (the server checks its raw URL).
      const url = new URL(`${base}${path}`);
      const signature = options.signer ? options.signer.sign(method, url.pathname + url.search, body) : {};
      if (signature === null) return noFreeSignature(method, url.pathname + url.search);
      const headers: Record<string, string> = {
        ...(serial === null ? {} : { [SERIAL_HEADER]: serial }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...signature,
      };
      const sentAt = Date.now();
      const res = await request(url, {
        method,
        dispatcher,
        headers,
        body,
        headersTimeout: Math.min(timeouts.headersMs, deadlineMs),
        bodyTimeout: Math.min(timeouts.bodyMs, deadlineMs),
        signal: signals,
      });
      const answeredAt = Date.now();
      const version = res.headers[RELAY_TERMINALS_VERSION_HEADER.toLowerCase()];
      if (typeof version === 'string' && options.signer) options.onTerminalsVersion?.(version);
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
      return {
        kind: 'response',
        status: res.statusCode,
        body: parsed,
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], new Date()),
        clockOffsetMs: clockOffset(res.headers['date'], sentAt, answeredAt),
      };
    } catch (error) {
      if (error instanceof AnswerTooLarge) {
        return { kind: 'network-error', reason: `Réponse du serveur trop volumineuse (plus de ${Math.round(maxBytes / 1024)} Kio)`, unreadable: true, maybeReceived: true };
      }
      if (deadline.signal.aborted && !signal?.aborted) {
        return {
          kind: 'network-error',
          reason: `Serveur injoignable (DELAI_DEPASSE : pas de réponse complète en ${Math.round(deadlineMs / 1000)} s)`,
          maybeReceived: true,
        };
      }
      return { kind: 'network-error', reason: describeNetworkError(error), maybeReceived: !NOT_SENT_CODES.has(errorCode(error)) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    baseUrl: base,
    /** `body` is the batch already serialised: the relay stores each sale as JSON text. */
    postSync: (serial: string, body: string, signal?: AbortSignal) => send('POST', SYNC_PATH, serial, body, signal, timeouts.deadlineMs),
    /** Held returns (issue 10), signed like sales; `body` already serialised. */
    postRetours: (serial: string, body: string, signal?: AbortSignal) => send('POST', RETOURS_PATH, serial, body, signal, timeouts.deadlineMs),
    /** `deadlineMs`: a shorter deadline for this read (a till waiting for its answer). */
    get: (pathAndQuery: string, serial: string, deadlineMs?: number) =>
      send('GET', pathAndQuery, serial, undefined, undefined, Math.min(deadlineMs ?? timeouts.deadlineMs, timeouts.deadlineMs)),
    /** CONTRACT §6, registered relays only: the terminals of its boutiques and their secrets. */
    getRelayTerminals: (deadlineMs?: number) =>
      send('GET', RELAY_TERMINALS_PATH, null, undefined, undefined, Math.min(deadlineMs ?? timeouts.deadlineMs, timeouts.deadlineMs)),
    /** Registered relays only: its state for the centre (relay-reporter.ts), `body` already JSON. */
    postRelayReport: (body: string, deadlineMs: number) =>
      send('POST', RELAY_REPORT_PATH, null, body, undefined, Math.min(deadlineMs, timeouts.deadlineMs)),
    signed: options.signer !== undefined,
  };
}

export type Upstream = ReturnType<typeof createUpstream>;
