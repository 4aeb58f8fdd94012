import type { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';
import { ApiError, apiRequest, type ApiWrite } from './api-request.js';
import { CertificatesV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Observable, type ConfigurationOptions, type ObservableMiddleware, type User } from '@kubernetes/client-node';

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

/** The kubeconfig user that carries the per-node client certificate. */
const NODE_CERT_USER = 'multus-node-certificate';

/** A client certificate and key, PEM. */
export interface ClientCredentials {
  certPem: string;
  keyPem: string;
}

function certificateUser(creds: ClientCredentials): User {
  return { name: NODE_CERT_USER, certData: Buffer.from(creds.certPem).toString('base64'), keyData: Buffer.from(creds.keyPem).toString('base64') };
}

/**
 * A kubeconfig for the bootstrap kubeconfig's cluster (server, CA, TLS server name) with the
 * per-node certificate as its only user: the bootstrap credentials are for CSRs alone.
 */
export function clientCertKubeConfig(bootstrap: KubeConfig, creds: ClientCredentials): KubeConfig {
  const cluster = bootstrap.getCurrentCluster();
  if (cluster === null) throw new Error('the bootstrap kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [certificateUser(creds)],
    contexts: [{ name: NODE_CERT_USER, cluster: cluster.name, user: NODE_CERT_USER }],
    currentContext: NODE_CERT_USER,
  });
  return kc;
}

/**
 * Swap the certificate of a kubeconfig made by clientCertKubeConfig, in place, and the cluster
 * (its CA) for the bootstrap kubeconfig's, which may have been reloaded with a new CA:
 * client-node's Watch reads both at every (re)connect, so watches move over when they next
 * reconnect, with no restart. (Requests through KubeClients need `renewAgent()` too.)
 */
export function setClientCertificate(kc: KubeConfig, bootstrap: KubeConfig, creds: ClientCredentials): void {
  const cluster = bootstrap.getCurrentCluster();
  const current = kc.getCurrentCluster();
  if (cluster !== null && current !== null) kc.clusters = [{ ...cluster, name: current.name }];
  kc.users = [certificateUser(creds)];
}

/** Clients sharing one keep-alive agent; `callOptions()` adds that agent and a timeout to one call. */
export interface KubeClients {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  certificates: CertificatesV1Api;
  callOptions(extra?: ConfigurationOptions<ObservableMiddleware>): ConfigurationOptions<ObservableMiddleware>;
  /**
   * Send a write as plain JSON on the same agent, with the same credentials and timeout, without
   * client-node's request machinery (which deserializes the answer into typed objects: a whole
   * V1Pod for each status patch; measured: the kube worker's CPU per pod). Rejects with ApiError.
   */
  write(w: ApiWrite): Promise<void>;
  /** Requests sent so far (for the kube worker's stats). */
  requests(): number;
  /**
   * Rebuild the shared agent from the kubeconfig's current credentials (a rotated client
   * certificate): new requests use the new agent; the old one is destroyed once every request
   * it carried has timed out at the latest.
   */
  renewAgent(): Promise<void>;
  close(): void;
}

async function createAgent(kc: KubeConfig): Promise<HttpAgent | HttpsAgent> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const agentOptions: AgentOptions = { keepAlive: true, maxSockets: 16 };
  // node:http not imported: see api-request.ts.
  if (!server.startsWith('https:')) return new (process.getBuiltinModule('node:http').Agent)(agentOptions);
  const tls: AgentOptions = {};
  await kc.applyToHTTPSOptions(tls);
  return new HttpsAgent({ ...tls, ...agentOptions });
}

/** How long an Authorization header is reused: client-node re-reads a token file every 60 s, so a rotated token is picked up as soon. */
const AUTH_REUSE_MS = 10_000;

/** The headers client-node authenticates a request with (token, token file, exec, basic), for `kc`'s current user. */
async function authHeaders(kc: KubeConfig): Promise<Record<string, string>> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(opts.headers ?? {})) {
    if (typeof value === 'string' || typeof value === 'number') headers[key] = String(value);
  }
  if (typeof opts.auth === 'string') headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  return headers;
}

export async function createKubeClients(kc: KubeConfig, timeoutMs: number): Promise<KubeClients> {
  let agent = await createAgent(kc);
  let auth: { headers: Promise<Record<string, string>>; until: number } | undefined;
  const headers = (): Promise<Record<string, string>> => {
    if (auth === undefined || performance.now() > auth.until) {
      const made = { headers: authHeaders(kc), until: performance.now() + AUTH_REUSE_MS };
      // Credentials that could not be had (an exec plugin failing) are asked for again next time.
      made.headers.catch(() => {
        if (auth === made) auth = undefined;
      });
      auth = made;
    }
    return auth.headers;
  };
  const retiring = new Map<NodeJS.Timeout, HttpAgent | HttpsAgent>();
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
    certificates: kc.makeApiClient(CertificatesV1Api),
    callOptions: (extra) => ({ ...extra, middleware: [reuse, ...(extra?.middleware ?? [])], middlewareMergeStrategy: 'append' }),
    requests: () => count,
    async write(w) {
      count++;
      const server = new URL(kc.getCurrentCluster()?.server ?? '');
      try {
        await apiRequest<void>({ ...w, server, agent, headers: await headers(), timeoutMs, parse: false });
      } catch (err) {
        // Credentials that no longer work (a rotated token) are not reused.
        if (err instanceof ApiError && err.code === 401) auth = undefined;
        throw err;
      }
    },
    async renewAgent() {
      auth = undefined;
      const old = agent;
      agent = await createAgent(kc);
      // Every request carries AbortSignal.timeout(timeoutMs): after that, nothing uses `old`.
      const timer = setTimeout(() => {
        retiring.delete(timer);
        old.destroy();
      }, timeoutMs).unref();
      retiring.set(timer, old);
    },
    close: () => {
      for (const [timer, old] of retiring) {
        clearTimeout(timer);
        old.destroy();
      }
      retiring.clear();
      agent.destroy();
    },
  };
}
