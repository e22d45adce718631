import { readFileSync } from 'node:fs';

/** Every limit a listening server enforces on its connections, in one block of plain data. */
export interface HttpLimits {
  /** Time for a client to send its request headers (slow-header clients are cut). */
  headersTimeoutMs: number;
  /** Time for a client to send its whole request, body included. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /**
   * A connection with no byte moving either way for this long is closed: also a client that
   * stopped reading its answers, whose unsent bytes would otherwise stay in memory.
   */
  socketIdleTimeoutMs: number;
  /** How often Node looks for connections past their header or request timeout. */
  timeoutCheckIntervalMs: number;
  maxRequestsPerSocket: number;
  /**
   * Requests one connection may have in progress at once. Pipelined requests are all parsed
   * from one read, and each answer waits in memory for the one before it: a client sending
   * 1,000 and reading none would hold 1,000 answers. Past this the connection is closed.
   */
  maxPipelinedRequests: number;
  /**
   * Answer bytes a client may leave unsent (in the socket and in pipelined answers queued
   * behind): past it, when none of it drained since the last check, it is disconnected.
   */
  maxUnsentBytes: number;
  /**
   * Unsent answer bytes of all connections together: past it, those holding the most are closed
   * first. Per connection alone, 2 MiB times the connection cap could still hold gigabytes.
   */
  maxTotalUnsentBytes: number;
  /**
   * Request body bytes being received at once, all connections together (a Content-Length
   * counts whole as soon as the headers are in): a request that would take the total past it
   * gets 503 OVERLOADED and its connection is closed. Else 5 MiB times the connection cap.
   */
  maxReceivingBodyBytes: number;
  /**
   * A request body must arrive at least this fast, measured over `bodyRateWindowMs`, or it is
   * cut with 408 REQUEST_TIMEOUT: a body sent one byte every few seconds, or that stops, cannot
   * hold a connection slot for the whole request timeout.
   */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /** Open connections at most; `null`: derived from the process file limit. */
  maxConnections: number | null;
  /** Longest request line URL; longer is 414 URI_TOO_LONG. */
  maxUrlLength: number;
  /** Request headers, all together; more is 431 HEADERS_TOO_LARGE. */
  maxHeaderBytes: number;
  /**
   * Load shedding: above any of these, requests get 503 OVERLOADED with Retry-After. Not on RSS:
   * the allocator keeps the pages of freed buffers, so RSS stays high long after an attack ended
   * and the server would refuse every till until a restart. Heap used and event-loop delay come
   * back down; bytes outside the heap (bodies, answers) are bounded by the two budgets above.
   */
  pressure: {
    maxEventLoopDelayMs: number;
    maxHeapUsedBytes: number;
    sampleIntervalMs: number;
    retryAfterSeconds: number;
  };
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  // A 5 MiB batch over a slow mobile link (1 Mbit/s) takes about 45 s.
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  socketIdleTimeoutMs: 30_000,
  timeoutCheckIntervalMs: 1_000,
  maxRequestsPerSocket: 1_000,
  maxPipelinedRequests: 16,
  // Above the largest answer written at once (a sync answer stays under 1 MiB).
  maxUnsentBytes: 2 * 1024 * 1024,
  maxTotalUnsentBytes: 256 * 1024 * 1024,
  // About fifty 5 MiB batches at once, thousands of one-sale requests.
  maxReceivingBodyBytes: 256 * 1024 * 1024,
  // A 5 MiB batch over 1 Mbit/s arrives at ~125 kB/s, a hundred times this; 1 kB/s is a
  // 9,600 bit/s modem. The window rides out a mobile link's pauses of a few seconds.
  minBodyBytesPerSecond: 1024,
  bodyRateWindowMs: 15_000,
  maxConnections: null,
  maxUrlLength: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  pressure: Object.freeze({
    maxEventLoopDelayMs: 1_000,
    maxHeapUsedBytes: 1024 * 1024 * 1024,
    sampleIntervalMs: 1_000,
    retryAfterSeconds: 5,
  }),
});

/** Assumed when the limit cannot be read (not Linux): the usual default soft limit. */
export const FALLBACK_FILE_LIMIT = 1024;
/** File descriptors kept for the database, its WAL, logs and outgoing connections. */
export const RESERVED_FILE_DESCRIPTORS = 64;
/** Never fewer than this, even under a tiny file limit. */
const MIN_CONNECTIONS = 16;

/** The process's soft limit on open files, read from /proc on Linux; the fallback elsewhere. */
export function fileDescriptorLimit(limitsFile = '/proc/self/limits'): number {
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
    const n = Number(soft);
    return Number.isSafeInteger(n) && n > 0 ? n : FALLBACK_FILE_LIMIT;
  } catch {
    return FALLBACK_FILE_LIMIT;
  }
}

/** Connections allowed: below the file limit, so accepting one never fails for lack of descriptors. */
export function connectionCap(fileLimit: number): number {
  return Math.max(MIN_CONNECTIONS, fileLimit - RESERVED_FILE_DESCRIPTORS);
}
