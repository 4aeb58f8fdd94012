import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createRunner } from '../cni/runner.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Tunables } from '../config/env.js';
import type { MultusConf } from '../config/multus-conf.js';
import { createCniHandler } from '../server/cni-handler.js';
import { SOCKET_NAME, startSocketServer } from '../server/socket-server.js';
import { startKubeWorker, type KubeHandle } from '../k8s/kube-worker-client.js';
import { createDelegatePool } from '../workers/pool.js';
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

/** Plugin search path: binDir first, then the daemon's CNI_PATH, without duplicates. */
export function pluginDirs(conf: MultusConf, cniPath: string): string[] {
  return [...new Set([conf.binDir, ...cniPath.split(':')].filter((d) => d !== ''))];
}

/**
 * Kubernetes is used when credentials are configured: the `kubeconfig` key, $KUBECONFIG, or an
 * in-cluster service account. Without them the daemon still serves the cluster network.
 */
async function startKube(opts: DaemonOptions): Promise<KubeHandle | undefined> {
  const kubeconfig = typeof opts.config.raw.kubeconfig === 'string' ? opts.config.raw.kubeconfig : '';
  if (kubeconfig === '' && (process.env.KUBECONFIG ?? '') === '' && process.env.KUBERNETES_SERVICE_HOST === undefined) {
    opts.log.warn('no Kubernetes credentials (kubeconfig key, KUBECONFIG or in-cluster): pods get the cluster network only');
    return undefined;
  }
  const kubeLog = opts.log.child({ component: 'kube' });
  const { tunables } = opts;
  return startKubeWorker(
    { kubeconfig, nodeName: tunables.nodeName, requestTimeoutMs: tunables.apiTimeoutMs, watchdogMs: tunables.informerWatchdogMs, syncTimeoutMs: tunables.informerSyncTimeoutMs },
    (line) => kubeLog[line.level](line.fields, line.msg),
  );
}

/** Start the kube worker, the pool, the supervisor and the socket server. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log, tunables } = opts;
  const kube = await startKube(opts);
  const pool = createDelegatePool(
    { threads: tunables.workerThreads, tasksPerWorker: tunables.tasksPerWorker, maxQueue: tunables.poolMaxQueue },
    (err) => log.error({ err }, 'delegate pool worker failed'),
  );
  const delegateLog = log.child({ component: 'delegate' });
  const supervisor = createSupervisor({
    maxInflight: tunables.maxInflight,
    log: log.child({ component: 'supervisor' }),
    context: (req) => ({
      kube: kube?.api,
      readinessTimeoutMs: tunables.readinessTimeoutMs,
      netnsIp: async (netns, args) => {
        const outcome = await pool.runNetnsIp({ netns, args, timeoutMs: tunables.delegateTimeoutMs });
        if (!outcome.ok) throw new Error(`${outcome.error.msg}${outcome.stderr === '' ? '' : `: ${outcome.stderr.trim()}`}`);
      },
      log: log.child({ component: 'pod-actor', pod: req.pod === undefined ? undefined : `${req.pod.namespace}/${req.pod.name}` }),
      runner: createRunner({
        run: (task) => pool.run(task),
        cniDir: req.conf.cniDir,
        binDirs: pluginDirs(req.conf, opts.cniPath),
        timeoutMs: tunables.delegateTimeoutMs,
        observe: ({ plugin, command, network, outcome }) => {
          if (!delegateLog.isLevelEnabled('debug')) return;
          delegateLog.debug({ plugin, cmd: command, net: network, sandbox: req.containerId.slice(0, 12), durationMs: Math.round(outcome.durationMs), result: outcome.ok ? 'ok' : 'error', stderr: outcome.stderr.slice(0, 512) || undefined }, 'delegate plugin run');
        },
      }),
    }),
  });
  let ready = true;
  const server: Server = await startSocketServer({
    socketDir: opts.config.socketDir,
    maxBodyBytes: MAX_BODY_BYTES,
    ready: () => ready,
    cni: createCniHandler({ daemonConfig: opts.config.raw, supervisor, log }),
  });
  const socketPath = join(opts.config.socketDir, SOCKET_NAME);
  log.info({ socketPath, workerThreads: tunables.workerThreads, tasksPerWorker: tunables.tasksPerWorker }, 'multus-daemon ready');
  return {
    socketPath,
    async stop() {
      ready = false;
      await supervisor.drain(tunables.shutdownGraceMs);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
      await kube?.close();
    },
  };
}
