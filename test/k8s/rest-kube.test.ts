import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestKube } from '../../src/k8s/rest-kube.js';
import type { KubeLog } from '../../src/k8s/protocol.js';
import { FakeApiServer } from '../apiserver/server.js';
import { TestCa } from '../apiserver/test-ca.js';
import { createNodePod } from '../helpers/cluster.js';

/** The thin plugin's own client over HTTPS (it takes node:https only for an https server). */
const ca = new TestCa();
let api: FakeApiServer;
beforeAll(async () => {
  api = await FakeApiServer.start({ tls: { ...ca.serverCertificate(), clientCaPem: ca.certPem } });
});
afterAll(() => api.close());

describe('RestKube over HTTPS', () => {
  it('reads the pod and publishes its network-status and an event, trusting the kubeconfig\'s CA', async () => {
    const uid = createNodePod(api, 'default', 'rest-tls-pod');
    const logs: KubeLog[] = [];
    const kube = new RestKube({ server: new URL(api.url), ca: Buffer.from(ca.certPem), insecure: false }, 2000, (line) => logs.push(line), { draDevices: () => Promise.reject(new Error('no DRA here')), stop: () => Promise.resolve() });
    const lookup = await kube.getPod('default', 'rest-tls-pod', uid);
    expect(lookup.kind).toBe('found');
    if (lookup.kind !== 'found') return;
    const outcome = await kube.publishNetworkStatus(lookup.pod, '[{"name":"c","interface":"eth0"}]', { pod: lookup.pod, type: 'Normal', reason: 'AddedInterface', message: 'Add eth0' });
    expect(outcome).toEqual({ ok: true });
    expect(api.getPod('default', 'rest-tls-pod')?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status']).toContain('eth0');
    expect(api.events('default').map((e) => (e as { reason?: string }).reason)).toContain('AddedInterface');
    expect(logs).toEqual([]);
  });

  it('refuses a server its CA did not sign', async () => {
    const kube = new RestKube({ server: new URL(api.url), ca: Buffer.from(new TestCa().certPem), insecure: false }, 2000, () => undefined, { draDevices: () => Promise.reject(new Error('no DRA here')), stop: () => Promise.resolve() });
    const lookup = await kube.getPod('default', 'rest-tls-pod', 'x');
    expect(lookup).toMatchObject({ kind: 'error' });
    expect(JSON.stringify(lookup)).toMatch(/certificate/i);
  });
});
