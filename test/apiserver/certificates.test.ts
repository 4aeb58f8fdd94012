import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CertificatesV1Api, KubeConfig, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createCsr, csrObject } from '../../src/k8s/csr.js';
import { FakeApiServer, writeKubeconfig } from './server.js';
import { TestCa } from './test-ca.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(tls?: TestCa) {
  const api = await FakeApiServer.start(tls === undefined ? {} : { tls: { ...tls.serverCertificate(), clientCaPem: tls.certPem } });
  cleanups.push(() => api.close());
  const dir = mkdtempSync(join(tmpdir(), 'fake-csr-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeKubeconfig(join(dir, 'kubeconfig'), api.url, tls?.certPem);
  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  return { api, certificates: kc.makeApiClient(CertificatesV1Api) };
}

async function status(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}

const newCsr = (): V1CertificateSigningRequest => csrObject('node-a', createCsr('node-a').csrPem, 600);

describe('fake API server: CertificateSigningRequests', () => {
  it('serves them cluster-scoped, named from generateName, with an empty status', async () => {
    const { api, certificates } = await setup();
    const created = await certificates.createCertificateSigningRequest({ body: newCsr() });
    const name = created.metadata?.name ?? '';
    expect(name).toMatch(/^multus-node-a-[a-z0-9]{5}$/);
    expect(created.metadata?.namespace).toBeUndefined();
    expect(created.status).toEqual({});
    expect((await certificates.readCertificateSigningRequest({ name })).spec.signerName).toBe('kubernetes.io/kube-apiserver-client');
    expect((await certificates.listCertificateSigningRequest({ fieldSelector: 'spec.signerName=kubernetes.io/kube-apiserver-client' })).items).toHaveLength(1);
    const namespacedPath = await fetch(`${api.url}/apis/certificates.k8s.io/v1/namespaces/default/certificatesigningrequests/${name}`);
    expect(namespacedPath.status).toBe(404);
  });

  it('approval decides, status issues, and neither can do the other one’s job', async () => {
    const { certificates } = await setup();
    const csr = await certificates.createCertificateSigningRequest({ body: newCsr() });
    const name = csr.metadata?.name ?? '';
    const ca = new TestCa();
    const cert = Buffer.from(ca.signCsr(Buffer.from(csr.spec.request, 'base64').toString(), 600)).toString('base64');
    // A certificate before approval is invalid.
    expect(await status(certificates.replaceCertificateSigningRequestStatus({ name, body: { ...csr, status: { certificate: cert } } }))).toBe(422);
    // The status subresource cannot approve.
    const approved = { type: 'Approved', status: 'True', reason: 'R', message: 'M' };
    const viaStatus = await certificates.replaceCertificateSigningRequestStatus({ name, body: { ...csr, status: { conditions: [approved] } } });
    expect(viaStatus.status?.conditions).toBeUndefined();
    const decided = await certificates.replaceCertificateSigningRequestApproval({ name, body: { ...csr, status: { conditions: [approved] } } });
    expect(decided.status?.conditions?.map((c) => c.type)).toEqual(['Approved']);
    const issued = await certificates.replaceCertificateSigningRequestStatus({ name, body: { ...decided, status: { ...decided.status, certificate: cert } } });
    expect(issued.status?.certificate).toBe(cert);
    expect(issued.status?.conditions?.map((c) => c.type)).toEqual(['Approved']);
    // Issued once, never changed.
    expect(await status(certificates.replaceCertificateSigningRequestStatus({ name, body: { ...issued, status: { ...issued.status, certificate: Buffer.from('x').toString('base64') } } }))).toBe(422);
    // Approved and Denied together are invalid.
    expect(await status(certificates.replaceCertificateSigningRequestApproval({ name, body: { ...issued, status: { conditions: [approved, { ...approved, type: 'Denied' }] } } }))).toBe(422);
  });
});

describe('fake API server over HTTPS', () => {
  /** GET /version with a client certificate (or none); the status code. */
  function get(url: string, ca: string, cert?: { certPem: string; keyPem: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}/api/v1/pods`, { ca, ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('records the client certificate a request authenticated with, and refuses an untrusted or expired one', async () => {
    const ca = new TestCa();
    const { api } = await setup(ca);
    const { csrPem, keyPem } = createCsr('node-a');
    const good = { certPem: ca.signCsr(csrPem, 600), keyPem };
    expect(await get(api.url, ca.certPem, good)).toBe(200);
    expect(api.requests().at(-1)?.clientCertificate).toMatchObject({ commonName: 'system:multus:node-a', organization: 'system:multus' });
    expect(await get(api.url, ca.certPem)).toBe(200);
    expect(api.requests().at(-1)?.clientCertificate).toBeUndefined();
    const stranger = new TestCa();
    expect(await get(api.url, ca.certPem, { certPem: stranger.signCsr(csrPem, 600), keyPem })).toBe(401);
    expect(await get(api.url, ca.certPem, { certPem: ca.signCsr(csrPem, -60), keyPem })).toBe(401);
  });
});
