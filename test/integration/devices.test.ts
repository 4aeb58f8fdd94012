import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ACCESS } from '../../src/k8s/api-access.js';
import { NODE, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { readJsonLines } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { startPodResourcesServer, type KubeletPod, type PodResourcesServer } from '../helpers/pod-resources.js';
import { podArgs, runShim, type ShimOutcome } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * resourceName → deviceID end to end (upstream §4.6, §4.7): the built shim and daemon, the
 * in-repo API server, a kubelet pod-resources gRPC server of the suite's own on a unix socket
 * (then kubelet's checkpoint file, then DRA claims and slices), and cni-record plugins that
 * record the exact config each delegate got.
 */
const host = new TestHost();
const socket = join(host.dir, 'kubelet.sock');
const checkpoint = join(host.dir, 'kubelet_internal_checkpoint');
const devinfo = join(host.dir, 'devinfo');
const recordFile = join(host.dir, 'record.jsonl');
let cluster: TestCluster;
let kubelet: PodResourcesServer | undefined;
let clusterConf: string;
let containers = 0;

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const RESOURCE_NAME = 'k8s.v1.cni.cncf.io/resourceName';
const SRIOV = 'example.com/sriov';

beforeAll(async () => {
  kubelet = await startPodResourcesServer(socket);
  cluster = await startTestCluster(host, {}, { MULTUS_POD_RESOURCES_SOCKET: socket, MULTUS_DEVICE_CHECKPOINT_FILE: checkpoint, MULTUS_DEVICE_INFO_DIR: devinfo });
  clusterConf = join(cluster.daemon.confDir, '10-cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', recordFile, address: '198.18.60.2/24' }));
});

afterAll(async () => {
  await kubelet?.close();
  await cluster?.stop();
  host.cleanup();
});

/** A NAD using `resource`: two cni-record plugins, the first declaring deviceID and CNIDeviceInfoFile. */
function deviceNad(name: string, resource: string): void {
  const plugins = [{ type: 'cni-record', recordFile, capabilities: { deviceID: true, CNIDeviceInfoFile: true } }, { type: 'cni-record', recordFile, tag: 'second' }];
  cluster.api.createNad('default', name, JSON.stringify({ cniVersion: '1.0.0', name, plugins }), { [RESOURCE_NAME]: resource });
}

interface PodCall {
  name: string;
  uid: string;
  netns: string;
  containerId: string;
}

function newPod(name: string, networks: string, spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): PodCall {
  const pod = cluster.api.createPod({ metadata: { namespace: 'default', name, annotations: { [NETWORKS]: networks } }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }], ...spec }, status }) as { metadata: { uid: string } };
  return { name, uid: pod.metadata.uid, netns: host.netns().path, containerId: `${host.id}d${containers++}`.padEnd(64, 'd') };
}

function cni(command: string, p: PodCall): Promise<ShimOutcome> {
  return runShim({ command, containerId: p.containerId, netns: p.netns, args: podArgs('default', p.name, p.uid), stdin: multusStdin(cluster.daemon.socketDir, clusterConf) });
}

interface Call {
  env: Record<string, string>;
  conf: Record<string, unknown>;
}

/** The plugin calls recorded for one container. */
function callsOf(p: PodCall): Call[] {
  return readJsonLines<Call>(recordFile).filter((c) => c.env.CNI_CONTAINERID === p.containerId);
}

function networkStatus(p: PodCall): Array<Record<string, unknown>> {
  const value = (cluster.api.getPod('default', p.name) as { metadata: { annotations?: Record<string, string> } } | undefined)?.metadata.annotations?.[NETWORK_STATUS];
  return value === undefined ? [] : (JSON.parse(value) as Array<Record<string, unknown>>);
}

/** CNI device-info files present now. */
function cniDeviceInfos(): string[] {
  const dir = join(devinfo, 'cni');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** A failed ADD must leave nothing: no delegate cache, no device-info file, no plugin run. */
function expectNothingLeft(p: PodCall): void {
  expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
  expect(cniDeviceInfos().filter((f) => f.includes(p.containerId))).toEqual([]);
  expect(callsOf(p)).toEqual([]);
}

function kubeletReports(...pods: KubeletPod[]): void {
  kubelet?.setPods(pods);
}

describe('device IDs from the kubelet pod-resources API', () => {
  it('two attachments of one resource get different device IDs in sorted order: deviceID and pciBusID in every plugin, runtimeConfig deviceID, the same config on DEL', async () => {
    deviceNad('sriov-a', SRIOV);
    deviceNad('sriov-b', SRIOV);
    const p = newPod('dev-pod', 'sriov-a,sriov-b');
    // Devices of every container count; another namespace's pod of the same name does not.
    kubeletReports(
      { namespace: 'other', name: 'dev-pod', containers: [{ [SRIOV]: ['0000:01:00.0'] }] },
      { namespace: 'default', name: 'dev-pod', containers: [{ [SRIOV]: ['0000:03:00.2'], 'example.com/other': ['x'] }, { [SRIOV]: ['0000:03:00.1'] }] },
    );
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    const adds = callsOf(p).filter((c) => c.env.CNI_COMMAND === 'ADD');
    expect(adds.map((c) => [c.env.CNI_IFNAME, c.conf.deviceID, c.conf.pciBusID])).toEqual([
      ['eth0', undefined, undefined],
      ['net1', '0000:03:00.1', '0000:03:00.1'],
      ['net1', '0000:03:00.1', '0000:03:00.1'],
      ['net2', '0000:03:00.2', '0000:03:00.2'],
      ['net2', '0000:03:00.2', '0000:03:00.2'],
    ]);
    expect(adds[1]?.conf.runtimeConfig).toEqual({ deviceID: '0000:03:00.1', CNIDeviceInfoFile: join(devinfo, 'cni', `default-sriov-a-${p.containerId}_net1`) });
    expect(adds[2]?.conf.runtimeConfig).toBeUndefined(); // the second plugin declares no capability

    // The cache holds the injected config, so DEL runs with exactly what ADD ran with.
    const cache = JSON.parse(readFileSync(join(cluster.daemon.cniDir, p.containerId), 'utf8')) as Array<Record<string, unknown>>;
    expect(cache.map((e) => [e.resourceName, e.deviceID])).toEqual([[undefined, undefined], [SRIOV, '0000:03:00.1'], [SRIOV, '0000:03:00.2']]);
    expect(JSON.parse(Buffer.from(cache[2]?.Bytes as string, 'base64').toString('utf8'))).toMatchObject({ plugins: [{ deviceID: '0000:03:00.2', pciBusID: '0000:03:00.2' }, { deviceID: '0000:03:00.2', pciBusID: '0000:03:00.2', tag: 'second' }] });

    expect((await cni('DEL', p)).code).toBe(0);
    const dels = callsOf(p).filter((c) => c.env.CNI_COMMAND === 'DEL');
    // Reverse order: each list's second plugin first, so dels[1] is net2's first plugin.
    expect(dels.map((c) => [c.env.CNI_IFNAME, c.conf.deviceID])).toEqual([
      ['net2', '0000:03:00.2'],
      ['net2', '0000:03:00.2'],
      ['net1', '0000:03:00.1'],
      ['net1', '0000:03:00.1'],
      ['eth0', undefined],
    ]);
    expect(dels[1]?.conf.runtimeConfig).toEqual({ deviceID: '0000:03:00.2', CNIDeviceInfoFile: join(devinfo, 'cni', `default-sriov-b-${p.containerId}_net2`) });
  });

  it('the device plugin\'s device-info is copied for the plugin (0444), published as network-status device-info, and removed on DEL (MN-37)', async () => {
    deviceNad('sriov-info', SRIOV);
    const p = newPod('info-pod', 'sriov-info,sriov-info');
    kubeletReports({ namespace: 'default', name: 'info-pod', containers: [{ [SRIOV]: ['0000:04:00.1', '0000:04:00.2'] }] });
    const info = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:04:00.1' } };
    mkdirSync(join(devinfo, 'dp'), { recursive: true });
    writeFileSync(join(devinfo, 'dp', 'example.com-sriov-0000:04:00.1-device.json'), JSON.stringify(info));

    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    const copied = join(devinfo, 'cni', `default-sriov-info-${p.containerId}_net1`);
    expect(JSON.parse(readFileSync(copied, 'utf8'))).toEqual(info);
    expect(statSync(copied).mode & 0o777).toBe(0o444);
    // The second device has no device-plugin file: nothing to copy, no device-info.
    expect(existsSync(join(devinfo, 'cni', `default-sriov-info-${p.containerId}_net2`))).toBe(false);
    await until(() => networkStatus(p).length === 3, 'network-status of info-pod');
    expect(networkStatus(p).map((s) => [s.interface, s['device-info']])).toEqual([
      ['eth0', undefined],
      ['net1', info],
      ['net2', undefined],
    ]);

    expect((await cni('DEL', p)).code).toBe(0);
    expect(existsSync(copied)).toBe(false);
  });

  it('the device-info file goes with its attachment: a repeated ADD re-copies it, a rolled-back ADD and GC of a stale container remove it', async () => {
    deviceNad('sriov-life', SRIOV);
    const dpFile = join(devinfo, 'dp', 'example.com-sriov-0000:08:00.1-device.json');
    mkdirSync(join(devinfo, 'dp'), { recursive: true });
    writeFileSync(dpFile, JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:08:00.1' } }));
    const p = newPod('life-pod', 'sriov-life');
    kubeletReports({ namespace: 'default', name: 'life-pod', containers: [{ [SRIOV]: ['0000:08:00.1'] }] });
    const file = join(devinfo, 'cni', `default-sriov-life-${p.containerId}_net1`);
    expect((await cni('ADD', p)).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    // The runtime retries without a DEL: our own leftover is undone first, so the copy succeeds again.
    const again = await cni('ADD', p);
    expect(again.code, again.stdout).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(cluster.daemon.logs().some((l) => l.msg === 'cannot copy the device plugin\'s device-info')).toBe(false);

    // GC (CNI 1.1) of a container the runtime no longer lists removes its device-info file too.
    const gc = await runShim({ command: 'GC', stdin: { ...multusStdin(cluster.daemon.socketDir, clusterConf), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] } });
    expect(gc.code, gc.stdout).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);

    // A plugin failing after the copy: the rollback removes the file with the cache.
    const failing = [{ type: 'cni-record', recordFile, capabilities: { deviceID: true, CNIDeviceInfoFile: true } }, { type: 'cni-record', recordFile, failOn: 'ADD' }];
    cluster.api.createNad('default', 'sriov-fails', JSON.stringify({ cniVersion: '1.0.0', name: 'sriov-fails', plugins: failing }), { [RESOURCE_NAME]: SRIOV });
    const q = newPod('fail-pod', 'sriov-fails');
    kubeletReports({ namespace: 'default', name: 'fail-pod', containers: [{ [SRIOV]: ['0000:08:00.1'] }] });
    const failed = await cni('ADD', q);
    expect(failed.json).toMatchObject({ code: 142 });
    expect(callsOf(q).filter((c) => c.env.CNI_COMMAND === 'ADD')).toHaveLength(3); // eth0, then both plugins of net1, after the copy
    expect(cniDeviceInfos().filter((f) => f.includes(q.containerId))).toEqual([]);
    expect(existsSync(join(cluster.daemon.cniDir, q.containerId))).toBe(false);
  });

  it('a resource the pod has no device of, or too few devices, fails the ADD before anything runs, saying what is missing', async () => {
    deviceNad('unknown-res', 'example.com/absent');
    const unknown = newPod('no-device', 'unknown-res');
    kubeletReports({ namespace: 'default', name: 'no-device', containers: [{ [SRIOV]: ['0000:05:00.1'] }] });
    const refused = await cni('ADD', unknown);
    expect(refused.json).toMatchObject({ code: 7, msg: expect.stringContaining('failed to get deviceID for network "default/unknown-res"') as unknown });
    expect(refused.json?.msg).toContain('resource "example.com/absent", but none is allocated to the pod');
    expectNothingLeft(unknown);

    deviceNad('sriov-few', SRIOV);
    const few = newPod('few-devices', 'sriov-few,sriov-few');
    kubeletReports({ namespace: 'default', name: 'few-devices', containers: [{ [SRIOV]: ['0000:05:00.1'] }] });
    const short = await cni('ADD', few);
    expect(short.json).toMatchObject({ code: 7, msg: expect.stringContaining('the pod has 1 (0000:05:00.1), already used by "default/sriov-few"') as unknown });
    expectNothingLeft(few);
  });

  it('kubelet answering an error, or not listening, fails the ADD with code 11 naming the socket', async () => {
    deviceNad('sriov-down', SRIOV);
    const p = newPod('kubelet-down', 'sriov-down');
    kubelet?.failWith(grpcStatus.UNAVAILABLE);
    const failed = await cni('ADD', p);
    expect(failed.json).toMatchObject({ code: 11, msg: expect.stringContaining(`kubelet pod-resources List() on ${socket} failed`) as unknown });
    expect(failed.json?.msg).toContain('kubelet says no');
    expectNothingLeft(p);
    kubelet?.failWith(undefined);

    await kubelet?.close();
    kubelet = undefined;
    writeFileSync(socket, ''); // a socket path nothing listens on
    const down = await cni('ADD', p);
    expect(down.json).toMatchObject({ code: 11, msg: expect.stringContaining(socket) as unknown });
    expectNothingLeft(p);
  });
});

describe('device IDs without the pod-resources socket, and from DRA', () => {
  it('falls back to kubelet\'s checkpoint, matching the pod by uid (NUMA map and old list form)', async () => {
    rmSync(socket, { force: true });
    deviceNad('ckpt-a', SRIOV);
    deviceNad('ckpt-b', 'example.com/legacy');
    const p = newPod('ckpt-pod', 'ckpt-a,ckpt-a,ckpt-b');
    writeFileSync(
      checkpoint,
      JSON.stringify({
        Data: {
          PodDeviceEntries: [
            { PodUID: 'someone-else', ContainerName: 'c', ResourceName: SRIOV, DeviceIDs: { '0': ['0000:00:00.0'] } },
            { PodUID: p.uid, ContainerName: 'c', ResourceName: SRIOV, DeviceIDs: { '1': ['0000:06:00.2'], '0': ['0000:06:00.1'] } },
            { PodUID: p.uid, ContainerName: 'c', ResourceName: 'example.com/legacy', DeviceIDs: ['legacy-7'] },
          ],
          RegisteredDevices: { [SRIOV]: ['0000:06:00.1', '0000:06:00.2'] },
        },
        Checksum: 1,
      }),
    );
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    const adds = callsOf(p).filter((c) => c.env.CNI_COMMAND === 'ADD' && c.conf.tag === undefined);
    expect(adds.map((c) => [c.env.CNI_IFNAME, c.conf.deviceID])).toEqual([
      ['eth0', undefined],
      ['net1', '0000:06:00.1'],
      ['net2', '0000:06:00.2'],
      ['net3', 'legacy-7'],
    ]);
    expect((await cni('DEL', p)).code).toBe(0);
    rmSync(checkpoint);
  });

  it('takes devices of the pod\'s ResourceClaims from their ResourceSlices; devices without the CNI attributes are skipped', async () => {
    const driver = 'dra.example.com';
    const attrs = (resourceName: string, deviceID: string): Record<string, unknown> => ({ 'k8s.cni.cncf.io/resourceName': { string: resourceName }, 'k8s.cni.cncf.io/deviceID': { string: deviceID } });
    cluster.api.createObject('resource.k8s.io', 'resourceslices', '', {
      metadata: { name: `${NODE}-dra` },
      spec: { driver, nodeName: NODE, pool: { name: NODE, generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'vf-2', attributes: attrs('dra.example.com/vf', '0000:07:00.2') }, { name: 'vf-1', attributes: attrs('dra.example.com/vf', '0000:07:00.1') }, { name: 'gpu-0', attributes: { model: { string: 'x' } } }] },
    });
    // Another driver's pool with devices of the same names must not be confused with ours.
    cluster.api.createObject('resource.k8s.io', 'resourceslices', '', {
      metadata: { name: 'other-driver' },
      spec: { driver: 'other.example.com', nodeName: NODE, pool: { name: NODE, generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'vf-1', attributes: attrs('dra.example.com/vf', 'wrong') }] },
    });
    const allocated = (claim: string, devices: string[]): void => {
      cluster.api.createObject('resource.k8s.io', 'resourceclaims', 'default', {
        metadata: { name: claim },
        spec: { devices: { requests: [{ name: 'vf' }] } },
        status: { allocation: { devices: { results: devices.map((device) => ({ request: 'vf', driver, pool: NODE, device })) } } },
      });
    };
    allocated('direct-claim', ['vf-2', 'gpu-0']);
    allocated('dra-pod-vf-x7k2p', ['vf-1']); // generated from a template; only the pod's status names it
    cluster.api.createNad('default', 'dra-net', JSON.stringify({ cniVersion: '1.0.0', name: 'dra-net', type: 'cni-record', recordFile }), { [RESOURCE_NAME]: 'dra.example.com/vf' });
    const p = newPod(
      'dra-pod',
      'dra-net,dra-net',
      { resourceClaims: [{ name: 'a', resourceClaimName: 'direct-claim' }, { name: 'b', resourceClaimTemplateName: 'vf-template' }] },
      { phase: 'Pending', resourceClaimStatuses: [{ name: 'b', resourceClaimName: 'dra-pod-vf-x7k2p' }] },
    );
    await until(() => cluster.api.getPod('default', 'dra-pod') !== undefined, 'the DRA pod');
    cluster.api.resetRequests();
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect(callsOf(p).filter((c) => c.env.CNI_COMMAND === 'ADD').map((c) => [c.env.CNI_IFNAME, c.conf.deviceID])).toEqual([
      ['eth0', undefined],
      ['net1', '0000:07:00.1'],
      ['net2', '0000:07:00.2'],
    ]);
    const dra = cluster.api.requests().filter((r) => r.path.startsWith('/apis/resource.k8s.io/'));
    expect(dra.map((r) => `${r.verb} ${r.resource} ${r.name ?? ''}`).sort()).toEqual(['get resourceclaims direct-claim', 'get resourceclaims dra-pod-vf-x7k2p', 'list resourceslices ']);
    // Only the allocating driver's slices are listed, not every slice of the cluster.
    expect(dra.find((r) => r.resource === 'resourceslices')?.query.fieldSelector).toBe(`spec.driver=${driver}`);
    const granted = new Set(API_ACCESS.flatMap((a) => a.verbs.map((v) => `${a.apiGroup}|${a.resource}|${v}`)));
    for (const r of dra) expect(granted).toContain(`resource.k8s.io|${r.resource}|${r.verb}`);
    expect((await cni('DEL', p)).code).toBe(0);
  });
});
