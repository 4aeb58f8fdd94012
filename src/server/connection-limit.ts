import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Upstream's `connectionLimit` (v4.3.0, a limited listener): at most `limit` connections on the
 * daemon socket are served at once. Further ones are accepted but left unread, in arrival
 * order, until a served one closes, as upstream's listener leaves them unaccepted; a client that
 * gives up meanwhile just leaves the queue. Requests in flight have their own bound
 * (MULTUS_MAX_INFLIGHT, answered 11 past it); this one bounds sockets, and so the memory that
 * clients can pin.
 */
export function limitConnections(server: Server, limit: number): void {
  // http.Server parses a connection from its own 'connection' listener: run it only on admission.
  const serve = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  let active = 0;
  const waiting = new Set<Socket>();
  const admit = (socket: Socket): void => {
    active++;
    socket.once('close', () => {
      active--;
      const next = waiting.values().next();
      if (next.done !== true) {
        waiting.delete(next.value);
        admit(next.value);
      }
    });
    for (const listener of serve) listener.call(server, socket);
    socket.resume();
  };
  server.on('connection', (socket: Socket) => {
    if (active < limit) {
      admit(socket);
      return;
    }
    socket.pause();
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
  });
}
