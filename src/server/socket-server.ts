import { chmod, mkdir, stat, unlink } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollUntil } from '../util/poll.js';
import { limitConnections } from './connection-limit.js';

/** Connections the kernel queues for accept() on the socket. */
const LISTEN_BACKLOG = 4096;

/** On stop, how long the loop runs free after the socket file is gone, to accept what the backlog still holds. */
const BACKLOG_SETTLE_MS = 20;

/** On stop, how long a connection already taken may take to send its request and read the answer. */
const ANSWER_LINGER_MS = 2_000;

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
  /** POST /cni; `clientGone` aborts when the client disconnects before its answer. */
  cni: (body: Buffer, clientGone: AbortSignal) => Promise<Reply>;
  /** POST /delegate (hot-plug API). */
  delegate: (body: Buffer, clientGone: AbortSignal) => Promise<Reply>;
  /** GET /explain (query: the pod) or POST /explain (body: a pod); read only. */
  explain: (query: URLSearchParams, body: Buffer | undefined) => Promise<Reply>;
  /** False while shutting down: /readyz answers 500 and /cni, /delegate 503. */
  ready: () => boolean;
  /** Why the daemon serves requests but is not ready (its kube worker restarting): /readyz answers 500 with it. */
  degraded?: () => string | undefined;
  /** Called as each request arrives, before its body is read (the main loop's delay is sampled while requests come). */
  onRequest?: () => void;
  /** Called once per answered request, for metrics. */
  onAnswer?: (info: { handler: string; method: string; status: number }) => void;
  /** `connectionLimit`: connections served at once (see connection-limit.ts); undefined for no bound. */
  connectionLimit?: number | undefined;
}

/** The daemon socket's server. */
export interface SocketServer {
  /**
   * Takes no more connections and answers every one it has (call it once `ready` says false,
   * so each is answered 503 or 500 and the shim sends its request to the next daemon): the socket
   * file goes first, so a shim connecting now finds none and waits for the next daemon; then the
   * backlog is accepted and the connections taken may finish, up to ANSWER_LINGER_MS; only then
   * the listener closes. Closing it at once would reset the connections still in the backlog and
   * close those whose request had not arrived yet: their shims would fail the pod with "connection
   * closed without an answer" (a rolling update of the DaemonSet while pods start).
   */
  stop(): Promise<void>;
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

/** The socket directory: only root may enter it, whatever it was before. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * HTTP/1.1 on `<socketDir>/multus.sock` with upstream's endpoints: POST /cni and /delegate (503
 * while shutting down), GET|POST /healthz and /readyz (500 while shutting down or degraded: the
 * requests are still served then, and fail fast where they need the API); ours: GET|POST
 * /explain (read only); 405 for a wrong method, 404 otherwise. The directory is
 * made 0700 and the socket 0600: only root on the node may talk to the daemon.
 */
export async function startSocketServer(opts: SocketServerOptions): Promise<SocketServer> {
  await makePrivateDir(opts.socketDir);
  const socketPath = join(opts.socketDir, SOCKET_NAME);
  // A socket left by a previous daemon makes listen() fail with EADDRINUSE.
  await unlink(socketPath).catch(() => undefined);

  async function route(req: IncomingMessage, handler: string, clientGone: AbortSignal): Promise<Reply> {
    switch (handler) {
      case '/healthz':
        return { status: 200, body: '' };
      case '/readyz': {
        if (!opts.ready()) return { status: 500, body: 'shutting down\n' };
        const degraded = opts.degraded?.();
        return degraded === undefined ? { status: 200, body: '' } : { status: 500, body: `${degraded}\n` };
      }
      case '/explain': {
        const query = new URL(req.url ?? '/', 'http://multus').searchParams;
        if (req.method === 'GET') return opts.explain(query, undefined);
        const body = await readBody(req, opts.maxBodyBytes);
        if (body === undefined) return { status: 413, body: `request body larger than ${opts.maxBodyBytes} bytes\n` };
        return opts.explain(query, body);
      }
      case '/cni':
      case '/delegate': {
        const body = await readBody(req, opts.maxBodyBytes);
        // Shutting down: not taken (503), so the shim waits for the next daemon and sends the
        // same request there. Read first all the same: the shim is not cut off mid-write.
        if (!opts.ready()) return { status: 503, body: 'shutting down\n' };
        if (body === undefined) return { status: 413, body: `request body larger than ${opts.maxBodyBytes} bytes\n` };
        return handler === '/cni' ? opts.cni(body, clientGone) : opts.delegate(body, clientGone);
      }
      default:
        return { status: 404, body: '' };
    }
  }

  // node:http not imported: see src/k8s/api-request.ts (the daemon starts about 60 ms sooner).
  const server = process.getBuiltinModule('node:http').createServer((req: IncomingMessage, res: ServerResponse) => {
    opts.onRequest?.();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const known = ['/cni', '/delegate', '/explain', '/healthz', '/readyz'].includes(path);
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
    // A client that has given up (the shim's timeout, a killed shim) closes the connection
    // before its answer: the operation then stops at its next step (supervisor.ts).
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    route(req, path, gone.signal).then(answer, (err: unknown) => answer({ status: 500, body: `${String(err)}\n` }));
  });
  server.keepAliveTimeout = 0;
  if (opts.connectionLimit !== undefined) limitConnections(server, opts.connectionLimit);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A burst of pods (a node coming back, a big Deployment) connects all at once; beyond the
    // backlog Linux answers EAGAIN and the shims back off. Node's default is 511; the kernel caps
    // it at net.core.somaxconn (4096 since Linux 5.4).
    server.listen({ path: socketPath, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  const { ino } = await stat(socketPath);
  return {
    async stop() {
      // Not a socket another daemon has bound at the same path meanwhile.
      if ((await stat(socketPath).catch(() => undefined))?.ino === ino) await unlink(socketPath).catch(() => undefined);
      await sleep(BACKLOG_SETTLE_MS);
      // Past the linger, the listener's close ends those still open.
      await pollUntil(async () => (await openConnections(server)) === 0, { timeoutMs: ANSWER_LINGER_MS, everyMs: 10, timedOut: () => new Error('connections still open') }).catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, count) => (err === null ? resolve(count) : reject(err))));
}
