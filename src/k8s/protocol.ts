/**
 * The kube worker's interface, as the main thread sees it through comlink. Everything crossing
 * it is plain data (structured clone): pods and NADs are reduced to what planning needs.
 */

/** How the worker reaches the API server and what it watches. */
export interface KubeOptions {
  /** Kubeconfig file; empty means $KUBECONFIG, then the in-cluster service account. */
  kubeconfig: string;
  /** This node's name: the pod informer watches `spec.nodeName=<nodeName>` only. Empty: no pod informer, live GETs. */
  nodeName: string;
  /** Timeout of one live API request (GET, PATCH, POST), ms. */
  requestTimeoutMs: number;
  /** Restart a watch that has been silent this long, ms. */
  watchdogMs: number;
  /** How long start() waits for the first list of each informer, ms. */
  syncTimeoutMs: number;
  /**
   * Watch pods and NADs (the daemon). Off for the thin plugin: a process that lives for one CNI
   * call reads only what that call needs, with live GETs.
   */
  informers: boolean;
  /** Authenticate with a per-node client certificate instead of `kubeconfig` (upstream `perNodeCertificate`). */
  nodeCertificate?: NodeCertificateOptions;
}

/** The per-node certificate: how it is obtained, kept and renewed. */
export interface NodeCertificateOptions {
  /** Kubeconfig whose credentials only submit CertificateSigningRequests; its cluster is the daemon's. */
  bootstrapKubeconfig: string;
  /** Directory of `multus-client-current.pem`. */
  certDir: string;
  /** Requested lifetime (CSR `spec.expirationSeconds`), s. */
  certDurationSeconds: number;
  /** How long one CSR may wait to be approved and issued, ms (upstream: 2 min). */
  waitTimeoutMs: number;
}

/** What planning needs of a pod. */
export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  annotations: Record<string, string>;
  /** Names of the pod's ResourceClaim objects (DRA), in its namespace; empty for most pods. */
  resourceClaims: string[];
}

/** What planning needs of a NetworkAttachmentDefinition. */
export interface NadInfo {
  namespace: string;
  name: string;
  /** `spec.config`; empty when absent. */
  config: string;
  annotations: Record<string, string>;
}

/** Outcome of a pod lookup. */
export type PodLookup =
  | { kind: 'found'; pod: PodInfo }
  | { kind: 'missing' }
  /** The API has a pod of that name with another uid (re-created): the runtime's sandbox is stale. */
  | { kind: 'uid-mismatch'; pod: PodInfo }
  | { kind: 'error'; message: string };

/** Outcome of a NAD lookup. */
export type NadLookup = { kind: 'found'; nad: NadInfo } | { kind: 'missing' } | { kind: 'error'; message: string };

/** The namespaces holding a NAD of some name (explain's hint for a NAD looked for in the wrong one). */
export type NadNamespaces = { kind: 'found'; namespaces: string[] } | { kind: 'error'; message: string };

/**
 * How a network-status patch ended. `gone`: no such pod, or a pod of that name with another uid
 * (re-created): writing is pointless. `failed`: anything else (the API server away): retry.
 */
export type StatusPatchOutcome = { ok: true } | { ok: false; gone: boolean; message: string };

/** A DRA device allocated to a pod that names its device-plugin resource and device ID. */
export interface DraDevice {
  resourceName: string;
  deviceID: string;
}

/** Outcome of reading a pod's DRA allocations. */
export type DraLookup = { kind: 'found'; devices: DraDevice[] } | { kind: 'error'; message: string };

/** One event to record on a pod. */
export interface PodEvent {
  pod: PodInfo;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Informer health, for metrics and readiness. */
export interface KubeStats {
  podsCached: number;
  nadsCached: number;
  connected: boolean;
  restarts: number;
  apiRequests: number;
  /** Event-loop delay p99 of the kube worker thread since the previous stats() call, seconds. */
  eventLoopLagP99Seconds: number;
  /** When the per-node certificate in use expires, Unix seconds; undefined without perNodeCertificate. */
  certificateExpirySeconds: number | undefined;
}

/**
 * Finished API requests (verb, HTTP code: '2xx' on success, 'none' without an answer; seconds) as
 * the worker hands them to the main thread's histogram: with the answer of the next call (see
 * Answered), or in a batch at most a second later when no call comes (a comlink call per request
 * was a message and its reply each way).
 */
export type ApiObservations = Array<[verb: string, code: string, seconds: number]>;

/** A log line the worker asks the main thread to write (pino lives on the main thread). */
export interface KubeLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** The object the worker exposes. */
export interface KubeApi {
  start(opts: KubeOptions, log: (line: KubeLog) => void, observed: (batch: ApiObservations) => void): Promise<void>;
  /** Cache first; a live GET on a miss, or when `uid` is given and differs from the cached one. */
  getPod(namespace: string, name: string, uid: string): Promise<PodLookup>;
  /** Cache first; a live GET on a miss (a NAD created just before its pod). */
  getNad(namespace: string, name: string): Promise<NadLookup>;
  /** The namespaces that hold a NAD named `name`: the NAD cache, or one live list without it. */
  nadNamespaces(name: string): Promise<NadNamespaces>;
  /**
   * The devices allocated to the pod's ResourceClaims that carry the attributes
   * `k8s.cni.cncf.io/resourceName` and `k8s.cni.cncf.io/deviceID` in their ResourceSlice (live
   * reads: one GET per claim, one list of slices). Devices without them are skipped.
   */
  draDevices(pod: PodInfo): Promise<DraLookup>;
  /** One merge patch of pods/status setting the network-status annotation (no GET first). */
  patchNetworkStatus(pod: PodInfo, value: string): Promise<StatusPatchOutcome>;
  /** Record an event; failures are logged, never raised. */
  recordEvent(event: PodEvent): Promise<void>;
  /** Both writes after an ADD at once, in one call: the patch (its outcome) and the event. */
  publishNetworkStatus(pod: PodInfo, value: string, event: PodEvent): Promise<StatusPatchOutcome>;
  stats(): Promise<KubeStats>;
  stop(): Promise<void>;
}

/** The calls the kube worker answers (all but start). */
export type KubeCall = Exclude<keyof KubeApi, 'start'>;

/**
 * A call's answer from the kube worker thread, with the API requests finished since the last
 * ones sent: the ADD's two writes reach the histogram with their own answer, so no timer wakes the
 * worker and no message wakes the main thread for them.
 */
export interface Answered<T> {
  value: T;
  observations: ApiObservations;
}

/** What the kube worker thread sends one way, on the port given to start. */
export type KubeEvent = { log: KubeLog } | { observed: ApiObservations };

/**
 * What the kube worker thread exposes through comlink: KubeApi's calls, each answered with the
 * observations; start takes a port for log lines and batches (a comlink callback would answer
 * each one with a message back, waking the worker again for nothing).
 */
export type KubeWorkerApi = { [K in KubeCall]: (...args: Parameters<KubeApi[K]>) => Promise<Answered<Awaited<ReturnType<KubeApi[K]>>>> } & {
  start(opts: KubeOptions, events: MessagePort): Promise<void>;
};

/** What the actors use of the kube worker (a comlink remote, or a KubeService in tests). */
export type KubeAccess = Pick<KubeApi, 'getPod' | 'getNad' | 'draDevices' | 'patchNetworkStatus' | 'recordEvent' | 'publishNetworkStatus'>;

/** What `multus-daemon explain` reads; it has no way to write. */
export type KubeReader = Pick<KubeApi, 'getPod' | 'getNad' | 'draDevices' | 'nadNamespaces'>;
