import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';

/*
 * node:http and node:https are taken with process.getBuiltinModule wherever this code uses them,
 * never imported: an ES import builds the module's ESM facade, which reads every export, and
 * http's lazy fetch-related exports then load undici (55-80 ms measured, a third of a thin ADD).
 * node:https only for an https server: it loads TLS and crypto (about 20 ms of a thin ADD).
 */
const { request: httpRequest } = process.getBuiltinModule('node:http');

/** A non-2xx answer, shaped as client-node's ApiException so errorText and httpCode read it alike. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

/** A write whose answer nobody reads: method, path below the server, JSON body. */
export interface ApiWrite {
  method: 'PATCH' | 'POST';
  path: string;
  body: unknown;
  contentType?: string;
}

/** One API request as plain JSON over a keep-alive agent. */
export interface ApiRequest {
  server: URL;
  agent: HttpAgent | HttpsAgent;
  method: string;
  /** Below the server's path (a kubeconfig server may carry a prefix). */
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  contentType?: string;
  timeoutMs: number;
  /** Parse the answer (a write whose answer nobody reads skips it). */
  parse: boolean;
}

/**
 * Send one request; resolves the parsed JSON body of a 2xx answer (undefined when `parse` is
 * false), rejects with ApiError otherwise. The daemon's writes and the thin plugin's calls go
 * through here instead of @kubernetes/client-node's request machinery, which builds and
 * deserializes typed objects (a whole V1Pod for a status patch) that nobody reads.
 */
export function apiRequest<T>({ server, agent, method, path, headers, body, contentType = 'application/json', timeoutMs, parse }: ApiRequest): Promise<T> {
  const url = new URL(`${server.pathname.replace(/\/$/, '')}${path}`, server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const all: Record<string, string> = { Accept: 'application/json', ...headers };
  if (payload !== undefined) all['Content-Type'] = contentType;
  const send = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : httpRequest;
  return new Promise<T>((resolve, reject) => {
    const req = send(url, { method, headers: all, agent }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status <= 299;
      const chunks: Buffer[] = [];
      // An answer that is only drained costs no buffers (the connection is kept either way).
      if (ok && !parse) res.resume();
      else res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (!ok) return reject(new ApiError(status, Buffer.concat(chunks).toString('utf8')));
        if (!parse) return resolve(undefined as T);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch {
          reject(new Error(`${method} ${path}: the answer is not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
