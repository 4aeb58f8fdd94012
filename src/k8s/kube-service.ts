import { Watch, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { createLoopDelayMonitor, type LoopDelayMonitor } from '../metrics/loop-delay.js';
import { clientCertKubeConfig, createKubeClients, loadKubeConfig, setClientCertificate, type KubeClients } from './client.js';
import { NAD_GROUP, NAD_PLURAL, errorText, httpCode, isStatic, lookupNad, lookupPod, nadInfo, networkStatusWrite, patchAndRecord, podEventWrite, podInfo, statusPatchOutcome, type NadObject } from './api-objects.js';
import { ResilientInformer } from './informer.js';
import { NodeCertificateManager } from './node-certificate.js';
import type { ApiObservations, DraDevice, DraLookup, KubeApi, KubeLog, KubeOptions, KubeStats, NadLookup, NadNamespaces, PodEvent, PodInfo, PodLookup, StatusPatchOutcome } from './protocol.js';

const DRA_GROUP = 'resource.k8s.io';
/** How long a finished request's observation may wait for a call's answer to carry it before it is sent on its own. */
const OBSERVATIONS_EVERY_MS = 1000;
/** Device attributes a DRA driver sets so CNI plugins can find the device (upstream §4.6). */
const DRA_RESOURCE_NAME = 'k8s.cni.cncf.io/resourceName';
const DRA_DEVICE_ID = 'k8s.cni.cncf.io/deviceID';

/** The part of a ResourceClaim that says which devices were allocated. */
interface ResourceClaimObject extends KubernetesObject {
  status?: { allocation?: { devices?: { results?: Array<{ driver?: string; pool?: string; device?: string }> } } };
}

/** The part of a ResourceSlice that describes its devices. */
interface ResourceSliceObject extends KubernetesObject {
  spec?: { driver?: string; pool?: { name?: string }; devices?: Array<{ name?: string; attributes?: Record<string, { string?: string }> }> };
}

/** The CNI-relevant devices among a claim's allocation results, found in the slices. */
function draDevicesOf(results: ReadonlyArray<{ driver?: string; pool?: string; device?: string }>, slices: readonly ResourceSliceObject[]): DraDevice[] {
  return results.flatMap((r) => {
    const slice = slices.find((s) => s.spec?.driver === r.driver && s.spec?.pool?.name === r.pool && s.spec?.devices?.some((d) => d.name === r.device));
    const attributes = slice?.spec?.devices?.find((d) => d.name === r.device)?.attributes ?? {};
    const resourceName = attributes[DRA_RESOURCE_NAME]?.string;
    const deviceID = attributes[DRA_DEVICE_ID]?.string;
    return resourceName === undefined || deviceID === undefined ? [] : [{ resourceName, deviceID }];
  });
}

/**
 * The Kubernetes side of the daemon: informers (pods on this node, all NADs), cache-first
 * lookups with a live GET fallback, and the two writes per pod ADD (the status patch and one
 * event). Runs inside the kube worker thread, so watch traffic never competes with CNI requests
 * for the main thread; it is a plain class so tests can also drive it in-process.
 */
export class KubeService implements KubeApi {
  #clients: KubeClients | undefined;
  #pods: ResilientInformer<V1Pod> | undefined;
  #nads: ResilientInformer<NadObject> | undefined;
  #log: (line: KubeLog) => void = () => undefined;
  #observed: (batch: ApiObservations) => void = () => undefined;
  /** Observations not sent yet, and the timer that sends them. */
  #unsent: ApiObservations = [];
  #sendTimer: NodeJS.Timeout | undefined;
  #nodeName = '';
  #certificates: NodeCertificateManager | undefined;
  #loopDelay: LoopDelayMonitor | undefined;

  /** Run one API call, reporting its verb, outcome and duration to the main thread (metrics). */
  async #timed<T>(verb: string, call: () => Promise<T>): Promise<T> {
    this.#loopDelay?.busy();
    const started = performance.now();
    try {
      const value = await call();
      this.#observe(verb, '2xx', (performance.now() - started) / 1000);
      return value;
    } catch (err) {
      this.#observe(verb, String(httpCode(err) ?? 'none'), (performance.now() - started) / 1000);
      throw err;
    }
  }

  #observe(verb: string, code: string, seconds: number): void {
    this.#unsent.push([verb, code, seconds]);
    this.#sendTimer ??= setTimeout(() => this.#sendUnsent(), OBSERVATIONS_EVERY_MS).unref();
  }

  /** The observations not sent yet, now taken (the kube worker sends them with a call's answer). */
  takeObservations(): ApiObservations {
    clearTimeout(this.#sendTimer);
    this.#sendTimer = undefined;
    const batch = this.#unsent;
    this.#unsent = [];
    return batch;
  }

  #sendUnsent(): void {
    const batch = this.takeObservations();
    if (batch.length > 0) this.#observed(batch);
  }

  async start(opts: KubeOptions, log: (line: KubeLog) => void, observed: (batch: ApiObservations) => void): Promise<void> {
    this.#log = log;
    this.#observed = observed;
    const loopDelay = createLoopDelayMonitor();
    this.#loopDelay = loopDelay;
    this.#nodeName = opts.nodeName;
    let kc: KubeConfig;
    if (opts.nodeCertificate === undefined) {
      kc = loadKubeConfig(opts.kubeconfig);
    } else {
      this.#certificates = await NodeCertificateManager.start(opts.nodeCertificate, opts.nodeName, opts.requestTimeoutMs, log);
      kc = clientCertKubeConfig(this.#certificates.bootstrap, this.#certificates.current);
    }
    const clients = await createKubeClients(kc, opts.requestTimeoutMs);
    this.#clients = clients;
    // Requests switch to a renewed certificate at once (new agent); watches when they next reconnect.
    const certificates = this.#certificates;
    certificates?.rotate(async (cert) => {
      setClientCertificate(kc, certificates.bootstrap, cert);
      await clients.renewAgent();
    });
    if (!opts.informers) return;
    const watch = new Watch(kc);
    const onRestart = (what: string) => (reason: string, delayMs: number) => log({ level: 'warn', msg: `${what} informer restarting`, fields: { reason, delayMs } });
    if (opts.nodeName !== '') {
      // The selector goes on the list AND the watch: client-node 1.x has no fieldSelector on makeInformer.
      const fieldSelector = `spec.nodeName=${opts.nodeName}`;
      this.#pods = new ResilientInformer<V1Pod>({
        path: '/api/v1/pods',
        watch,
        list: () => this.#timed('list', () => clients.core.listPodForAllNamespaces({ fieldSelector }, clients.callOptions())),
        fieldSelector,
        watchdogMs: opts.watchdogMs,
        onRestart: onRestart('pod'),
        onEvent: () => loopDelay.busy(),
      });
    } else {
      log({ level: 'warn', msg: 'MULTUS_NODE_NAME is not set: no pod informer, every ADD reads its pod from the API server', fields: {} });
    }
    this.#nads = new ResilientInformer<NadObject>({
      path: `/apis/${NAD_GROUP}/v1/${NAD_PLURAL}`,
      watch,
      list: async () => (await this.#timed('list', () => clients.custom.listClusterCustomObject({ group: NAD_GROUP, version: 'v1', plural: NAD_PLURAL }, clients.callOptions()))) as { items: NadObject[] },
      watchdogMs: opts.watchdogMs,
      onRestart: onRestart('NAD'),
      onEvent: () => loopDelay.busy(),
    });
    const informers = [this.#pods, this.#nads].filter((i) => i !== undefined);
    // An API server that is down at boot must not keep the daemon from serving the cluster network.
    const synced = Promise.all(informers.map((i) => i.start()));
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), opts.syncTimeoutMs).unref());
    if ((await Promise.race([synced, timeout])) === 'timeout') {
      log({ level: 'warn', msg: 'informer caches not synced yet; serving with live API reads until they are', fields: { syncTimeoutMs: opts.syncTimeoutMs } });
    }
  }

  #api(): KubeClients {
    if (this.#clients === undefined) throw new Error('kube worker not started');
    return this.#clients;
  }

  async getPod(namespace: string, name: string, uid: string): Promise<PodLookup> {
    const cached = this.#pods?.get(name, namespace);
    if (cached !== undefined) {
      const pod = podInfo(cached);
      if (uid === '' || pod.uid === uid || isStatic(pod)) return { kind: 'found', pod };
      // The cache may lag behind a pod re-created with the same name: ask the API server.
    }
    const api = this.#api();
    return lookupPod(namespace, name, uid, () => this.#timed('get', () => api.core.readNamespacedPod({ namespace, name }, api.callOptions())));
  }

  async getNad(namespace: string, name: string): Promise<NadLookup> {
    const cached = this.#nads?.get(name, namespace);
    if (cached !== undefined) return { kind: 'found', nad: nadInfo(cached) };
    const api = this.#api();
    return lookupNad(namespace, name, async () => (await this.#timed('get', () => api.custom.getNamespacedCustomObject({ group: NAD_GROUP, version: 'v1', namespace, plural: NAD_PLURAL, name }, api.callOptions()))) as NadObject);
  }

  async nadNamespaces(name: string): Promise<NadNamespaces> {
    const named = (items: readonly NadObject[]): string[] => [...new Set(items.filter((n) => n.metadata?.name === name).map((n) => n.metadata?.namespace ?? ''))].sort();
    if (this.#nads !== undefined) return { kind: 'found', namespaces: named(this.#nads.list()) };
    try {
      const api = this.#api();
      const list = (await this.#timed('list', () => api.custom.listClusterCustomObject({ group: NAD_GROUP, version: 'v1', plural: NAD_PLURAL }, api.callOptions()))) as { items?: NadObject[] };
      return { kind: 'found', namespaces: named(list.items ?? []) };
    } catch (err) {
      return { kind: 'error', message: `cannot list network-attachment-definitions: ${errorText(err)}` };
    }
  }

  async draDevices(pod: PodInfo): Promise<DraLookup> {
    const api = this.#api();
    const results: Array<{ driver?: string; pool?: string; device?: string }> = [];
    for (const name of pod.resourceClaims) {
      try {
        const claim = (await this.#timed('get', () => api.custom.getNamespacedCustomObject({ group: DRA_GROUP, version: 'v1', namespace: pod.namespace, plural: 'resourceclaims', name }, api.callOptions()))) as ResourceClaimObject;
        results.push(...(claim.status?.allocation?.devices?.results ?? []));
      } catch (err) {
        return { kind: 'error', message: `cannot read ResourceClaim ${pod.namespace}/${name} of pod ${pod.namespace}/${pod.name}: ${errorText(err)}` };
      }
    }
    // Only the slices of the drivers that allocated the pod's devices (a cluster may hold many).
    const drivers = [...new Set(results.map((r) => r.driver ?? ''))].filter((d) => d !== '');
    const slices: ResourceSliceObject[] = [];
    for (const driver of drivers) {
      try {
        const list = (await this.#timed('list', () => api.custom.listClusterCustomObject({ group: DRA_GROUP, version: 'v1', plural: 'resourceslices', fieldSelector: `spec.driver=${driver}` }, api.callOptions()))) as { items?: ResourceSliceObject[] };
        slices.push(...(list.items ?? []));
      } catch (err) {
        return { kind: 'error', message: `cannot list the ResourceSlices of driver ${driver} for pod ${pod.namespace}/${pod.name}: ${errorText(err)}` };
      }
    }
    return { kind: 'found', devices: draDevicesOf(results, slices) };
  }

  async patchNetworkStatus(pod: PodInfo, value: string): Promise<StatusPatchOutcome> {
    const api = this.#api();
    return statusPatchOutcome(() => this.#timed('patch', () => api.write(networkStatusWrite(pod, value))));
  }

  async recordEvent(event: PodEvent): Promise<void> {
    const api = this.#api();
    try {
      await this.#timed('create', () => api.write(podEventWrite(event, this.#nodeName)));
    } catch (err) {
      this.#log({ level: 'warn', msg: 'cannot record event', fields: { reason: event.reason, pod: `${event.pod.namespace}/${event.pod.name}`, err: errorText(err) } });
    }
  }

  publishNetworkStatus(pod: PodInfo, value: string, event: PodEvent): Promise<StatusPatchOutcome> {
    return patchAndRecord(this, pod, value, event);
  }

  stats(): Promise<KubeStats> {
    const informers = [this.#pods, this.#nads].filter((i) => i !== undefined);
    return Promise.resolve({
      eventLoopLagP99Seconds: this.#loopDelay?.p99Seconds() ?? 0,
      podsCached: this.#pods?.size ?? 0,
      nadsCached: this.#nads?.size ?? 0,
      connected: informers.every((i) => i.connected),
      restarts: informers.reduce((n, i) => n + i.restarts, 0),
      apiRequests: this.#clients?.requests() ?? 0,
      certificateExpirySeconds: this.#certificates === undefined ? undefined : this.#certificates.current.notAfter.getTime() / 1000,
    });
  }

  async stop(): Promise<void> {
    this.#sendUnsent();
    this.#loopDelay?.stop();
    this.#certificates?.stop();
    await Promise.all([this.#pods?.stop(), this.#nads?.stop()]);
    this.#clients?.close();
  }
}
