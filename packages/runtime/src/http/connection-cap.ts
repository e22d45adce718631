import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Keeps at most `max` connections open. Past the cap the oldest connection with no request in
 * progress is closed to make room (idle keep-alive, or one still sending its headers): a
 * thousand idle sockets cannot keep `/health` or a till out. When every connection is busy,
 * the newcomer is the one turned away.
 */
export function capConnections(server: Server, max: number): { open: () => number } {
  // A Set keeps insertion order: the first idle one found is the oldest.
  const open = new Set<Socket>();
  const inFlight = new Map<Socket, number>();

  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      inFlight.delete(socket);
    });
    if (open.size <= max) return;
    for (const candidate of open) {
      if (!inFlight.get(candidate)) {
        candidate.destroy();
        return;
      }
    }
  });

  server.on('request', (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const n = (inFlight.get(socket) ?? 1) - 1;
      if (n > 0) inFlight.set(socket, n);
      else inFlight.delete(socket);
    });
  });

  return { open: () => open.size };
}
