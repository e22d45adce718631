import { errorBody, statusOf } from '@ventesync/shared';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { CLOSE_GRACE_MS, closeWith } from './error-handler.js';

/** What the guard enforces on each connection; see HttpLimits for the defaults. */
export interface ConnectionLimits {
  /** Open connections at most. */
  maxConnections: number;
  /** Requests a connection may have in progress at once (pipelined); past it, it is closed. */
  maxPipelinedRequests: number;
  /**
   * Answer bytes a connection may leave unsent (in its socket, and in the answers queued behind
   * the one being sent); past it, with none of it leaving between two checks, it is closed.
   */
  maxUnsentBytes: number;
  /** A request body arriving slower than this, measured over `bodyRateWindowMs`, is cut with 408. */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /** How often the guard looks at every connection. */
  checkIntervalMs: number;
  /**
   * Body bytes being received by all connections together (a Content-Length counts whole from
   * the headers, a chunked body as it arrives): a request that would take the total past it gets
   * 503 OVERLOADED and its connection is closed.
   */
  maxReceivingBodyBytes: number;
  /** Unsent answer bytes of all connections together: past it, the largest holders are closed. */
  maxTotalUnsentBytes: number;
  /** Retry-After of a 503 OVERLOADED. */
  retryAfterSeconds: number;
}

interface Receiving {
  request: IncomingMessage;
  response: ServerResponse;
  /** The current measuring window (its rate also ranks who is slowest now). */
  windowStart: number;
  bytesAtWindowStart: number;
}

interface Connection {
  inFlight: number;
  /** Its answers not yet finished: pipelined ones wait, whole, behind the one being sent. */
  responses: Set<ServerResponse>;
  /** Unsent bytes at the last check, to tell a slow reader from one that stopped. */
  lastUnsent: number;
  /** The request whose body is still arriving, if any. */
  receiving: Receiving | null;
  /** Past the pipelining bound: answers what came before, takes nothing more. */
  closing: boolean;
}

const SLOW_BODY_MESSAGE = 'Requête trop lente : le corps arrive trop lentement ou plus du tout';
const PIPELINE_MESSAGE = 'Trop de requêtes enchaînées sur une connexion : attendez les réponses avant d’en envoyer d’autres';
const BODY_BUDGET_MESSAGE = 'Serveur surchargé (trop de données en cours de réception), réessayez dans quelques secondes';

/** What the guard counts, for tests and monitoring. */
export interface ConnectionGuard {
  open: () => number;
  /** Body bytes held by requests being received, all connections together. */
  receivingBodyBytes: () => number;
}

/**
 * Guards the connections of a listening server, so that no client can hold it:
 * - at most `maxConnections` open. Past the cap a connection makes room: the oldest with no
 *   request in progress (idle keep-alive, or still sending its headers), else the one receiving
 *   its request body the slowest; only when every connection has a whole request being worked
 *   on is the newcomer the one turned away;
 * - a request body slower than `minBodyBytesPerSecond` over a window (a till on a slow mobile
 *   link sends 5 MiB in under a minute, thousands of times that rate) is cut with 408, and so is
 *   one that stops: such clients cannot keep every slot;
 * - a client pipelining more than `maxPipelinedRequests` requests, or leaving more than
 *   `maxUnsentBytes` of answers unread, is closed: its answers would pile up in memory.
 */
const guards = new WeakMap<Server, ConnectionGuard>();

/** The guard of a server, to read its counters. */
export function connectionGuardOf(server: Server): ConnectionGuard | undefined {
  return guards.get(server);
}

export function guardConnections(server: Server, limits: ConnectionLimits): ConnectionGuard {
  // A Map keeps insertion order: the first idle one found is the oldest.
  const open = new Map<Socket, Connection>();
  let receivingBodyBytes = 0;

  // Over the current window, not since the headers: a body sent fast at first, then a trickle,
  // is slow now. At least a second, so a window just begun does not rank on a few bytes.
  const receivingRate = (r: Receiving, socket: Socket, now: number) =>
    (socket.bytesRead - r.bytesAtWindowStart) / Math.max(1000, now - r.windowStart);

  /** Closes a connection whose body would take the total past the budget. */
  function refuseBody(socket: Socket): void {
    const body = JSON.stringify(errorBody('OVERLOADED', BODY_BUDGET_MESSAGE));
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${statusOf('OVERLOADED')} Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: ${limits.retryAfterSeconds}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /**
   * Counts the request's body in the budget until it is read or the request ends, however it
   * ends. False when it does not fit: the caller refuses it.
   */
  function holdBody(request: IncomingMessage, response: ServerResponse): boolean {
    const declared = Number(request.headers['content-length']);
    let held = 0;
    let released = false;
    const take = (bytes: number): boolean => {
      if (released) return true;
      if (receivingBodyBytes + bytes > limits.maxReceivingBodyBytes) return false;
      receivingBodyBytes += bytes;
      held += bytes;
      return true;
    };
    const release = () => {
      if (released) return;
      released = true;
      receivingBodyBytes -= held;
      held = 0;
    };
    if (Number.isSafeInteger(declared) && declared > 0) {
      // Whole from the headers: refused before a byte of it is read.
      if (!take(declared)) return false;
    } else {
      // Chunked: counted as it arrives, the parser's push being where its bytes enter memory.
      const push = request.push.bind(request);
      request.push = (chunk: unknown, encoding?: BufferEncoding) => {
        if (chunk && !released && !take((chunk as Buffer).length)) {
          release();
          refuseBody(request.socket);
          return false;
        }
        return push(chunk, encoding);
      };
    }
    request.once('end', release);
    request.once('close', release);
    response.once('close', release);
    return true;
  }

  /** Ends a connection: with a 408 when its request's body is arriving and no answer has begun. */
  function cut(socket: Socket, connection: Connection | undefined): void {
    const receiving = connection?.receiving;
    if (receiving && !receiving.request.complete && !receiving.response.headersSent) {
      closeWith(socket, { status: statusOf('REQUEST_TIMEOUT'), body: errorBody('REQUEST_TIMEOUT', SLOW_BODY_MESSAGE) });
    } else {
      socket.destroy();
    }
  }

  /** What the connection still has to send: in its socket, and in answers queued behind. */
  function unsentBytes(socket: Socket, connection: Connection): number {
    let total = socket.writableLength;
    // An answer holding the socket is counted in it already.
    for (const response of connection.responses) if (!response.socket) total += response.writableLength;
    return total;
  }

  function makeRoom(): boolean {
    let slowest: [Socket, Connection, number] | null = null;
    const now = Date.now();
    for (const [socket, connection] of open) {
      if (connection.inFlight === 0) {
        socket.destroy();
        return true;
      }
      const r = connection.receiving;
      if (r && !r.request.complete) {
        const rate = receivingRate(r, socket, now);
        if (!slowest || rate < slowest[2]) slowest = [socket, connection, rate];
      }
    }
    if (!slowest) return false;
    cut(slowest[0], slowest[1]);
    return true;
  }

  // Over HTTPS a request's socket is the TLS socket, not the TCP one 'connection' gives: the
  // connection is counted once its handshake is done, under the socket requests will name.
  const connectionEvent = server instanceof TlsServer ? 'secureConnection' : 'connection';
  server.on(connectionEvent, (socket: Socket) => {
    if (open.size >= limits.maxConnections && !makeRoom()) {
      socket.destroy();
      return;
    }
    open.set(socket, { inFlight: 0, responses: new Set(), lastUnsent: 0, receiving: null, closing: false });
    socket.once('close', () => open.delete(socket));
  });

  /** Whether a request may go on to the application; false once its connection is closed. */
  function admit(request: IncomingMessage, response: ServerResponse): boolean {
    const socket = request.socket;
    const connection = open.get(socket);
    if (!connection || socket.destroyed) return false;
    if (connection.closing) return false;
    connection.inFlight++;
    if (connection.inFlight > limits.maxPipelinedRequests) {
      // The requests before it are answered; this one is told why, and the connection ends after
      // its answer (Connection: close). Those behind it never reach the application.
      connection.closing = true;
      const body = JSON.stringify(errorBody('OVERLOADED', PIPELINE_MESSAGE));
      response.writeHead(statusOf('OVERLOADED'), {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'retry-after': String(limits.retryAfterSeconds),
        connection: 'close',
      });
      response.end(body);
      return false;
    }
    if (!request.complete) {
      if (!holdBody(request, response)) {
        refuseBody(socket);
        return false;
      }
      const now = Date.now();
      connection.receiving = {
        request,
        response,
        windowStart: now,
        bytesAtWindowStart: socket.bytesRead,
      };
    }
    connection.responses.add(response);
    response.once('close', () => {
      connection.responses.delete(response);
      connection.inFlight = Math.max(0, connection.inFlight - 1);
      if (connection.receiving?.request === request) connection.receiving = null;
    });
    return true;
  }

  // Node parses every request of a read at once, even after the connection is closed: a
  // thousand pipelined requests in one packet are a thousand 'request' events. Those on a closed
  // connection never reach the application (fastify's listener), which would build a request,
  // a reply and run the hooks of each for nothing.
  const handlers = server.listeners('request') as Array<(request: IncomingMessage, response: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!admit(request, response)) return;
    for (const handler of handlers) handler.call(server, request, response);
  });

  // Node's idle timeout (fastify's connectionTimeout) would close a stalled upload without a
  // word: it gets its 408 like a slow one.
  server.on('timeout', (socket: Socket) => cut(socket, open.get(socket)));

  const minWindowBytes = (limits.minBodyBytesPerSecond * limits.bodyRateWindowMs) / 1000;
  let lastCheck = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    // A late check means the server was too busy to read: its slowness is not the clients'.
    const serverLate = now - lastCheck > 2 * limits.checkIntervalMs;
    lastCheck = now;
    const holders: Array<[Socket, number]> = [];
    let totalUnsent = 0;
    for (const [socket, connection] of open) {
      // A reader on a slow link drains some between two checks; one that stopped reading does not.
      const unsent = unsentBytes(socket, connection);
      // Past the pipelining bound, a client not reading its last answers is not waited for: the
      // requests parsed behind them are held in memory until the connection ends.
      const bound = connection.closing ? 0 : limits.maxUnsentBytes;
      const stuck = unsent > bound && unsent >= connection.lastUnsent;
      connection.lastUnsent = unsent;
      if (stuck && !serverLate) {
        socket.destroy();
        continue;
      }
      if (unsent > 0) {
        holders.push([socket, unsent]);
        totalUnsent += unsent;
      }
      const r = connection.receiving;
      if (!r) continue;
      if (r.request.complete) {
        connection.receiving = null;
        continue;
      }
      // Body bytes the server has not read yet hold the socket paused: not the client's fault.
      if (serverLate || r.request.readableLength >= r.request.readableHighWaterMark) {
        r.windowStart = now;
        r.bytesAtWindowStart = socket.bytesRead;
        continue;
      }
      if (now - r.windowStart < limits.bodyRateWindowMs) continue;
      if (socket.bytesRead - r.bytesAtWindowStart < minWindowBytes) {
        cut(socket, connection);
        continue;
      }
      r.windowStart = now;
      r.bytesAtWindowStart = socket.bytesRead;
    }
    // Each within its own bound, many clients not reading can still hold the memory together:
    // the ones holding the most go first, until the rest fit.
    if (totalUnsent > limits.maxTotalUnsentBytes) {
      holders.sort((a, b) => b[1] - a[1]);
      for (const [socket, unsent] of holders) {
        if (totalUnsent <= limits.maxTotalUnsentBytes) break;
        if (socket.destroyed) continue;
        socket.destroy();
        totalUnsent -= unsent;
      }
    }
  }, limits.checkIntervalMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));

  const guard = { open: () => open.size, receivingBodyBytes: () => receivingBodyBytes };
  guards.set(server, guard);
  return guard;
}
