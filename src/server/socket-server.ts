import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { limitConnections } from './connection-limit.js';

/** Upstream's socket file name inside socketDir. */
export const SOCKET_NAME = 'multus.sock';

/** What an endpoint answers. */
export interface Reply {
  status: number;
  body: string;
}

export interface SocketServerOptions {
  socketDir: string;
  /** Bodies larger than this are refused with 413 before they are buffered whole. */
  maxBodyBytes: number;
  /** POST /cni. */
  cni: (body: Buffer) => Promise<Reply>;
  /** POST /delegate (hot-plug API). */
  delegate: (body: Buffer) => Promise<Reply>;
  /** Readiness for /readyz (false while shutting down). */
  ready: () => boolean;
  /** Called once per answered request, for metrics. */
  onAnswer?: (info: { handler: string; method: string; status: number }) => void;
  /** `connectionLimit`: connections served at once (see connection-limit.ts); undefined for no bound. */
  connectionLimit?: number | undefined;
}

/**
 * The body, or undefined as soon as it exceeds `limit`. The rest is then read and dropped, not
 * buffered: destroying the request here would close the socket before the 413 is written, and
 * the response's `Connection: close` ends the connection once the 413 is out.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else resolve(undefined);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * HTTP/1.1 on `<socketDir>/multus.sock` with upstream's endpoints: POST /cni and /delegate, GET|POST /healthz
 * and /readyz (500 while shutting down), 405 for a wrong method, 404 otherwise. The directory is
 * made 0700 and the socket 0600: only root on the node may talk to the daemon.
 */
export async function startSocketServer(opts: SocketServerOptions): Promise<Server> {
  await mkdir(opts.socketDir, { recursive: true, mode: 0o700 });
  await chmod(opts.socketDir, 0o700);
  const socketPath = join(opts.socketDir, SOCKET_NAME);
  // A socket left by a previous daemon makes listen() fail with EADDRINUSE.
  await unlink(socketPath).catch(() => undefined);

  async function route(req: IncomingMessage, handler: string): Promise<Reply> {
    switch (handler) {
      case '/healthz':
        return { status: 200, body: '' };
      case '/readyz':
        return opts.ready() ? { status: 200, body: '' } : { status: 500, body: 'shutting down\n' };
      case '/cni':
      case '/delegate': {
        const body = await readBody(req, opts.maxBodyBytes);
        if (body === undefined) return { status: 413, body: `request body larger than ${opts.maxBodyBytes} bytes\n` };
        return handler === '/cni' ? opts.cni(body) : opts.delegate(body);
      }
      default:
        return { status: 404, body: '' };
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const known = ['/cni', '/delegate', '/healthz', '/readyz'].includes(path);
    const handler = known ? path : 'NotFound';
    const allowed = path === '/cni' || path === '/delegate' ? req.method === 'POST' : req.method === 'GET' || req.method === 'POST';
    const answer = (reply: Reply): void => {
      opts.onAnswer?.({ handler, method: req.method ?? '', status: reply.status });
      if (res.headersSent) return;
      res.writeHead(reply.status, { 'Content-Type': reply.body.startsWith('{') ? 'application/json' : 'text/plain; charset=utf-8', Connection: 'close' });
      res.end(reply.body);
    };
    if (known && !allowed) {
      answer({ status: 405, body: `method ${req.method ?? ''} not allowed on ${path}\n` });
      return;
    }
    route(req, path).then(answer, (err: unknown) => answer({ status: 500, body: `${String(err)}\n` }));
  });
  server.keepAliveTimeout = 0;
  if (opts.connectionLimit !== undefined) limitConnections(server, opts.connectionLimit);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return server;
}
