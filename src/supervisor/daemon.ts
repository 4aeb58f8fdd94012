import { join } from 'node:path';
import type { Logger } from 'pino';
import { netnsIpVia } from '../cni/exec.js';
import { createRunner, type PluginRunObserver } from '../cni/runner.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Tunables } from '../config/env.js';
import { pluginDirs, readMultusConf } from '../config/multus-conf.js';
import { kubeDownStats, startKubeWorker, type KubeHandle } from '../k8s/kube-worker-client.js';
import { kubeOptions } from '../k8s/kube-options.js';
import type { KubeReader } from '../k8s/protocol.js';
import { startMetricsServer } from '../metrics/http.js';
import { createMetrics, type Metrics } from '../metrics/registry.js';
import { createCniHandler, createDelegateHandler } from '../server/cni-handler.js';
import { createExplainHandler } from '../server/explain-handler.js';
import type { CniRequest } from '../server/request.js';
import { SOCKET_NAME, makePrivateDir, startSocketServer } from '../server/socket-server.js';
import { removeStaleTempFiles } from '../util/atomic-write.js';
import { createDelegatePool } from '../workers/pool.js';
import { SPAWNER_SOCKET_NAME, startSpawner } from '../workers/spawner.js';
import { createSupervisor } from './supervisor.js';

/** CNI request bodies are a config plus an environment: a few KiB. Cap them well above that. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface DaemonOptions {
  config: DaemonConfig;
  tunables: Tunables;
  log: Logger;
  /** The daemon's own CNI_PATH, searched after binDir (upstream). */
  cniPath: string;
}

/** A running daemon. */
export interface Daemon {
  socketPath: string;
  /** Stop accepting new work (readyz → 500), finish in-flight requests within the grace period, close. */
  stop(): Promise<void>;
}

/** Plugin runs feed the delegate and pool-wait histograms, and a debug line each. */
function pluginObserver(req: CniRequest, metrics: Metrics, log: Logger): PluginRunObserver {
  return ({ plugin, command, network, outcome }) => {
    // Only plugins that were found label the histogram: an arbitrary NAD `type` must not add series.
    const label = outcome.ok || outcome.ran ? plugin : 'unknown';
    metrics.delegate.observe({ plugin: label, command, result: outcome.ok ? 'ok' : 'error' }, outcome.durationMs / 1000);
    if (outcome.waitMs !== undefined) metrics.poolWait.observe(outcome.waitMs / 1000);
    if (!log.isLevelEnabled('debug')) return;
    log.debug({ plugin, cmd: command, net: network, sandbox: req.containerId.slice(0, 12), durationMs: Math.round(outcome.durationMs), result: outcome.ok ? 'ok' : 'error', stderr: outcome.stderr.slice(0, 512) || undefined }, 'delegate plugin run');
  };
}

/** Start the pool, the kube worker, the supervisor, the socket server and the metrics server. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log, tunables } = opts;
  // Before serving: cache writes a crash interrupted leave temp files nothing else removes.
  const cniDir = readMultusConf(opts.config.raw).cniDir;
  const swept = (await removeStaleTempFiles(cniDir)) + (await removeStaleTempFiles(join(cniDir, 'results')));
  if (swept > 0) log.info({ cniDir, files: swept }, 'removed temp files of cache writes interrupted by a crash');
  const kubeOpts = kubeOptions(opts.config, tunables);
  await makePrivateDir(opts.config.socketDir);
  const spawnerGone = (why: string): void => log.warn({ why }, 'multus-spawner is not running: the pool spawns plugins itself (more CPU per plugin run)');
  const spawner = tunables.spawner ? await startSpawner(join(opts.config.socketDir, SPAWNER_SOCKET_NAME), spawnerGone) : undefined;
  const pool = createDelegatePool(
    { threads: tunables.workerThreads, minThreads: tunables.poolMinThreads, tasksPerWorker: tunables.tasksPerWorker, maxQueue: tunables.poolMaxQueue, ...(spawner === undefined ? {} : { spawnerSocket: spawner.socketPath }) },
    (err) => log.error({ err }, 'delegate pool worker failed'),
  );
  if (kubeOpts === undefined) log.warn('no Kubernetes credentials (kubeconfig key, KUBECONFIG or in-cluster): pods get the cluster network only');
  // The gauges read live state at scrape time; kube and the supervisor exist by the first scrape.
  let kube: KubeHandle | undefined;
  let stats = (): { actors: number; inflight: number; queued: number; followUps: number } => ({ actors: 0, inflight: 0, queued: 0, followUps: 0 });
  const metrics = createMetrics({
    supervisor: () => stats(),
    pool: () => pool.stats(),
    nodeCertificate: kubeOpts?.nodeCertificate !== undefined,
    ...(kubeOpts === undefined ? {} : { kube: async () => (kube === undefined ? kubeDownStats() : kube.api.stats()) }),
  });
  if (kubeOpts !== undefined) {
    const kubeLog = log.child({ component: 'kube' });
    kube = await startKubeWorker(kubeOpts, (line) => kubeLog[line.level](line.fields, line.msg), metrics.observeKubeRequests, { onRestart: () => metrics.kubeWorkerRestarts.inc() });
  }
  const delegateLog = log.child({ component: 'delegate' });
  const supervisor = createSupervisor({
    maxInflight: tunables.maxInflight,
    maxFollowUps: tunables.maxFollowUps,
    deadlineMs: tunables.requestDeadlineMs,
    log: log.child({ component: 'supervisor' }),
    context: (req, scope) => ({
      ...scope,
      kube: kube?.api,
      readinessTimeoutMs: tunables.readinessTimeoutMs,
      devices: { podResourcesSocket: tunables.podResourcesSocket, checkpointFile: tunables.deviceCheckpointFile },
      deviceInfoDir: tunables.deviceInfoDir,
      deleteAbandoned: (reason) => metrics.deletesAbandoned.inc({ reason }),
      netnsIp: netnsIpVia((task) => pool.runNetnsIp(task), tunables.delegateTimeoutMs, opts.config.chrootDir),
      log: log.child({ component: 'pod-actor', pod: req.pod === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}` }),
      runner: createRunner({
        run: (task) => pool.run(task),
        cniDir: req.conf.cniDir,
        binDirs: pluginDirs(req.conf, opts.cniPath),
        timeoutMs: tunables.delegateTimeoutMs,
        chrootDir: opts.config.chrootDir,
        observe: pluginObserver(req, metrics, delegateLog),
      }),
    }),
  });
  stats = () => supervisor.stats();
  const kubeApi = kube?.api;
  const kubeReader: KubeReader | undefined =
    kubeApi === undefined ? undefined : { getPod: (ns, name, uid) => kubeApi.getPod(ns, name, uid), getNad: (ns, name) => kubeApi.getNad(ns, name), draDevices: (pod) => kubeApi.draDevices(pod), nadNamespaces: (name) => kubeApi.nadNamespaces(name) };
  let ready = true;
  const handlerOptions = {
    daemonConfig: opts.config.raw,
    supervisor,
    log,
    onDone: ({ command, ok, seconds }: { command: string; ok: boolean; seconds: number }) => metrics.cniRequest.observe({ command, result: ok ? 'ok' : 'error' }, seconds),
  };
  const server = await startSocketServer({
    socketDir: opts.config.socketDir,
    maxBodyBytes: MAX_BODY_BYTES,
    ready: () => ready,
    degraded: () => (kube === undefined || kube.up() ? undefined : 'the kube worker is restarting'),
    cni: createCniHandler(handlerOptions),
    delegate: createDelegateHandler(handlerOptions),
    // No runner and no pool: explain cannot run a plugin; only kube's reading methods.
    explain: createExplainHandler(
      {
        daemonConfig: opts.config.raw,
        kube: kubeReader,
        cniPath: opts.cniPath,
        chrootDir: opts.config.chrootDir,
        devices: { podResourcesSocket: tunables.podResourcesSocket, checkpointFile: tunables.deviceCheckpointFile },
        deviceInfoDir: tunables.deviceInfoDir,
      },
      log.child({ component: 'explain' }),
    ),
    onRequest: metrics.mainLoopBusy,
    onAnswer: ({ handler, method, status }) => metrics.serverRequests.inc({ handler, code: String(status), method }),
    connectionLimit: opts.config.connectionLimit,
  });
  const metricsServer = opts.config.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, opts.config.metricsPort, tunables.metricsBindAddress, () => ready && (kube === undefined || kube.up()), opts.config.enablePprof);
  // As upstream: the profiling endpoints live on the metrics port; without one there are none.
  if (opts.config.enablePprof && metricsServer === undefined) log.warn('enablePprof is set but metricsPort is not: no profiling endpoints are served');
  const socketPath = join(opts.config.socketDir, SOCKET_NAME);
  log.info({ socketPath, metricsPort: opts.config.metricsPort, workerThreads: tunables.workerThreads, tasksPerWorker: tunables.tasksPerWorker, kubernetes: kube !== undefined }, 'multus-daemon ready');
  return {
    socketPath,
    async stop() {
      ready = false;
      await supervisor.drain(tunables.shutdownGraceMs);
      await server.stop();
      await new Promise<void>((resolve) => (metricsServer === undefined ? resolve() : metricsServer.close(() => resolve())));
      await pool.close();
      spawner?.stop();
      await kube?.close();
    },
  };
}
