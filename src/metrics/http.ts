import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { serveProfiling } from './profiling.js';

/**
 * `/metrics` on TCP (upstream: `metricsPort` on all interfaces), plus `/healthz` and `/readyz`
 * for kubelet's probes (upstream has them on the unix socket only, which a probe cannot reach),
 * and with `pprof` (upstream's `enablePprof`) the profiling endpoints of profiling.ts.
 */
export async function startMetricsServer(registry: Registry, port: number, host: string, ready: () => boolean, pprof: boolean): Promise<Server> {
  // node:http not imported: see src/k8s/api-request.ts.
  const server = process.getBuiltinModule('node:http').createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (pprof && serveProfiling(req, res)) return;
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' || ready();
      res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain' }).end(ok ? 'ok\n' : 'shutting down\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  // Slow or idle scrapers must not hold sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host === '' ? undefined : host, () => resolve());
  });
  return server;
}
