import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CURRENT_CERT_FILE, type ClientCertificate } from '../../src/k8s/cert-store.js';
import { KubeService } from '../../src/k8s/kube-service.js';
import { NodeCertificateManager, rotationDeadline } from '../../src/k8s/node-certificate.js';
import type { KubeLog, NodeCertificateOptions } from '../../src/k8s/protocol.js';
import { FakeApiServer, writeKubeconfig, type KubeObject } from '../apiserver/server.js';
import { TestCa } from '../apiserver/test-ca.js';
import { startCsrSigner, type CsrDecision } from '../helpers/csr-signer.js';
import { until } from '../helpers/wait.js';

const NODE = 'node-a';
const IDENTITY = 'system:multus:node-a';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTPS fake API server trusting a test CA for client certificates, and a token bootstrap kubeconfig for it. */
async function setup() {
  const ca = new TestCa();
  const api = await FakeApiServer.start({ tls: { ...ca.serverCertificate(), clientCaPem: ca.certPem } });
  cleanups.push(() => api.close());
  const dir = mkdtempSync(join(tmpdir(), 'node-cert-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const bootstrapKubeconfig = join(dir, 'bootstrap.kubeconfig');
  writeKubeconfig(bootstrapKubeconfig, api.url, ca.certPem);
  const logs: KubeLog[] = [];
  const log = (line: KubeLog): void => void logs.push(line);
  const opts = (over: Partial<NodeCertificateOptions> = {}): NodeCertificateOptions => ({ bootstrapKubeconfig, certDir: join(dir, 'certs'), certDurationSeconds: 600, waitTimeoutMs: 10_000, ...over });
  const signer = (decide?: (csr: KubeObject) => CsrDecision) => {
    const s = startCsrSigner(api, ca, decide);
    cleanups.push(() => s.stop());
    return s;
  };
  const start = async (o: NodeCertificateOptions) => {
    const manager = await NodeCertificateManager.start(o, NODE, 5000, log);
    cleanups.push(() => manager.stop());
    return manager;
  };
  return { ca, api, dir, logs, log, opts, signer, start };
}

const fingerprint = (cert: ClientCertificate): string => new X509Certificate(cert.certPem).fingerprint256;

describe('per-node certificate', () => {
  it('submits a CSR for system:multus:<node> to the client signer, and stores the issued certificate with its key (0600)', async () => {
    const { api, ca, dir, opts, signer, start } = await setup();
    signer();
    const manager = await start(opts());
    const [csr, ...more] = api.certificateSigningRequests();
    expect(more).toEqual([]);
    expect(csr?.metadata.name).toMatch(/^multus-node-a-[a-z0-9]{5}$/);
    const spec = csr?.spec as { request: string; signerName: string; usages: string[]; expirationSeconds: number };
    expect(spec).toMatchObject({ signerName: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature', 'client auth'], expirationSeconds: 600 });
    const csrPem = join(dir, 'request.pem');
    writeFileSync(csrPem, Buffer.from(spec.request, 'base64'));
    // openssl checks the self-signature (-verify) and prints the subject.
    const out = execFileSync('openssl', ['req', '-in', csrPem, '-verify', '-noout', '-subject'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.trim()).toBe('subject=O = system:multus, CN = system:multus:node-a');
    expect(execFileSync('openssl', ['req', '-in', csrPem, '-noout', '-text'], { encoding: 'utf8' })).toMatch(/ASN1 OID: prime256v1/);
    const file = join(opts().certDir, CURRENT_CERT_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8');
    expect(stored).toContain(manager.current.certPem.trim());
    expect(stored).toContain(manager.current.keyPem.trim());
    expect(ca.issued(manager.current.certPem)).toBe(true);
    expect(manager.current.notAfter.getTime() - manager.current.notBefore.getTime()).toBe(600_000);
  });

  it('waits for the CSR to be approved and issued', async () => {
    const { api, ca, opts, start } = await setup();
    const started = start(opts());
    await until(() => api.certificateSigningRequests().length === 1, 'the CSR');
    const csr = api.certificateSigningRequests()[0] as KubeObject;
    api.decideCsr(csr.metadata.name, 'Approved', 'Manual', 'looked at it');
    // Approved but not issued yet: still waiting.
    await until(() => api.requests().filter((r) => r.verb === 'get' && r.name === csr.metadata.name).length >= 3, 'more reads of the CSR');
    api.issueCsr(csr.metadata.name, ca.signCsr(Buffer.from((csr.spec as { request: string }).request, 'base64').toString(), 600));
    const manager = await started;
    expect(new X509Certificate(manager.current.certPem).subject).toContain(`CN=${IDENTITY}`);
    // The bootstrap credentials (a token) submitted and read it.
    const csrRequests = api.requests().filter((r) => r.resource === 'certificatesigningrequests');
    expect(csrRequests.every((r) => r.authorization && r.clientCertificate === undefined)).toBe(true);
  });

  it('fails with a clear error when the CSR is never approved in time', async () => {
    const { opts, start } = await setup();
    await expect(start(opts({ waitTimeoutMs: 300 }))).rejects.toThrow(/certificate signing request multus-node-a-\w+ for system:multus:node-a was not approved and issued within 300 ms/);
  });

  it('fails with a clear error when the CSR is denied', async () => {
    const { opts, signer, start } = await setup();
    signer(() => 'deny');
    await expect(start(opts())).rejects.toThrow(/certificate signing request multus-node-a-\w+ was denied: TestDenied: not a node of this cluster/);
  });

  it('reuses a valid stored certificate of this identity instead of asking again, and clears interrupted writes', async () => {
    const { api, opts, signer, start, logs } = await setup();
    signer();
    const first = await start(opts());
    first.stop();
    // A crash in the middle of a write left a temp file (with a key in it): removed at start.
    const leftover = join(opts().certDir, `${CURRENT_CERT_FILE}.tmp-0123456789ab`);
    writeFileSync(leftover, 'partial');
    const second = await start(opts());
    expect(existsSync(leftover)).toBe(false);
    expect(api.certificateSigningRequests()).toHaveLength(1);
    expect(fingerprint(second.current)).toBe(fingerprint(first.current));
    expect(logs.map((l) => l.msg)).toContain('using the stored node certificate');
  });

  it('asks again when the stored certificate is for another identity', async () => {
    const { api, opts, signer } = await setup();
    signer();
    const other = await NodeCertificateManager.start(opts(), 'node-b', 5000, () => undefined);
    other.stop();
    const mine = await NodeCertificateManager.start(opts(), NODE, 5000, () => undefined);
    mine.stop();
    expect(api.certificateSigningRequests()).toHaveLength(2);
    expect(new X509Certificate(mine.current.certPem).subject).toContain(`CN=${IDENTITY}`);
  });

  it('renews at 70-90 % of the lifetime', () => {
    const cert = { certPem: '', keyPem: '', notBefore: new Date(0), notAfter: new Date(1000_000) };
    expect(rotationDeadline(cert, 0)).toBeCloseTo(700_000);
    expect(rotationDeadline(cert, 1)).toBeCloseTo(900_000);
  });

  it('rotates a short-lived certificate and keeps going when a rotation fails', async () => {
    const { api, opts, signer, start, logs } = await setup();
    let deny = false;
    signer(() => (deny ? 'deny' : 'approve'));
    const manager = await start(opts({ certDurationSeconds: 2 }));
    const initial = fingerprint(manager.current);
    const rotated: ClientCertificate[] = [];
    manager.rotate((cert) => {
      rotated.push(cert);
      deny = true;
      return Promise.resolve();
    });
    await until(() => rotated.length === 1, 'a rotation', 10_000);
    expect(api.certificateSigningRequests()).toHaveLength(2);
    expect(fingerprint(rotated[0] as ClientCertificate)).not.toBe(initial);
    expect(fingerprint(manager.current)).toBe(fingerprint(rotated[0] as ClientCertificate));
    expect(readFileSync(join(opts().certDir, CURRENT_CERT_FILE), 'utf8')).toContain((rotated[0] as ClientCertificate).certPem.trim());
    // The next one is denied: logged, retried, and the current certificate stays.
    await until(() => logs.some((l) => l.msg.startsWith('node certificate rotation failed')), 'a failed rotation', 10_000);
    const failure = logs.find((l) => l.msg.startsWith('node certificate rotation failed'));
    expect(failure?.fields.err).toMatch(/was denied/);
    expect(fingerprint(manager.current)).toBe(fingerprint(rotated[0] as ClientCertificate));
  });

  it('the kube service authenticates as the node with the issued certificate, and switches to the renewed one', async () => {
    const { api, dir, log, logs, signer } = await setup();
    const s = signer();
    api.createPod({ metadata: { namespace: 'default', name: 'p' }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'x' }] } });
    const kube = new KubeService();
    cleanups.push(() => kube.stop());
    const nodeCertificate: NodeCertificateOptions = { bootstrapKubeconfig: join(dir, 'bootstrap.kubeconfig'), certDir: join(dir, 'certs'), certDurationSeconds: 3, waitTimeoutMs: 10_000 };
    await kube.start({ kubeconfig: '', nodeName: NODE, requestTimeoutMs: 5000, watchdogMs: 60_000, syncTimeoutMs: 5000, informers: true, nodeCertificate }, log, () => undefined);
    const daemonRequests = () => api.requests().filter((r) => r.resource !== 'certificatesigningrequests');
    const first = daemonRequests();
    expect(first.length).toBeGreaterThan(0);
    for (const r of first) {
      expect(r.authorization, `${r.verb} ${r.path}`).toBe(false);
      expect(r.clientCertificate, `${r.verb} ${r.path}`).toMatchObject({ commonName: IDENTITY, organization: 'system:multus' });
    }
    const firstCert = first[0]?.clientCertificate?.fingerprint256;
    await until(() => logs.some((l) => l.msg === 'node certificate rotated'), 'a rotation', 10_000);
    expect(s.signed.length).toBeGreaterThanOrEqual(2);
    // A live read (cache miss) after the rotation uses the new certificate.
    expect(await kube.getPod('default', 'absent', '')).toEqual({ kind: 'missing' });
    const read = api.requests().find((r) => r.name === 'absent');
    expect(read?.clientCertificate?.commonName).toBe(IDENTITY);
    expect(read?.clientCertificate?.fingerprint256).not.toBe(firstCert);
    // Watches pick it up when they reconnect.
    api.resetRequests();
    api.dropWatches();
    await until(() => api.requests().some((r) => r.verb === 'watch' && r.status === 200), 'a reconnected watch', 10_000);
    const watch = api.requests().find((r) => r.verb === 'watch' && r.status === 200);
    expect(watch?.clientCertificate?.commonName).toBe(IDENTITY);
    expect(watch?.clientCertificate?.fingerprint256).not.toBe(firstCert);
  });
});
