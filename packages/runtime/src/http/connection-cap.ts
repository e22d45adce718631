import { errorBody, statusOf } from '@ventesync/shared';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { closeWith } from './error-handler.js';

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
}

interface Receiving {
  request: IncomingMessage;
  response: ServerResponse;
  /** When the request's headers were in, and how many bytes the socket had read by then. */
  since: number;
  bytesAtStart: number;
  /** The current measuring window. */
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
}

const SLOW_BODY_MESSAGE = 'Requête trop lente : le corps arrive trop lentement ou plus du tout';

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
export function guardConnections(server: Server, limits: ConnectionLimits): { open: () => number } {
  // A Map keeps insertion order: the first idle one found is the oldest.
  const open = new Map<Socket, Connection>();

  const receivingRate = (r: Receiving, socket: Socket, now: number) =>
    (socket.bytesRead - r.bytesAtStart) / Math.max(1, now - r.since);

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
    open.set(socket, { inFlight: 0, responses: new Set(), lastUnsent: 0, receiving: null });
    socket.once('close', () => open.delete(socket));
  });

  /** Whether a request may go on to the application; false once its connection is closed. */
  function admit(request: IncomingMessage, response: ServerResponse): boolean {
    const socket = request.socket;
    const connection = open.get(socket);
    if (!connection || socket.destroyed) return false;
    connection.inFlight++;
    if (connection.inFlight > limits.maxPipelinedRequests) {
      socket.destroy();
      return false;
    }
    if (!request.complete) {
      const now = Date.now();
      connection.receiving = {
        request,
        response,
        since: now,
        bytesAtStart: socket.bytesRead,
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
    for (const [socket, connection] of open) {
      // A reader on a slow link drains some between two checks; one that stopped reading does not.
      const unsent = unsentBytes(socket, connection);
      const stuck = unsent > limits.maxUnsentBytes && unsent >= connection.lastUnsent;
      connection.lastUnsent = unsent;
      if (stuck && !serverLate) {
        socket.destroy();
        continue;
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
  }, limits.checkIntervalMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));

  return { open: () => open.size };
}
