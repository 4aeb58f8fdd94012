import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { CoreV1Api, CustomObjectsApi, KubeConfig, Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';

/**
 * The only module that builds Kubernetes clients. client-node 1.4.0 makes a new agent (a new
 * TCP/TLS connection) for every request; we swap in one keep-alive agent per daemon, and give
 * every call a timeout, through a pre-request middleware.
 */

/** Load credentials: the `kubeconfig` key, else $KUBECONFIG, else the in-cluster service account. */
export function loadKubeConfig(kubeconfig: string): KubeConfig {
  const kc = new KubeConfig();
  const path = kubeconfig !== '' ? kubeconfig : (process.env.KUBECONFIG ?? '');
  if (path !== '') kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) kc.loadFromCluster();
  else throw new Error('no Kubernetes credentials: set "kubeconfig" in the daemon config, KUBECONFIG, or run in a pod with a service account');
  return kc;
}

/** Clients sharing one keep-alive agent; `callOptions()` adds that agent and a timeout to one call. */
export interface KubeClients {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  callOptions(extra?: ConfigurationOptions<ObservableMiddleware>): ConfigurationOptions<ObservableMiddleware>;
  /** Requests sent so far (for the kube worker's stats). */
  requests(): number;
  close(): void;
}

export async function createKubeClients(kc: KubeConfig, timeoutMs: number): Promise<KubeClients> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const agentOptions: AgentOptions = { keepAlive: true, maxSockets: 16 };
  let agent: HttpAgent | HttpsAgent;
  if (server.startsWith('https:')) {
    const tls: AgentOptions = {};
    await kc.applyToHTTPSOptions(tls);
    agent = new HttpsAgent({ ...tls, ...agentOptions });
  } else {
    agent = new HttpAgent(agentOptions);
  }
  let count = 0;
  const reuse: ObservableMiddleware = {
    pre: (ctx) => {
      count++;
      ctx.setAgent(agent);
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
  return {
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    callOptions: (extra) => ({ ...extra, middleware: [reuse, ...(extra?.middleware ?? [])], middlewareMergeStrategy: 'append' }),
    requests: () => count,
    close: () => agent.destroy(),
  };
}
