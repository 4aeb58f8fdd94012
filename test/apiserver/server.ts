/**
 * An in-memory Kubernetes API server over plain HTTP (or HTTPS) for tests, the demo and benchmarks.
 * No kube-apiserver can run here, and the daemon under test talks to the API only through
 * client-node and a kubeconfig, so this server is honest rather than convenient: real paths,
 * status codes and Status bodies, resourceVersion semantics, watch framing, 410 on expired
 * history, keep-alive. It serves pods (+ pods/status), NetworkAttachmentDefinitions, Events and
 * CertificateSigningRequests (+ approval, status); over HTTPS, it authenticates client certificates.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { compileFilter, decodeBody, mediaType, ResourceHandlers, type RestResponse } from './handlers.js';
import { clone } from './json.js';
import { TEST_TOKEN } from './kubeconfig.js';
import { resourceFor, toExternal } from './resources.js';
import { parseRoute, type Route } from './routes.js';
import { ApiError, defaultMessage, failureStatus, reasonFor, unsupportedMediaType } from './status.js';
import { ObjectStore, type KubeObject } from './store.js';
import { parseWatchResourceVersion, WatchStream } from './watch.js';

/** Re-exported so callers need one import for the server, its kubeconfig and its object types. */
export { writeKubeconfig, TEST_TOKEN } from './kubeconfig.js';
/** The shape of objects the in-process helpers return. */
export type { KubeObject, ObjectMeta } from './store.js';

/** Options for FakeApiServer.start. */
export interface FakeApiServerOptions {
  /** Interface to listen on; 127.0.0.1 by default. */
  host?: string;
  /** Port; 0 (any free port) by default. */
  port?: number;
  /** Watch history kept for resumes; older resourceVersions get 410. 10,000 by default. */
  historyLimit?: number;
  /** BOOKMARK period for watches with allowWatchBookmarks=true; 1000 ms by default. */
  bookmarkIntervalMs?: number;
  /**
   * Serve HTTPS with this certificate and key (PEM) and authenticate client certificates
   * issued by `clientCaPem`, like kube-apiserver's --client-ca-file: the CN is the user.
   */
  tls?: { certPem: string; keyPem: string; clientCaPem: string };
}

/** The client certificate a request authenticated with. */
export interface ClientCertificateIdentity {
  /** The user name (subject CN). */
  commonName: string;
  /** The groups (subject O). */
  organization: string;
  /** SHA-256 fingerprint, `AB:CD:…`: tells two certificates of one identity apart. */
  fingerprint256: string;
}

/** One API request as the server saw and answered it. */
export interface RecordedRequest {
  method: string;
  /** get | list | watch | create | update | patch | delete | deletecollection (or the lower-cased method off the API paths). */
  verb: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Plural resource name ('' for paths that are not a resource). */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  /** Whether an Authorization header was sent. */
  authorization: boolean;
  /** The User-Agent header. */
  userAgent?: string;
  /** The verified client certificate the request came with (HTTPS only). */
  clientCertificate?: ClientCertificateIdentity;
  /** The HTTP status answered (0 while still in flight); 200 for every watch that was opened. */
  status: number;
}

/** What a failNext matcher gets to decide on. */
export interface FaultRequest {
  method: string;
  path: string;
  verb: string;
  resource: string;
  subresource?: string;
}

/** Adjustable faults for API requests (not for the in-process helpers). */
export interface Faults {
  /** Added before answering every API request, watches included. */
  latencyMs: number;
  /** Added before answering the requests `match` picks (e.g. only event creation). */
  slow?: { match: (req: FaultRequest) => boolean; ms: number } | undefined;
}

/** The metadata the in-process create helpers read; a client-node V1Pod fits. */
export interface ObjectInput {
  metadata?: {
    name?: string | undefined;
    generateName?: string | undefined;
    namespace?: string | undefined;
    uid?: string | undefined;
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
  };
  spec?: unknown;
  status?: unknown;
}

interface FailRule {
  remaining: number;
  status: number;
  match: ((req: FaultRequest) => boolean) | undefined;
}

const WATCH_TRUE = new Set(['true', '1', 't', 'T', 'TRUE', 'True']);
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const PODS = resourceFor('', 'pods');
const NADS = resourceFor('k8s.cni.cncf.io', 'network-attachment-definitions');
const EVENTS = resourceFor('', 'events');
const CSRS = resourceFor('certificates.k8s.io', 'certificatesigningrequests');

function verbOf(method: string, route: Route | undefined, watch: boolean): string {
  const collection = route !== undefined && route.name === undefined;
  switch (method) {
    case 'GET':
      return collection ? (watch ? 'watch' : 'list') : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return collection ? 'deletecollection' : 'delete';
    default:
      return method.toLowerCase();
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache, private',
    'Audit-Id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

const METHOD_NOT_ALLOWED = new ApiError(405, defaultMessage(405), 'MethodNotAllowed');

/**
 * The client certificate of a request: undefined when none was sent (or over HTTP), 'invalid'
 * when it does not chain to the client CA or is outside its validity now. Like kube-apiserver,
 * validity is checked per request, not only at the handshake of a kept-alive connection.
 */
function clientCertificateOf(req: IncomingMessage): ClientCertificateIdentity | 'invalid' | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.getPeerCertificate === undefined) return undefined;
  const peer = socket.getPeerCertificate();
  if (Object.keys(peer).length === 0) return undefined;
  const now = Date.now();
  if (socket.authorized !== true || now < Date.parse(peer.valid_from) || now > Date.parse(peer.valid_to)) return 'invalid';
  const field = (v: string | string[] | undefined): string => (Array.isArray(v) ? v.join(',') : (v ?? ''));
  return { commonName: field(peer.subject.CN), organization: field(peer.subject.O), fingerprint256: peer.fingerprint256 };
}

/**
 * The fake API server. Start with FakeApiServer.start(), point clients at `url` (see
 * writeKubeconfig), close() when done.
 */
export class FakeApiServer {
  /** Adjustable faults; applied to API requests only. */
  readonly faults: Faults = { latencyMs: 0 };
  /** The bearer token accepted (a rotation: set another one). */
  acceptedToken = TEST_TOKEN;

  private readonly server: Server;
  private readonly store: ObjectStore;
  private readonly handlers: ResourceHandlers;
  private readonly bookmarkIntervalMs: number;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchStream>();
  private readonly closing = new AbortController();
  private log: RecordedRequest[] = [];
  private failRules: FailRule[] = [];
  private connectionCount = 0;
  private baseUrl = '';
  private closed: Promise<void> | undefined;

  private constructor(opts: FakeApiServerOptions) {
    this.store = new ObjectStore(opts.historyLimit ?? 10_000);
    this.handlers = new ResourceHandlers(this.store);
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => writeJson(res, 500, failureStatus(500, `Internal error occurred: ${String(e)}`)));
    };
    // Client certificates are requested but not required: token and anonymous requests still work.
    const tls = opts.tls;
    this.server = tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: tls.certPem, key: tls.keyPem, ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: false }, onRequest);
    // Longer than any test: a keep-alive socket the server closes while a client reuses it is an ECONNRESET.
    this.server.keepAliveTimeout = 90_000;
    this.server.on('connection', (socket: Socket) => {
      this.connectionCount += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listen on `host` (127.0.0.1) and a free port. */
  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const api = new FakeApiServer(opts);
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(opts.port ?? 0, host, () => {
        api.server.off('error', reject);
        resolve();
      });
    });
    const address = api.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake apiserver: no TCP address');
    api.baseUrl = `${opts.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return api;
  }

  /** `http://127.0.0.1:PORT` (`https://` with `tls`). */
  get url(): string {
    return this.baseUrl;
  }

  /** Stop: cut every watch and keep-alive socket; resolves when the listener is closed. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing.abort();
      for (const w of [...this.watches]) w.destroy();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    });
    return this.closed;
  }

  // ---- in-process store access (no faults, not recorded; writes emit watch events) ----

  /**
   * Create a pod as the API would (name/generateName, uid, creationTimestamp, resourceVersion;
   * namespace "default" unless set). Unlike an API create, a given `uid` and `status` are kept
   * (status defaults to phase Pending). Throws ApiError 409 if it exists.
   */
  createPod(pod: ObjectInput): KubeObject {
    const body = JSON.parse(JSON.stringify(pod)) as ObjectInput;
    const namespace = body.metadata?.namespace || 'default';
    return clone(this.handlers.create(PODS, namespace, body, 'helper'));
  }

  /**
   * Serve another certificate from now on (a cluster CA rotation), client certificates still
   * checked against `clientCaPem`; open connections keep the old one. HTTPS servers only.
   */
  serveCertificate(tls: { certPem: string; keyPem: string; clientCaPem: string }): void {
    if (!(this.server instanceof HttpsServer)) throw new Error('fake apiserver: not serving HTTPS');
    this.server.setSecureContext({ cert: tls.certPem, key: tls.keyPem, ca: tls.clientCaPem });
  }

  /** Delete a pod at once (DELETED event). Throws ApiError 404 if there is none. */
  deletePod(namespace: string, name: string): void {
    this.handlers.delete(PODS, namespace, name, '');
  }

  /** A copy of the stored pod, or undefined. */
  getPod(namespace: string, name: string): KubeObject | undefined {
    const pod = this.store.get(PODS.storage, namespace, name);
    return pod === undefined ? undefined : clone(pod);
  }

  /** Create a NetworkAttachmentDefinition; `spec.config` only when `config` is given. Throws ApiError 409 if it exists. */
  createNad(namespace: string, name: string, config?: string, annotations?: Record<string, string>): KubeObject {
    const body = {
      apiVersion: NADS.apiVersion,
      kind: NADS.kind,
      metadata: { name, namespace, ...(annotations === undefined ? {} : { annotations }) },
      spec: config === undefined ? {} : { config },
    };
    return clone(this.handlers.create(NADS, namespace, body, 'helper'));
  }

  /** Delete a NetworkAttachmentDefinition (DELETED event). Throws ApiError 404 if there is none. */
  deleteNad(namespace: string, name: string): void {
    this.handlers.delete(NADS, namespace, name, '');
  }

  /**
   * Create an object of any served resource as the API would (e.g. DRA ResourceClaims and
   * ResourceSlices); `namespace` '' for cluster-scoped ones. Throws ApiError 409 if it exists.
   */
  createObject(group: string, resource: string, namespace: string, object: ObjectInput): KubeObject {
    const body = JSON.parse(JSON.stringify(object)) as ObjectInput;
    return clone(this.handlers.create(resourceFor(group, resource), namespace, body, 'helper'));
  }

  /** How many pods are stored, all or only those bound to `nodeName`. */
  countPods(nodeName?: string): number {
    return this.store.list(PODS.storage).filter((p) => nodeName === undefined || (p.spec as { nodeName?: string } | undefined)?.nodeName === nodeName).length;
  }

  /** How many NetworkAttachmentDefinitions are stored. */
  countNads(): number {
    return this.store.list(NADS.storage).length;
  }

  /** Stored core/v1 Events (also those posted through events.k8s.io), oldest first. */
  events(namespace?: string): KubeObject[] {
    return this.store
      .list(EVENTS.storage, namespace)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((e) => clone(e));
  }

  /** Stored CertificateSigningRequests (as served: no namespace), oldest first. */
  certificateSigningRequests(): KubeObject[] {
    return this.store
      .list(CSRS.storage, '')
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((c) => clone(toExternal(CSRS, c)));
  }

  /**
   * Decide a CSR as an approver would, through its `approval` subresource: add an Approved or
   * Denied condition. Throws ApiError 404 if there is none, 422 if it is already decided otherwise.
   */
  decideCsr(name: string, decision: 'Approved' | 'Denied', reason: string, message: string): KubeObject {
    const csr = this.handlers.get(CSRS, '', name).body as KubeObject;
    const status = (csr.status ?? {}) as { conditions?: unknown[] };
    const condition = { type: decision, status: 'True', reason, message, lastUpdateTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
    const body = { ...csr, status: { ...status, conditions: [...(status.conditions ?? []), condition] } };
    return clone(this.handlers.update(CSRS, '', name, 'approval', body).body as KubeObject);
  }

  /** Issue a certificate (PEM) for an approved CSR, through its `status` subresource, as a signer would. */
  issueCsr(name: string, certificatePem: string): KubeObject {
    const csr = this.handlers.get(CSRS, '', name).body as KubeObject;
    const body = { ...csr, status: { ...(csr.status ?? {}), certificate: Buffer.from(certificatePem).toString('base64') } };
    return clone(this.handlers.update(CSRS, '', name, 'status', body).body as KubeObject);
  }

  // ---- observability ----

  /** Every API request so far, in arrival order. */
  requests(): RecordedRequest[] {
    return this.log.map((r) => ({ ...r, query: { ...r.query } }));
  }

  /** Forget the recorded requests. */
  resetRequests(): void {
    this.log = [];
  }

  /** Watches currently streaming. */
  openWatches(): number {
    return this.watches.size;
  }

  /** TCP connections accepted since start (shows whether a client reuses keep-alive sockets). */
  connections(): number {
    return this.connectionCount;
  }

  /** The current global resourceVersion. */
  resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  // ---- fault injection ----

  /**
   * Answer the next `count` API requests matching `match` (all, by default) with a Status of
   * `status` and its usual reason, instead of serving them. Rules queue up in call order.
   */
  failNext(count: number, status: number, match?: (req: FaultRequest) => boolean): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`failNext: count must be a positive integer, not ${count}`);
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`failNext: status must be 400-599, not ${status}`);
    this.failRules.push({ remaining: count, status, match });
  }

  /** Forget every pending failNext rule: the API answers normally again. */
  clearFailures(): void {
    this.failRules.length = 0;
  }

  /**
   * End every open watch: 'abrupt' (default) destroys the socket mid-stream like a crashed
   * server; 'graceful' ends the chunked response cleanly like a server-side timeout.
   */
  dropWatches(mode: 'abrupt' | 'graceful' = 'abrupt'): void {
    for (const w of [...this.watches]) {
      if (mode === 'abrupt') w.destroy();
      else w.end();
    }
  }

  /** Forget the event history: a watch resuming from any older resourceVersion gets ERROR 410 Expired. */
  expireHistory(): void {
    this.store.expire();
  }

  // ---- HTTP ----

  private takeFault(req: FaultRequest): number | undefined {
    const rule = this.failRules.find((r) => r.match === undefined || r.match(req));
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining === 0) this.failRules = this.failRules.filter((r) => r !== rule);
    return rule.status;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const route = parseRoute(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const verb = verbOf(method, route, WATCH_TRUE.has(query.watch ?? ''));
    const contentType = req.headers['content-type'];
    const authorization = req.headers.authorization;
    const userAgent = req.headers['user-agent'];
    const certificate = clientCertificateOf(req);
    const record: RecordedRequest = {
      method,
      verb,
      path: url.pathname,
      query,
      resource: route?.def.resource ?? '',
      ...(route?.subresource === undefined ? {} : { subresource: route.subresource }),
      ...(route?.namespace === undefined ? {} : { namespace: route.namespace }),
      ...(route?.name === undefined ? {} : { name: route.name }),
      ...(contentType === undefined ? {} : { contentType }),
      authorization: authorization !== undefined,
      ...(userAgent === undefined ? {} : { userAgent }),
      ...(certificate === undefined || certificate === 'invalid' ? {} : { clientCertificate: certificate }),
      status: 0,
    };
    this.log.push(record);
    const reply = (r: RestResponse, headers?: Record<string, string>): void => {
      record.status = r.status;
      writeJson(res, r.status, r.body, headers);
    };
    try {
      const raw = await readBody(req);
      const faultRequest: FaultRequest = { method, path: url.pathname, verb, resource: record.resource, ...(route?.subresource === undefined ? {} : { subresource: route.subresource }) };
      const latencyMs = this.faults.latencyMs + (this.faults.slow?.match(faultRequest) === true ? this.faults.slow.ms : 0);
      if (latencyMs > 0) await delay(latencyMs, undefined, { signal: this.closing.signal });
      if (raw === undefined) throw new ApiError(413, 'the request entity is too large', 'RequestEntityTooLarge');
      if (authorization !== undefined && authorization !== `Bearer ${this.acceptedToken}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      if (certificate === 'invalid') throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const fault = this.takeFault(faultRequest);
      if (fault !== undefined) {
        reply({ status: fault, body: failureStatus(fault, defaultMessage(fault), reasonFor(fault)) }, fault === 429 ? { 'Retry-After': '1' } : {});
        return;
      }
      if (this.serveNonResource(method, url.pathname, record, res)) return;
      if (route === undefined) throw new ApiError(404, defaultMessage(404), 'NotFound');
      this.serve(method, route, query, contentType, raw, record, res, reply);
    } catch (e) {
      if (this.closing.signal.aborted) {
        res.destroy();
        return;
      }
      const error = e instanceof ApiError ? e : new ApiError(500, `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`);
      reply({ status: error.code, body: error.toStatus() });
    }
  }

  /** /healthz, /livez, /readyz and /version, like the real server. */
  private serveNonResource(method: string, path: string, record: RecordedRequest, res: ServerResponse): boolean {
    if (method !== 'GET') return false;
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      record.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
      res.end('ok');
      return true;
    }
    if (path === '/version') {
      record.status = 200;
      writeJson(res, 200, { major: '1', minor: '33', gitVersion: 'v1.33.0-fake', platform: 'linux/amd64' });
      return true;
    }
    return false;
  }

  private serve(
    method: string,
    route: Route,
    query: Record<string, string>,
    contentType: string | undefined,
    raw: string,
    record: RecordedRequest,
    res: ServerResponse,
    reply: (r: RestResponse) => void,
  ): void {
    const { def, name, subresource } = route;
    // Cluster-scoped objects are stored under namespace ''.
    const namespace = def.namespaced ? route.namespace : '';
    const jsonBody = (): unknown => {
      if (mediaType(contentType) !== 'application/json') throw unsupportedMediaType(['application/json']);
      return decodeBody(raw);
    };
    if (name === undefined) {
      if (method === 'GET' && record.verb === 'watch') {
        this.openWatch(route, query, res);
        record.status = 200;
        return;
      }
      if (method === 'GET') return reply(this.handlers.list(def, namespace, compileFilter(def, query.fieldSelector, query.labelSelector)));
      if (namespace === undefined) throw METHOD_NOT_ALLOWED;
      if (method === 'POST') return reply(this.handlers.createResponse(def, namespace, jsonBody()));
      if (method === 'DELETE') return reply(this.handlers.deleteCollection(def, namespace, compileFilter(def, query.fieldSelector, query.labelSelector)));
      throw METHOD_NOT_ALLOWED;
    }
    if (namespace === undefined) throw new ApiError(404, defaultMessage(404), 'NotFound');
    switch (method) {
      case 'GET':
        return reply(this.handlers.get(def, namespace, name));
      case 'PUT':
        return reply(this.handlers.update(def, namespace, name, subresource, jsonBody()));
      case 'PATCH':
        return reply(this.handlers.patch(def, namespace, name, subresource, contentType, raw));
      case 'DELETE':
        if (subresource !== undefined) throw METHOD_NOT_ALLOWED;
        return reply(this.handlers.delete(def, namespace, name, raw));
      default:
        throw METHOD_NOT_ALLOWED;
    }
  }

  private openWatch(route: Route, query: Record<string, string>, res: ServerResponse): void {
    const from = parseWatchResourceVersion(query.resourceVersion);
    const filter = compileFilter(route.def, query.fieldSelector, query.labelSelector);
    const timeout = query.timeoutSeconds === undefined ? undefined : Number(query.timeoutSeconds);
    const stream = new WatchStream(this.store, res, {
      def: route.def,
      namespace: route.namespace,
      filter,
      allowBookmarks: WATCH_TRUE.has(query.allowWatchBookmarks ?? ''),
      bookmarkIntervalMs: this.bookmarkIntervalMs,
      timeoutSeconds: timeout !== undefined && Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
    });
    this.watches.add(stream);
    stream.whenFinished(() => this.watches.delete(stream));
    stream.open(from);
  }
}
