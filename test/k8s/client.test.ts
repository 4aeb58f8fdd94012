import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkStatusWrite, podEventWrite } from '../../src/k8s/api-objects.js';
import { createKubeClients, loadKubeConfig, type KubeClients } from '../../src/k8s/client.js';
import { FakeApiServer, writeKubeconfig } from '../apiserver/server.js';
import { createNodePod } from '../helpers/cluster.js';

const dir = mkdtempSync('/tmp/multus-client-test-');
let api: FakeApiServer;
let clients: KubeClients | undefined;
beforeAll(async () => {
  api = await FakeApiServer.start();
});
afterAll(async () => {
  clients?.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the kube worker\'s writes (plain JSON, not client-node\'s request machinery)', () => {
  it('patch the pod\'s status with the kubeconfig\'s credentials, and take new ones after a 401 instead of reusing the old for 10 s', async () => {
    const path = join(dir, 'kubeconfig');
    writeKubeconfig(path, api.url);
    const kc = loadKubeConfig(path);
    clients = await createKubeClients(kc, 5000);
    const uid = createNodePod(api, 'default', 'writes');
    const pod = { namespace: 'default', name: 'writes', uid, annotations: {}, resourceClaims: [] };
    await clients.write(networkStatusWrite(pod, '[{"name":"first"}]'));
    expect(api.getPod('default', 'writes')?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status']).toBe('[{"name":"first"}]');
    // The token is rotated: the server takes only the new one, the kubeconfig's user has it.
    api.acceptedToken = 'rotated';
    const user = kc.getCurrentUser();
    if (user === null) throw new Error('no user');
    kc.users = [{ ...user, token: 'rotated' }];
    await expect(clients.write(networkStatusWrite(pod, '[{"name":"second"}]'))).rejects.toMatchObject({ code: 401 });
    await clients.write(networkStatusWrite(pod, '[{"name":"third"}]'));
    expect(api.getPod('default', 'writes')?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status']).toBe('[{"name":"third"}]');
  });
});

describe('event names', () => {
  it('are client-go\'s (the pod\'s name and hex nanoseconds), distinct for one pod within a millisecond', () => {
    const pod = { namespace: 'default', name: 'named-pod', uid: 'u1', annotations: {}, resourceClaims: [] };
    const names = Array.from({ length: 3 }, () => (podEventWrite({ pod, type: 'Normal', reason: 'AddedInterface', message: 'm' }, 'node-a').body as { metadata: { name: string } }).metadata.name);
    for (const name of names) expect(name).toMatch(/^named-pod\.[0-9a-f]{15,}$/);
    expect(new Set(names).size).toBe(3);
    // Nanoseconds since the epoch: within a minute of now.
    expect(Math.abs(Number(BigInt(`0x${names[0]?.split('.')[1] ?? ''}`) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
  });
});
