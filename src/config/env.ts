import { availableParallelism } from 'node:os';

/**
 * Tunables from the environment, validated once at start. A bad value stops the daemon with an
 * error naming the variable (the piscina idea: fail loudly at the edge, not later at run time).
 */
export interface Tunables {
  /** MULTUS_WORKER_THREADS: delegate pool threads. Default min(2, cores). */
  workerThreads: number;
  /**
   * MULTUS_POOL_MIN_THREADS: delegate pool threads kept when idle (at most workerThreads).
   * Default 1: a thread that starts with the first plugin run instead costs about 100 ms of CPU
   * (its isolate, its modules, their first compiles; the main thread's share included) and 70 ms
   * of that pod's ADD, again after every minute without work: on a node whose pods come minutes
   * apart, every pod. Each kept thread is about 10 MiB of idle RSS (108 -> 119 MiB, measured).
   */
  poolMinThreads: number;
  /** MULTUS_TASKS_PER_WORKER: plugin runs one thread drives at once. Default 16. */
  tasksPerWorker: number;
  /** MULTUS_POOL_MAX_QUEUE: plugin runs waiting for a slot before CNI error 11. Default 1024. */
  poolMaxQueue: number;
  /**
   * MULTUS_SPAWNER: 1 (default) starts plugins through multus-spawner, a small process whose
   * forks cost a fraction of the daemon's (src/shim/spawner.c); 0 spawns them from the pool's
   * threads, as before it existed.
   */
  spawner: boolean;
  /**
   * MULTUS_OPTIMIZING_JIT: 0 (default) runs the daemon without V8's optimizing compilers, 1 with
   * them. Read by main.ts before anything else (the flags must be set before code runs), a bad
   * value as 0 there; here it stops the daemon like any other.
   */
  optimizingJit: boolean;
  /** MULTUS_DELEGATE_TIMEOUT_MS: one plugin run is killed after this. Default 60000. */
  delegateTimeoutMs: number;
  /** MULTUS_MAX_INFLIGHT: CNI requests accepted and not yet answered (running or queued in mailboxes). Default 1024. */
  maxInflight: number;
  /** MULTUS_MAX_FOLLOWUPS: network-status writes after the answer (queued, running or waiting to retry); past it one is skipped. Default 1024. */
  maxFollowUps: number;
  /** MULTUS_REQUEST_DEADLINE_MS: a request's deadline from its arrival, below the shim's 120 s; past it the operation stops at its next step and rolls back. Default 110000. */
  requestDeadlineMs: number;
  /** MULTUS_SHUTDOWN_GRACE_MS: how long SIGTERM waits for in-flight requests. Default 10000. */
  shutdownGraceMs: number;
  /** MULTUS_API_TIMEOUT_MS: one live Kubernetes API request (upstream's 50 ms pod GET is a known bug). Default 10000. */
  apiTimeoutMs: number;
  /** MULTUS_INFORMER_WATCHDOG_MS: restart a watch silent this long. Default 300000. */
  informerWatchdogMs: number;
  /** MULTUS_INFORMER_SYNC_TIMEOUT_MS: how long start-up waits for the informers' first list. Default 20000. */
  informerSyncTimeoutMs: number;
  /** MULTUS_READINESS_TIMEOUT_MS: how long ADD/STATUS/GC wait for `readinessindicatorfile`. Default 45000 (upstream). */
  readinessTimeoutMs: number;
  /** MULTUS_MASTER_CNI_WAIT_MS: how long start-up waits for a master CNI config in multusAutoconfigDir. Default 120000 (upstream). */
  masterWaitMs: number;
  /** MULTUS_CERT_WAIT_MS: how long a per-node certificate request waits to be approved and issued. Default 120000 (upstream). */
  certWaitMs: number;
  /** MULTUS_METRICS_BIND_ADDRESS: address of the metrics server. Default all interfaces (upstream). */
  metricsBindAddress: string;
  /** MULTUS_NODE_NAME: this node; the pod informer watches only its pods. */
  nodeName: string;
  /** MULTUS_POD_RESOURCES_SOCKET: kubelet's pod-resources gRPC socket (device IDs). Default /var/lib/kubelet/pod-resources/kubelet.sock. */
  podResourcesSocket: string;
  /** MULTUS_DEVICE_CHECKPOINT_FILE: kubelet's device-plugin checkpoint, read when the socket is absent. Default /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint. */
  deviceCheckpointFile: string;
  /** MULTUS_DEVICE_INFO_DIR: the device-info directory (`dp/` and `cni/` below it). Default /var/run/k8s.cni.cncf.io/devinfo. */
  deviceInfoDir: string;
}

/** An absolute path; the default when unset. */
function absolutePath(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!text.startsWith('/')) throw new TypeError(`${name} must be an absolute path, got ${JSON.stringify(text)}`);
  return text;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text)) throw new TypeError(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** MULTUS_OPTIMIZING_JIT (see Tunables.optimizingJit); main.ts reads it before anything else loads. */
export function optimizingJit(env: NodeJS.ProcessEnv): boolean {
  return integer(env, 'MULTUS_OPTIMIZING_JIT', 0, 0, 1) === 1;
}

/** Read and validate every tunable. */
export function parseTunables(env: NodeJS.ProcessEnv = process.env): Readonly<Tunables> {
  const workerThreads = integer(env, 'MULTUS_WORKER_THREADS', Math.min(2, availableParallelism()), 1, 64);
  return Object.freeze({
    workerThreads,
    poolMinThreads: integer(env, 'MULTUS_POOL_MIN_THREADS', 1, 0, workerThreads),
    tasksPerWorker: integer(env, 'MULTUS_TASKS_PER_WORKER', 16, 1, 1024),
    poolMaxQueue: integer(env, 'MULTUS_POOL_MAX_QUEUE', 1024, 0, 1_000_000),
    spawner: integer(env, 'MULTUS_SPAWNER', 1, 0, 1) === 1,
    optimizingJit: optimizingJit(env),
    delegateTimeoutMs: integer(env, 'MULTUS_DELEGATE_TIMEOUT_MS', 60_000, 100, 3_600_000),
    maxInflight: integer(env, 'MULTUS_MAX_INFLIGHT', 1024, 1, 1_000_000),
    maxFollowUps: integer(env, 'MULTUS_MAX_FOLLOWUPS', 1024, 1, 1_000_000),
    requestDeadlineMs: integer(env, 'MULTUS_REQUEST_DEADLINE_MS', 110_000, 1000, 3_600_000),
    shutdownGraceMs: integer(env, 'MULTUS_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    apiTimeoutMs: integer(env, 'MULTUS_API_TIMEOUT_MS', 10_000, 100, 600_000),
    informerWatchdogMs: integer(env, 'MULTUS_INFORMER_WATCHDOG_MS', 300_000, 1000, 86_400_000),
    informerSyncTimeoutMs: integer(env, 'MULTUS_INFORMER_SYNC_TIMEOUT_MS', 20_000, 0, 600_000),
    readinessTimeoutMs: integer(env, 'MULTUS_READINESS_TIMEOUT_MS', 45_000, 0, 600_000),
    masterWaitMs: integer(env, 'MULTUS_MASTER_CNI_WAIT_MS', 120_000, 0, 3_600_000),
    certWaitMs: integer(env, 'MULTUS_CERT_WAIT_MS', 120_000, 100, 3_600_000),
    metricsBindAddress: env.MULTUS_METRICS_BIND_ADDRESS ?? '',
    nodeName: env.MULTUS_NODE_NAME ?? '',
    podResourcesSocket: absolutePath(env, 'MULTUS_POD_RESOURCES_SOCKET', '/var/lib/kubelet/pod-resources/kubelet.sock'),
    deviceCheckpointFile: absolutePath(env, 'MULTUS_DEVICE_CHECKPOINT_FILE', '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint'),
    deviceInfoDir: absolutePath(env, 'MULTUS_DEVICE_INFO_DIR', '/var/run/k8s.cni.cncf.io/devinfo'),
  });
}
