import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { apiRequest, type ApiWrite } from './api-request.js';
import { NAD_GROUP, NAD_PLURAL, errorText, lookupNad, lookupPod, networkStatusWrite, patchAndRecord, podEventWrite, statusPatchOutcome, type NadObject, type PodObject } from './api-objects.js';
import type { DraLookup, KubeAccess, KubeLog, NadLookup, PodEvent, PodInfo, PodLookup, StatusPatchOutcome } from './protocol.js';
import type { RestCredentials } from './simple-kubeconfig.js';

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
      ? new (process.getBuiltinModule('node:https').Agent)({ keepAlive: true, rejectUnauthorized: !creds.insecure, ...(creds.ca === undefined ? {} : { ca: creds.ca }), ...(creds.cert === undefined ? {} : { cert: creds.cert }), ...(creds.key === undefined ? {} : { key: creds.key }) })
      : new (process.getBuiltinModule('node:http').Agent)({ keepAlive: true }); // neither imported: see api-request.ts
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { 'User-Agent': 'multus-thin' };
    if (this.#creds.token !== undefined) headers.Authorization = `Bearer ${this.#creds.token}`;
    return headers;
  }

  /** A GET; resolves the parsed JSON body of a 2xx answer, rejects with ApiError otherwise. */
  #get<T>(path: string): Promise<T> {
    return apiRequest<T>({ server: this.#creds.server, agent: this.#agent, method: 'GET', path, headers: this.#headers(), timeoutMs: this.#timeoutMs, parse: true });
  }

  #write(w: ApiWrite): Promise<void> {
    return apiRequest<void>({ ...w, server: this.#creds.server, agent: this.#agent, headers: this.#headers(), timeoutMs: this.#timeoutMs, parse: false });
  }

  getPod(namespace: string, name: string, uid: string): Promise<PodLookup> {
    return lookupPod(namespace, name, uid, () => this.#get<PodObject>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`));
  }

  getNad(namespace: string, name: string): Promise<NadLookup> {
    return lookupNad(namespace, name, () => this.#get<NadObject>(`/apis/${NAD_GROUP}/v1/namespaces/${encodeURIComponent(namespace)}/${NAD_PLURAL}/${encodeURIComponent(name)}`));
  }

  draDevices(pod: PodInfo): Promise<DraLookup> {
    return this.#dra.draDevices(pod);
  }

  patchNetworkStatus(pod: PodInfo, value: string): Promise<StatusPatchOutcome> {
    return statusPatchOutcome(() => this.#write(networkStatusWrite(pod, value)));
  }

  async recordEvent(event: PodEvent): Promise<void> {
    try {
      await this.#write(podEventWrite(event, ''));
    } catch (err) {
      this.#log({ level: 'warn', msg: 'cannot record event', fields: { reason: event.reason, pod: `${event.pod.namespace}/${event.pod.name}`, err: errorText(err) } });
    }
  }

  publishNetworkStatus(pod: PodInfo, value: string, event: PodEvent): Promise<StatusPatchOutcome> {
    return patchAndRecord(this, pod, value, event);
  }

  /** Close the connection, and client-node if DRA loaded it (the process exits right after). */
  async stop(): Promise<void> {
    this.#agent.destroy();
    await this.#dra.stop();
  }
}
