/**
 * Upstream's `perNodeCertificate` (client-go's certificate manager, as multus runs it): the
 * daemon authenticates as `system:multus:<node>` with a short-lived client certificate that it
 * obtains through a CertificateSigningRequest, submitted with the bootstrap kubeconfig's
 * credentials, and renews well before it expires.
 */
import type { KubeConfig, V1CertificateSigningRequest } from '@kubernetes/client-node';
import { removeStaleTempFiles } from '../util/atomic-write.js';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';
import { pollUntil } from '../util/poll.js';
import { clientCertificate, readStoredCertificate, storeCertificate, type ClientCertificate } from './cert-store.js';
import { createKubeClients, loadKubeConfig } from './client.js';
import { createCsr, csrObject, nodeIdentity } from './csr.js';
import { errorText, httpCode } from './api-objects.js';
import type { KubeLog, NodeCertificateOptions } from './protocol.js';

/** How often a pending CSR is read again. A CSR is one small object, read a few times per rotation: no watch to keep alive. */
const POLL_MS = 500;
/** Retry backoff of a failed rotation: doubled from 1 s up to 2 min, up to 20 % less at random. */
const RETRY: BackoffOptions = { startMs: 1000, maxMs: 120_000, jitter: 0.2 };
/** setTimeout fires at once beyond 2^31-1 ms (about 24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** TLS verification errors of Node.js: the server's certificate is signed by a CA we do not trust. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE']);

/** True when `err`, or an error it wraps, is a TLS verification failure of the server. */
function untrustedServer(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && UNTRUSTED.has(code)) return true;
    if (/unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/i.test(e.message)) return true;
  }
  return false;
}

/** What a CSR round needs besides the options. */
interface CertificateRequester {
  bootstrap: KubeConfig;
  nodeName: string;
  opts: NodeCertificateOptions;
  requestTimeoutMs: number;
  signal: AbortSignal;
}

/** A terminal answer to our CSR: waiting longer will not change it. */
class CsrRefusedError extends Error {}

/** The issued certificate (PEM), or a CsrRefusedError when the CSR was denied or failed; undefined while pending. */
function outcome(csr: V1CertificateSigningRequest): string | undefined {
  const name = csr.metadata?.name ?? '';
  for (const c of csr.status?.conditions ?? []) {
    if ((c.type === 'Denied' || c.type === 'Failed') && c.status !== 'False') {
      const why = [c.reason, c.message].filter((t) => t !== undefined && t !== '').join(': ');
      throw new CsrRefusedError(`certificate signing request ${name} was ${c.type === 'Denied' ? 'denied' : 'not issued (Failed)'}${why === '' ? '' : `: ${why}`}`);
    }
  }
  const certificate = csr.status?.certificate;
  return certificate === undefined || certificate === '' ? undefined : Buffer.from(certificate, 'base64').toString('utf8');
}

/**
 * One CSR round: a new key, a CSR submitted with the bootstrap credentials, then reads of the
 * CSR until it is issued, refused, or `opts.waitTimeoutMs` has passed (upstream waits 2 min).
 */
async function requestCertificate(r: CertificateRequester): Promise<ClientCertificate> {
  const identity = nodeIdentity(r.nodeName);
  const clients = await createKubeClients(r.bootstrap, r.requestTimeoutMs);
  try {
    const { keyPem, csrPem } = createCsr(r.nodeName);
    // An API server that is briefly away (no answer, 429, 5xx) is waited for, within the same
    // bound as the approval (upstream #1483 retries its transient errors too); a refusal (403,
    // 422...) or a server certificate we do not trust will not change: it fails at once.
    let createError = '';
    const name = await pollUntil(
      async () => {
        try {
          const created = await clients.certificates.createCertificateSigningRequest({ body: csrObject(r.nodeName, csrPem, r.opts.certDurationSeconds) }, clients.callOptions());
          return created.metadata?.name ?? '';
        } catch (err) {
          const code = httpCode(err);
          // An untrusted server certificate will not change either (its handling is the caller's).
          if ((code !== undefined && code !== 429 && code < 500) || untrustedServer(err)) throw new Error(`cannot create a certificate signing request for ${identity}: ${errorText(err)}`, { cause: err });
          createError = errorText(err);
          return undefined;
        }
      },
      { timeoutMs: r.opts.waitTimeoutMs, everyMs: POLL_MS, signal: r.signal, timedOut: () => new Error(`cannot create a certificate signing request for ${identity} within ${r.opts.waitTimeoutMs} ms: ${createError}`) },
    );
    let lastError = '';
    const issued = await pollUntil(
      async () => {
        try {
          return outcome(await clients.certificates.readCertificateSigningRequest({ name }, clients.callOptions()));
        } catch (err) {
          if (err instanceof CsrRefusedError) throw err;
          lastError = errorText(err);
          return undefined;
        }
      },
      {
        timeoutMs: r.opts.waitTimeoutMs,
        everyMs: POLL_MS,
        signal: r.signal,
        timedOut: () => new Error(`certificate signing request ${name} for ${identity} was not approved and issued within ${r.opts.waitTimeoutMs} ms${lastError === '' ? '' : ` (last error: ${lastError})`}`),
      },
    );
    return clientCertificate(issued, keyPem, identity);
  } finally {
    clients.close();
  }
}

/**
 * When to renew: at a random 70–90 % of the lifetime, as client-go does, so that the nodes of a
 * cluster started together do not all renew in the same second.
 */
export function rotationDeadline(cert: ClientCertificate, random = Math.random()): number {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  return cert.notBefore.getTime() + lifetime * (0.7 + 0.2 * random);
}

/**
 * Holds the current per-node certificate and renews it. start() reuses a valid stored
 * certificate for this identity or runs a CSR round (a failure is a startup error); rotate()
 * then renews in the background: failures are logged and retried with backoff while the
 * current certificate stays in use until it expires.
 */
export class NodeCertificateManager {
  readonly #requester: CertificateRequester;
  readonly #log: (line: KubeLog) => void;
  readonly #abort: AbortController;
  #current: ClientCertificate;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  private constructor(requester: CertificateRequester, abort: AbortController, current: ClientCertificate, log: (line: KubeLog) => void) {
    this.#requester = requester;
    this.#abort = abort;
    this.#current = current;
    this.#log = log;
  }

  static async start(opts: NodeCertificateOptions, nodeName: string, requestTimeoutMs: number, log: (line: KubeLog) => void): Promise<NodeCertificateManager> {
    const abort = new AbortController();
    const requester: CertificateRequester = { bootstrap: loadKubeConfig(opts.bootstrapKubeconfig), nodeName, opts, requestTimeoutMs, signal: abort.signal };
    const identity = nodeIdentity(nodeName);
    // A write a crash interrupted leaves a temp file holding a private key: nothing else removes it.
    await removeStaleTempFiles(opts.certDir);
    let current = await readStoredCertificate(opts.certDir, identity);
    if (current !== undefined) {
      log({ level: 'info', msg: 'using the stored node certificate', fields: { identity, notAfter: current.notAfter.toISOString() } });
    } else {
      log({ level: 'info', msg: 'requesting a node certificate', fields: { identity, waitTimeoutMs: opts.waitTimeoutMs } });
      current = await requestCertificate(requester);
      await storeCertificate(opts.certDir, current);
      log({ level: 'info', msg: 'node certificate issued', fields: { identity, notAfter: current.notAfter.toISOString() } });
    }
    return new NodeCertificateManager(requester, abort, current, log);
  }

  /** The bootstrap kubeconfig: its cluster (server, CA) is the per-node clients' too. */
  get bootstrap(): KubeConfig {
    return this.#requester.bootstrap;
  }

  /** The certificate in use. */
  get current(): ClientCertificate {
    return this.#current;
  }

  /** Start renewing; `onRotated` switches the clients to each new certificate (after it is stored). */
  rotate(onRotated: (cert: ClientCertificate) => Promise<void>): void {
    this.#arm(rotationDeadline(this.#current), onRotated);
  }

  /** Fire at `at` (epoch ms), in steps when it is further away than one timer can wait. */
  #arm(at: number, onRotated: (cert: ClientCertificate) => Promise<void>): void {
    if (this.#abort.signal.aborted) return;
    const delay = at - Date.now();
    this.#timer = setTimeout(() => (delay > MAX_TIMER_MS ? this.#arm(at, onRotated) : void this.#renew(onRotated)), Math.max(0, Math.min(delay, MAX_TIMER_MS)));
    this.#timer.unref();
  }

  async #renew(onRotated: (cert: ClientCertificate) => Promise<void>): Promise<void> {
    const identity = nodeIdentity(this.#requester.nodeName);
    try {
      const next = await requestCertificate(this.#requester);
      // Stopped while the CSR was pending: the clients are closed, nothing to switch.
      if (this.#abort.signal.aborted) return;
      await storeCertificate(this.#requester.opts.certDir, next);
      this.#current = next;
      await onRotated(next);
      this.#failures = 0;
      this.#log({ level: 'info', msg: 'node certificate rotated', fields: { identity, notAfter: next.notAfter.toISOString() } });
      this.#arm(rotationDeadline(next), onRotated);
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      // The cluster's CA changed (upstream #1478): the bootstrap kubeconfig in memory no longer
      // trusts the API server; its file on disk may have the new CA by now. The next round, and
      // the clients after it, use it.
      if (untrustedServer(err)) {
        this.#requester.bootstrap = loadKubeConfig(this.#requester.opts.bootstrapKubeconfig);
        this.#log({ level: 'warn', msg: 'the API server\'s certificate is not trusted: bootstrap kubeconfig reloaded from disk', fields: { identity, err: errorText(err) } });
      }
      this.#failures++;
      const backoff = backoffDelay(this.#failures - 1, RETRY);
      this.#log({ level: 'warn', msg: 'node certificate rotation failed; the current certificate stays in use', fields: { identity, err: errorText(err), retryInMs: backoff, notAfter: this.#current.notAfter.toISOString() } });
      this.#arm(Date.now() + backoff, onRotated);
    }
  }

  /** Stop renewing; a CSR round in progress is abandoned. */
  stop(): void {
    this.#abort.abort();
    clearTimeout(this.#timer);
  }
}
