import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { socketPost } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin } from '../helpers/networks.js';

/** The /delegate hot-plug API, driven as multus-dynamic-networks-controller drives it (upstream §5.9). */
const host = new TestHost();
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(host);
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

function request(command: string, p: { containerId: string; netns: string; uid: string }, config: Record<string, unknown>, interfaceAttributes?: Record<string, unknown>) {
  return socketPost(cluster.daemon.socketDir, '/delegate', {
    env: { CNI_COMMAND: command, CNI_CONTAINERID: p.containerId, CNI_NETNS: p.netns, CNI_IFNAME: 'pod7', CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=hot;K8S_POD_UID=${p.uid}` },
    config: Buffer.from(JSON.stringify(config)).toString('base64'),
    interfaceAttributes,
  });
}

describe('/delegate', () => {
  it('adds one interface with the requested ips to a running pod, checks it and removes it; no cache, no status (upstream §5.9)', async () => {
    const ns = host.netns();
    const uid = cluster.pod('default', 'hot', {});
    const br = bridgePlugin(host, 70);
    const config = { cniVersion: '1.0.0', name: 'hotnet', type: 'bridge', bridge: br.bridge, capabilities: { ips: true }, ipam: { type: 'static' } };
    const p = { containerId: 'hotplug1', netns: ns.path, uid };
    const add = await request('ADD', p, config, { ips: ['198.18.70.9/24'] });
    expect(add.status, add.body).toBe(200);
    expect(JSON.parse(add.body)).toMatchObject({ Result: { cniVersion: '1.1.0', ips: [{ address: '198.18.70.9/24' }] } });
    expect(host.inNetns(ns.name, '-4', '-br', 'addr', 'show', 'pod7')).toContain('198.18.70.9/24');
    expect(existsSync(join(cluster.daemon.cniDir, 'hotplug1'))).toBe(false);
    const pod = cluster.api.getPod('default', 'hot') as { metadata: { annotations?: Record<string, string> } };
    expect(pod.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status']).toBeUndefined();

    expect((await request('CHECK', p, config)).status).toBe(200);
    const del = await request('DEL', p, config);
    expect(del.status, del.body).toBe(200);
    expect(() => host.inNetns(ns.name, 'link', 'show', 'pod7')).toThrow();
    expect(readdirSync(join(cluster.daemon.cniDir, 'results')).filter((f) => f.includes('hotplug1'))).toEqual([]);
  });

  it('reports errors: an ADD for a pod that is gone, a bad attribute, and a DEL that fails (unlike a CNI DEL)', async () => {
    const ns = host.netns();
    const config = { cniVersion: '1.0.0', name: 'hotnet2', type: 'cni-record', failOn: 'DEL' };
    const gone = await request('ADD', { containerId: 'hotplug2', netns: ns.path, uid: 'nope' }, config);
    expect(gone.status).toBe(400);
    expect(JSON.parse(gone.body)).toMatchObject({ code: 3, msg: expect.stringContaining('default/hot') });
    const badMac = await request('ADD', { containerId: 'hotplug2', netns: ns.path, uid: 'x' }, config, { mac: 'not-a-mac' });
    expect(JSON.parse(badMac.body)).toMatchObject({ code: 7, msg: expect.stringContaining('interfaceAttributes') });
    const failingDel = await request('DEL', { containerId: 'hotplug2', netns: ns.path, uid: 'x' }, config);
    expect(failingDel.status).toBe(400);
    expect(JSON.parse(failingDel.body)).toMatchObject({ code: 142 });
  });
});
