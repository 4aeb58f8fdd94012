import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker, type WorkerOptions } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';
import { workerEnv } from '../util/compile-cache.js';
import { nodeEndpoint } from './comlink-node.js';
import type { Answered, ApiObservations, DraLookup, KubeApi, KubeEvent, KubeLog, KubeOptions, KubeStats, KubeWorkerApi, NadLookup, NadNamespaces, PodEvent, PodInfo, PodLookup, StatusPatchOutcome } from './protocol.js';

/** What the actors and the metrics use of the kube worker, whichever worker is current. */
export type KubeFacade = Pick<KubeApi, 'getPod' | 'getNad' | 'nadNamespaces' | 'draDevices' | 'patchNetworkStatus' | 'recordEvent' | 'publishNetworkStatus' | 'stats'>;

/** The main thread's handle on the supervised kube worker. */
export interface KubeHandle {
  api: KubeFacade;
  /** False while the worker is down and being restarted (/readyz answers 500 meanwhile). */
  up(): boolean;
  close(): Promise<void>;
}

/** What the supervisor reports besides log lines. */
export interface KubeSupervision {
  /** The worker died (it will be restarted): for the restarts counter. */
  onRestart(reason: string): void;
}

/** Restarts after repeated deaths: 0.5 s doubling up to 30 s, up to a fifth less at random. */
const RESTART: BackoffOptions = { startMs: 500, maxMs: 30_000, jitter: 0.2 };

/** One running worker: its comlink proxy, and a signal aborted (with the reason) when it dies. */
interface Incarnation {
  worker: Worker;
  api: Comlink.Remote<KubeWorkerApi>;
  died: Promise<string>;
  /** For calls: a listener each, removed when the call ends (a handler on `died` per call would pile up for the worker's life). */
  death: AbortSignal;
}

/** The stats while no kube worker answers (not started yet, or restarting). */
export function kubeDownStats(): KubeStats {
  return { connected: false, restarts: 0, podsCached: 0, nadsCached: 0, apiRequests: 0, eventLoopLagP99Seconds: 0, certificateExpirySeconds: undefined };
}

/**
 * The kube worker, with the daemon's Node flags (a `--cpu-prof`, say) and DEP0169 silenced. Node
 * refuses process-wide flags in a worker's explicit execArgv (`--max-old-space-size`,
 * `--stack-trace-limit`, `--expose-gc`...: ERR_WORKER_INVALID_EXEC_ARGV, and the daemon would not
 * start); with one of those on the daemon's command line the worker inherits the flags as they
 * are instead, and DEP0169 may be printed once.
 */
function newKubeWorker(url: URL, options: WorkerOptions): Worker {
  try {
    return new Worker(url, { ...options, execArgv: [...process.execArgv, '--disable-warning=DEP0169'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    return new Worker(url, options);
  }
}

/** newKubeWorker with the kube worker's first old-generation limit for its isolate alone. */
function newKubeWorkerWithHeapLimit(url: URL, options: WorkerOptions): Worker {
  const restoreOldSpace = withInitialOldSpace(KUBE_INITIAL_OLD_SPACE_MB);
  try {
    // V8 reads the flag when the thread builds its isolate, which is before 'online'.
    return newKubeWorker(url, options).once('online', restoreOldSpace).once('exit', restoreOldSpace);
  } catch (err) {
    restoreOldSpace();
    throw err;
  }
}

/**
 * The kube worker's first old-generation limit, MiB. Its heap is client-node's bundle, about
 * 15 MiB live from start-up on (18-20 MiB committed); at V8's default first limit its first major
 * GC came 10-20 s after the start, over the first pods, and its concurrent marking cost V8's
 * threads about 20 ms then (`--scope first-pods`, four alternating pairs: V8's threads over rounds
 * 6-30 2.5 -> 1.65 ms per pod, the first 30 pods ÷ warm 1.33 -> 1.26; idle RSS unchanged). V8
 * sets every later limit from the live size at each major GC, so only the first one moves.
 */
const KUBE_INITIAL_OLD_SPACE_MB = 32;

/**
 * Give the isolates created from now on a first old-generation limit of `mb` (NODE_OPTIONS and a
 * worker's execArgv refuse the flag; V8 takes it at run time for isolates built later); the
 * returned function, idempotent, puts V8's default back for the threads after (the pool's). An
 * --initial-old-space-size or --initial-heap-size on the daemon's command line wins: nothing is
 * changed then.
 */
function withInitialOldSpace(mb: number): () => void {
  if (process.execArgv.some((arg) => /^--initial[-_](old[-_]space|heap)[-_]size\b/.test(arg))) return () => {};
  setFlagsFromString(`--initial-old-space-size=${mb}`);
  let restored = false;
  return () => {
    if (!restored) setFlagsFromString('--initial-old-space-size=0');
    restored = true;
  };
}

/**
 * Start one worker and its informers. The comlink proxy is created once per worker and kept for
 * its life: a proxy collected mid-call would hang that call (comlink #692).
 */
async function startIncarnation(opts: KubeOptions, log: (line: KubeLog) => void, observed: (batch: ApiObservations) => void, filename?: URL): Promise<Incarnation> {
  // A small young generation: each thread's isolate otherwise reserves tens of MiB that this
  // thread, mostly idle between watch events, never needs (measured: 160 -> 146 MiB daemon RSS).
  // The bundled worker (src/bundle.mjs): client-node as one module instead of ~900 takes
  // 20 MiB less memory (idle daemon RSS 135 -> 115 MiB, measured).
  // The bundle through the daemon's compile cache (start to ready 472 -> 421 ms, idle RSS -2.5
  // MiB, measured with `--scope startup`). DEP0169: client-node 1.x (node-fetch 2) calls
  // url.parse() for every request, and Node >= 24 says so on stderr; nothing an operator can act on.
  const worker = newKubeWorkerWithHeapLimit(filename ?? new URL('../kube-bundle/kube.worker.mjs', import.meta.url), {
    // The OS thread's name (Node >= 24): `top -H`, /proc/<pid>/task/*/comm and the bench's CPU
    // per thread tell it from the pool's threads (`WorkerThread`).
    name: 'multus-kube',
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    env: workerEnv(),
  });
  // An uncaught error in the thread is followed by its exit: the exit is what counts.
  let lastError = '';
  worker.on('error', (err) => (lastError = err instanceof Error ? err.message : String(err)));
  // Log lines and observation batches come one way, on a port of their own (protocol.ts KubeEvent).
  const events = new MessageChannel();
  events.port1.on('message', (event: KubeEvent) => ('log' in event ? log(event.log) : observed(event.observed)));
  events.port1.unref();
  const death = new AbortController();
  const died = new Promise<string>((resolve) =>
    worker.once('exit', (code) => {
      const why = lastError !== '' ? lastError : `exit code ${code}`;
      events.port1.close();
      death.abort(why);
      resolve(why);
    }),
  );
  const api = Comlink.wrap<KubeWorkerApi>(nodeEndpoint(worker));
  try {
    const started = api.start(opts, Comlink.transfer(events.port2, [events.port2]));
    await Promise.race([started, died.then((why) => Promise.reject(new Error(`the kube worker died while starting: ${why}`)))]);
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return { worker, api, died, death: death.signal };
}

/**
 * Start the kube worker and supervise it. Calls go to the current worker; when it dies (an
 * uncaught error, its isolate out of memory, an exit) the calls in flight end at once with
 * their failure answer (a lookup `error`, a failed status patch: the callers turn those into
 * CNI error 11 or a later retry) instead of waiting forever on a proxy nobody answers, calls
 * meanwhile wait (bounded) for the next worker, and a new worker is started (at once, then with capped backoff if it
 * keeps dying); it serves before its informers have listed everything again (live GETs
 * meanwhile). The first start's failure is the caller's (the daemon does not start).
 */
export async function startKubeWorker(opts: KubeOptions, log: (line: KubeLog) => void, observed: (batch: ApiObservations) => void, supervision: KubeSupervision, filename?: URL): Promise<KubeHandle> {
  let current: Incarnation | undefined = await startIncarnation(opts, log, observed, filename);
  let closing = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Calls that arrived while no worker ran, waiting (bounded) for the next one. */
  const waiting = new Set<() => void>();
  const wakeWaiting = (): void => {
    for (const wake of waiting) wake();
    waiting.clear();
  };

  const restart = (): void => {
    // At once the first time (pods fail meanwhile); a worker that keeps dying, with backoff.
    const delayMs = attempt === 0 ? 0 : backoffDelay(attempt - 1, RESTART);
    attempt++;
    timer = setTimeout(() => {
      timer = undefined;
      // Serving again before the informers have listed: lookups meanwhile are live GETs.
      startIncarnation({ ...opts, syncTimeoutMs: 0 }, log, observed, filename).then(
        (next) => {
          if (closing) return void next.worker.terminate();
          current = next;
          attempt = 0;
          wakeWaiting();
          log({ level: 'info', msg: 'kube worker restarted', fields: {} });
          watch(next);
        },
        (err: unknown) => {
          log({ level: 'error', msg: 'kube worker restart failed; trying again', fields: { err: (err as Error).message } });
          if (!closing) restart();
        },
      );
    }, delayMs);
  };
  const watch = (incarnation: Incarnation): void => {
    void incarnation.died.then((why) => {
      if (closing || current !== incarnation) return;
      current = undefined;
      log({ level: 'error', msg: 'kube worker died; restarting it', fields: { reason: why } });
      supervision.onRestart(why);
      restart();
    });
  };
  watch(current);

  /** The running worker; while none runs, the next one, waited for up to one API timeout. */
  function worker(): Promise<Incarnation | undefined> {
    if (current !== undefined || closing) return Promise.resolve(current);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timeout);
        resolve(current);
      };
      const timeout = setTimeout(() => {
        waiting.delete(wake);
        resolve(undefined);
      }, opts.requestTimeoutMs);
      waiting.add(wake);
    });
  }

  /**
   * A call on the current worker. One in flight when the worker dies ends at once with
   * `down(why)`; one that arrives while it restarts waits for the new worker (a restart takes
   * well under a second), and gets `down` only if none is there within an API timeout. The
   * observations its answer carries go to `observed` before the caller sees the value (so a
   * scrape's stats() counts every request that ended before it).
   */
  async function call<T>(run: (api: Comlink.Remote<KubeWorkerApi>) => Promise<Answered<T>>, down: (why: string) => T): Promise<T> {
    const incarnation = await worker();
    if (incarnation === undefined) return down('the kube worker is restarting');
    const { death } = incarnation;
    if (death.aborted) return down(`the kube worker died (${String(death.reason)})`);
    return new Promise<T>((resolve, reject) => {
      const onDeath = (): void => resolve(down(`the kube worker died (${String(death.reason)}) during the call`));
      death.addEventListener('abort', onDeath, { once: true });
      run(incarnation.api)
        .then((answer) => {
          if (answer.observations.length > 0) observed(answer.observations);
          resolve(answer.value);
        }, reject)
        .finally(() => death.removeEventListener('abort', onDeath));
    });
  }
  const api: KubeFacade = {
    getPod: (namespace, name, uid) => call<PodLookup>((a) => a.getPod(namespace, name, uid), (why) => ({ kind: 'error', message: `cannot read pod ${namespace}/${name}: ${why}` })),
    getNad: (namespace, name) => call<NadLookup>((a) => a.getNad(namespace, name), (why) => ({ kind: 'error', message: `cannot read network-attachment-definition ${namespace}/${name}: ${why}` })),
    nadNamespaces: (name) => call<NadNamespaces>((a) => a.nadNamespaces(name), (why) => ({ kind: 'error', message: `cannot list network-attachment-definitions: ${why}` })),
    draDevices: (pod: PodInfo) => call<DraLookup>((a) => a.draDevices(pod), (why) => ({ kind: 'error', message: `cannot read the DRA devices of pod ${pod.namespace}/${pod.name}: ${why}` })),
    patchNetworkStatus: (pod, value) => call<StatusPatchOutcome>((a) => a.patchNetworkStatus(pod, value), (why) => ({ ok: false, gone: false, message: why })),
    recordEvent: (event: PodEvent) =>
      call<void>(
        (a) => a.recordEvent(event),
        (why) => log({ level: 'warn', msg: 'cannot record event', fields: { reason: event.reason, pod: `${event.pod.namespace}/${event.pod.name}`, err: why } }),
      ),
    publishNetworkStatus: (pod, value, event) =>
      call<StatusPatchOutcome>(
        (a) => a.publishNetworkStatus(pod, value, event),
        (why) => {
          log({ level: 'warn', msg: 'cannot record event', fields: { reason: event.reason, pod: `${event.pod.namespace}/${event.pod.name}`, err: why } });
          return { ok: false, gone: false, message: why };
        },
      ),
    stats: () =>
      call<KubeStats>(
        (a) => a.stats(),
        kubeDownStats,
      ),
  };
  return {
    api,
    up: () => current !== undefined,
    async close() {
      closing = true;
      if (timer !== undefined) clearTimeout(timer);
      wakeWaiting();
      const incarnation = current;
      current = undefined;
      if (incarnation === undefined) return;
      await incarnation.api.stop().catch(() => undefined);
      incarnation.api[Comlink.releaseProxy]();
      await incarnation.worker.terminate();
    },
  };
}
