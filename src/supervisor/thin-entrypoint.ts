import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { JsonObject } from '../cni/types.js';
import { stringOr } from '../config/daemon-config.js';
import { THIN_PLUGIN_TYPE } from '../config/multus-conf-generator.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { startConfigManager, type ConfigManager } from './config-manager.js';

/**
 * `multus-daemon thin`: the main container of the thin DaemonSet (upstream's thin_entrypoint).
 * The `multus` plugin itself runs on the host per CNI call; this process only prepares what it
 * reads: a kubeconfig built from the pod's service account, and 00-multus.conf of type `multus`
 * (the config manager: generated from the master, kept current, readiness indicator honoured).
 */

/** Where the service account's credentials are mounted in every pod. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often the token is re-read: kubelet rotates projected tokens well before they expire (1 h). */
const TOKEN_REFRESH_MS = 60_000;

export interface ThinEntrypointOptions {
  /** The daemon config (the same ConfigMap keys as the thick daemon's). */
  daemon: JsonObject;
  log: Logger;
  masterWaitMs: number;
  readinessWaitMs: number;
  onReadinessLost: () => void;
  /** Service-account mount; tests point it elsewhere. */
  serviceAccountDir?: string;
  /** The API server as seen from the host; default from KUBERNETES_SERVICE_HOST/PORT. */
  apiServer?: string;
  /** How often the token is re-read, ms; default one minute. */
  tokenRefreshMs?: number;
}

export interface ThinEntrypoint {
  /** The kubeconfig the plugin uses, as the host sees it. */
  kubeconfigHostPath: string;
  confPath: string;
  stop(): Promise<void>;
}

/** The API server's URL from the in-cluster environment; an IPv6 host in brackets (Go's JoinHostPort, upstream v4.2). */
export function apiServerFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (host === '') throw new Error('thin entrypoint: KUBERNETES_SERVICE_HOST is not set; run it in a pod, or set "kubeconfig" in the daemon config to a kubeconfig the host can read');
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A kubeconfig with the service account's token and CA inline (JSON is YAML). */
async function serviceAccountKubeconfig(saDir: string, server: string): Promise<string> {
  const [token, ca] = await Promise.all([readFile(join(saDir, 'token'), 'utf8'), readFile(join(saDir, 'ca.crt'))]);
  return `${JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: 'multus', user: { token: token.trim() } }],
    contexts: [{ name: 'multus-context', context: { cluster: 'local', user: 'multus' } }],
    'current-context': 'multus-context',
  }, null, 2)}\n`;
}

/**
 * Start: write the kubeconfig (unless the config names one of its own), then hand 00-multus.conf
 * to the config manager with type `multus` and that kubeconfig's host path.
 */
export async function startThinEntrypoint(opts: ThinEntrypointOptions): Promise<ThinEntrypoint> {
  const { daemon, log } = opts;
  const given = stringOr(daemon, 'kubeconfig', '');
  const kubeconfigHostPath = given !== '' ? given : stringOr(daemon, 'multusKubeconfigFileHost', '/etc/cni/net.d/multus.d/multus.kubeconfig');
  let refresh: NodeJS.Timeout | undefined;
  if (given === '') {
    // Written into the runtime's CNI config dir as this container sees it (/host/etc/cni/net.d).
    const target = join(stringOr(daemon, 'cniConfigDir', '/etc/cni/net.d'), 'multus.d', 'multus.kubeconfig');
    const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    const server = opts.apiServer ?? apiServerFromEnv();
    let written = '';
    const write = async (): Promise<void> => {
      const content = await serviceAccountKubeconfig(saDir, server);
      if (content === written) return;
      await writeFileAtomic(target, content, 0o600);
      written = content;
      log.info({ path: target }, 'wrote the thin plugin kubeconfig from the service account');
    };
    await write();
    refresh = setInterval(() => void write().catch((err: unknown) => log.error({ err }, 'cannot refresh the thin plugin kubeconfig; keeping the current one')), opts.tokenRefreshMs ?? TOKEN_REFRESH_MS);
    refresh.unref();
  }
  let manager: ConfigManager;
  try {
    manager = await startConfigManager({ ...opts, daemon: { ...daemon, type: THIN_PLUGIN_TYPE, kubeconfig: kubeconfigHostPath } });
  } catch (err) {
    clearInterval(refresh);
    throw err;
  }
  return {
    kubeconfigHostPath,
    confPath: manager.confPath,
    async stop() {
      clearInterval(refresh);
      await manager.stop();
    },
  };
}
