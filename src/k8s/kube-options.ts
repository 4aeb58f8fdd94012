import type { DaemonConfig } from '../config/daemon-config.js';
import type { Tunables } from '../config/env.js';
import type { KubeOptions } from './protocol.js';

/**
 * Kubernetes is used when credentials are configured: `perNodeCertificate`, the `kubeconfig`
 * key, $KUBECONFIG, or an in-cluster service account. Without them the daemon still serves the
 * cluster network.
 */
export function kubeOptions(config: DaemonConfig, tunables: Tunables): KubeOptions | undefined {
  const cert = config.perNodeCertificate;
  if (cert !== undefined && tunables.nodeName === '') throw new TypeError('perNodeCertificate is enabled but MULTUS_NODE_NAME is not set: the certificate names the node');
  const kubeconfig = typeof config.raw.kubeconfig === 'string' ? config.raw.kubeconfig : '';
  if (cert === undefined && kubeconfig === '' && (process.env.KUBECONFIG ?? '') === '' && process.env.KUBERNETES_SERVICE_HOST === undefined) return undefined;
  return {
    kubeconfig,
    nodeName: tunables.nodeName,
    requestTimeoutMs: tunables.apiTimeoutMs,
    watchdogMs: tunables.informerWatchdogMs,
    syncTimeoutMs: tunables.informerSyncTimeoutMs,
    informers: true,
    ...(cert === undefined ? {} : { nodeCertificate: { ...cert, waitTimeoutMs: tunables.certWaitMs } }),
  };
}
