import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { workerEnv } from '../util/compile-cache.js';
import { nodeEndpoint } from './comlink-node.js';
import type { ApiRequestObserver, KubeApi, KubeLog, KubeOptions } from './protocol.js';

/** The main thread's handle on the kube worker. */
export interface KubeHandle {
  api: Comlink.Remote<KubeApi>;
  close(): Promise<void>;
}

/**
 * Start the kube worker and its informers. The comlink proxy is created once and kept for the
 * daemon's life: a proxy collected mid-call would hang that call (comlink #692).
 */
export async function startKubeWorker(opts: KubeOptions, log: (line: KubeLog) => void, observe: ApiRequestObserver, filename?: URL): Promise<KubeHandle> {
  // A small young generation: each thread's isolate otherwise reserves tens of MiB that this
  // thread, mostly idle between watch events, never needs (measured: 160 -> 146 MiB daemon RSS).
  // The bundled worker (src/bundle.sh): client-node as one module instead of ~900 takes
  // 20 MiB less memory (idle daemon RSS 135 -> 115 MiB, measured).
  // The bundle through the daemon's compile cache (start to ready 472 -> 421 ms, idle RSS -2.5
  // MiB, measured with `--scope startup`). DEP0169: client-node 1.x (node-fetch 2) calls
  // url.parse() for every request, and Node >= 24 says so on stderr; nothing an operator can act on.
  const worker = new Worker(filename ?? new URL('../kube-bundle/kube.worker.mjs', import.meta.url), {
    // The OS thread's name (Node >= 24): `top -H`, /proc/<pid>/task/*/comm and the bench's CPU
    // per thread tell it from the pool's threads (`WorkerThread`).
    name: 'multus-kube',
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    env: workerEnv(),
    execArgv: [...process.execArgv, '--disable-warning=DEP0169'],
  });
  const api = Comlink.wrap<KubeApi>(nodeEndpoint(worker));
  worker.on('error', (err) => log({ level: 'error', msg: 'kube worker failed', fields: { err: err instanceof Error ? err.message : String(err) } }));
  try {
    await api.start(opts, Comlink.proxy(log), Comlink.proxy(observe));
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return {
    api,
    async close() {
      await api.stop().catch(() => undefined);
      api[Comlink.releaseProxy]();
      await worker.terminate();
    },
  };
}
