import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { NAD_GROUP, NAD_PLURAL, errorText, lookupNad, lookupPod, networkStatusPatch, podEventBody, statusPatchOutcome, type NadObject, type PodObject } from './api-objects.js';
import type { DraLookup, KubeAccess, KubeLog, NadLookup, PodEvent, PodInfo, PodLookup, StatusPatchOutcome } from './protocol.js';
import type { RestCredentials } from './simple-kubeconfig.js';

/** A non-2xx answer, shaped as client-node's ApiException so errorText and httpCode read it alike. */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

/** Where DRA lookups go (client-node, loaded on first use), and how to close it. */
export interface DraFallback {
  draDevices(pod: PodInfo): Promise<DraLookup>;
  stop(): Promise<void>;
}

/**
 * The thin plugin's Kubernetes access for one ADD: the pod GET, the NAD GETs, the status patch
 * and the event, as plain JSON over one keep-alive connection, without loading
 * @kubernetes/client-node (loading it was most of a thin ADD's time). The same judging of
 * answers as the daemon's (api-objects.ts). DRA lookups, rare, go to `dra` (client-node).
 */
export class RestKube implements KubeAccess {
  readonly #creds: RestCredentials;
  readonly #timeoutMs: number;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #log: (line: KubeLog) => void;
  readonly #dra: DraFallback;

  constructor(creds: RestCredentials, timeoutMs: number, log: (line: KubeLog) => void, dra: DraFallback) {
    this.#creds = creds;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
    this.#dra = dra;
    const tls = creds.server.protocol === 'https:';
    this.#agent = tls
      ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: !creds.insecure, ...(creds.ca === undefined ? {} : { ca: creds.ca }), ...(creds.cert === undefined ? {} : { cert: creds.cert }), ...(creds.key === undefined ? {} : { key: creds.key }) })
      : new HttpAgent({ keepAlive: true });
  }

  /** One API call; resolves the parsed JSON body of a 2xx answer, rejects with ApiError otherwise. */
  #call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const { server, token } = this.#creds;
    const url = new URL(`${server.pathname.replace(/\/$/, '')}${path}`, server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'multus-thin' };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined) headers['Content-Type'] = contentType;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return reject(new ApiError(status, text));
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new Error(`${method} ${path}: the answer is not JSON`));
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  getPod(namespace: string, name: string, uid: string): Promise<PodLookup> {
    return lookupPod(namespace, name, uid, () => this.#call<PodObject>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`));
  }

  getNad(namespace: string, name: string): Promise<NadLookup> {
    return lookupNad(namespace, name, () => this.#call<NadObject>('GET', `/apis/${NAD_GROUP}/v1/namespaces/${encodeURIComponent(namespace)}/${NAD_PLURAL}/${encodeURIComponent(name)}`));
  }

  draDevices(pod: PodInfo): Promise<DraLookup> {
    return this.#dra.draDevices(pod);
  }

  patchNetworkStatus(pod: PodInfo, value: string): Promise<StatusPatchOutcome> {
    return statusPatchOutcome(() => this.#call('PATCH', `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/status`, networkStatusPatch(pod, value), 'application/merge-patch+json'));
  }

  async recordEvent(event: PodEvent): Promise<void> {
    try {
      await this.#call('POST', `/api/v1/namespaces/${encodeURIComponent(event.pod.namespace)}/events`, podEventBody(event, ''));
    } catch (err) {
      this.#log({ level: 'warn', msg: 'cannot record event', fields: { reason: event.reason, pod: `${event.pod.namespace}/${event.pod.name}`, err: errorText(err) } });
    }
  }

  /** Close the connection, and client-node if DRA loaded it (the process exits right after). */
  async stop(): Promise<void> {
    this.#agent.destroy();
    await this.#dra.stop();
  }
}
