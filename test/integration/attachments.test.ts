import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin, reservations } from '../helpers/networks.js';
import { FIXTURE_PLUGINS } from '../helpers/paths.js';
import { podArgs, runShim, type ShimOutcome } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * Kubernetes-driven attachments end to end: pods and NADs in the in-repo API server, the daemon
 * reaching it through client-node and a kubeconfig, the built shim, real plugins, real netns.
 */
const host = new TestHost();
let cluster: TestCluster;
let clusterConf: string;
let clusterIpam: string;
let containers = 0;

const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';

beforeAll(async () => {
  cluster = await startTestCluster(host);
  const br = bridgePlugin(host, 30);
  clusterIpam = br.ipamDir;
  clusterConf = join(cluster.daemon.confDir, '10-cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', ...br.plugin, ipam: { ...(br.plugin.ipam as object), routes: [{ dst: '0.0.0.0/0' }] } }));
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

/** A bridge NAD on a run-unique bridge in 198.18.<octet>.0/24; returns the IPAM dir. */
function bridgeNad(namespace: string, name: string, octet: number, extra: Record<string, unknown> = {}): string {
  const br = bridgePlugin(host, octet);
  cluster.api.createNad(namespace, name, JSON.stringify({ cniVersion: '1.0.0', ...br.plugin, ...extra }));
  return br.ipamDir;
}

function addresses(netns: string, ifname: string): string {
  return host.inNetns(netns, '-4', '-br', 'addr', 'show', 'dev', ifname);
}

interface PodCall {
  namespace: string;
  name: string;
  uid: string;
  netns: { name: string; path: string };
  containerId: string;
  stdin: Record<string, unknown>;
}

function newPod(namespace: string, name: string, annotations: Record<string, string>, stdinExtra: Record<string, unknown> = {}): PodCall {
  const uid = cluster.pod(namespace, name, annotations);
  return { namespace, name, uid, netns: host.netns(), containerId: `${host.id}k${containers++}`.padEnd(64, 'b'), stdin: multusStdin(cluster.daemon.socketDir, clusterConf, stdinExtra) };
}

function cni(command: string, p: PodCall, extra: { uid?: string; netns?: string } = {}): Promise<ShimOutcome> {
  return runShim({ command, containerId: p.containerId, netns: extra.netns ?? p.netns.path, args: podArgs(p.namespace, p.name, extra.uid ?? p.uid, containers), stdin: p.stdin });
}

function networkStatus(p: PodCall): Array<Record<string, unknown>> {
  const pod = cluster.api.getPod(p.namespace, p.name) as { metadata: { annotations?: Record<string, string> } } | undefined;
  const value = pod?.metadata.annotations?.[NETWORK_STATUS];
  return value === undefined ? [] : (JSON.parse(value) as Array<Record<string, unknown>>);
}

/** The network-status annotation once written: it lands just after the ADD's answer. */
async function statusOf(p: PodCall, entries: number): Promise<Array<Record<string, unknown>>> {
  await until(() => networkStatus(p).length === entries, `${entries} network-status entries on ${p.name}`);
  return networkStatus(p);
}

describe('pods with extra networks', () => {
  it('comma form: eth0 + net1 + net2, network-status with three entries, no API reads (MN-11, MN-24, MN-28, MN-30, MN-38, MUL-2, MUL-9)', async () => {
    const ipamA = bridgeNad('default', 'net-a', 31);
    const ipamB = bridgeNad('default', 'net-b', 32);
    const p = newPod('default', 'web-1', { [NETWORKS]: 'net-a, default/net-b' });
    await cluster.cached();
    cluster.api.resetRequests();
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect((add.json?.ips as Array<{ address: string }>)[0]?.address).toMatch(/^198\.18\.30\./);
    expect(addresses(p.netns.name, 'eth0')).toContain('198.18.30.');
    expect(addresses(p.netns.name, 'net1')).toContain('198.18.31.');
    expect(addresses(p.netns.name, 'net2')).toContain('198.18.32.');

    const status = await statusOf(p, 3);
    await until(() => cluster.api.events('default').length > 0 && cluster.api.requests().some((r) => r.resource === 'events'), 'the AddedInterface event');
    expect(status.map((s) => [s.name, s.interface, s.default])).toEqual([
      ['cluster', 'eth0', true],
      ['default/net-a', 'net1', undefined],
      ['default/net-b', 'net2', undefined],
    ]);
    expect(status[1]?.ips).toEqual([expect.stringMatching(/^198\.18\.31\.\d+$/)]);
    const requests = cluster.api.requests().filter((r) => r.verb !== 'watch');
    expect(requests.filter((r) => ['get', 'list'].includes(r.verb))).toEqual([]);
    expect(requests.map((r) => `${r.verb} ${r.resource}${r.subresource === undefined ? '' : `/${r.subresource}`}`).sort()).toEqual(['create events', 'patch pods/status']);
    expect(requests.find((r) => r.verb === 'patch')?.contentType).toBe('application/merge-patch+json');
    const added = cluster.api.events('default') as unknown as Array<{ reason: string; message: string; involvedObject: { name: string } }>;
    expect(added.filter((e) => e.involvedObject.name === 'web-1').map((e) => e.reason)).toEqual(['AddedInterface']);

    cluster.api.resetRequests();
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    expect(cluster.api.requests().filter((r) => r.verb !== 'watch')).toEqual([]);
    for (const ifname of ['eth0', 'net1', 'net2']) expect(() => host.inNetns(p.netns.name, 'link', 'show', ifname)).toThrow();
    expect([...reservations(clusterIpam), ...reservations(ipamA), ...reservations(ipamB)]).toEqual([]);
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
  });

  it('JSON form with a requested interface name: same delegates as the comma form (MN-10, MN-13, MN-17a)', async () => {
    bridgeNad('default', 'net-c', 33);
    const p = newPod('default', 'web-2', { [NETWORKS]: '[{"name":"net-c","interface":"data0"},{"name":"net-c","namespace":""}]' });
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect(addresses(p.netns.name, 'data0')).toContain('198.18.33.');
    expect(addresses(p.netns.name, 'net2')).toContain('198.18.33.');
    expect((await statusOf(p, 3)).map((s) => s.interface)).toEqual(['eth0', 'data0', 'net2']);
    expect((await cni('DEL', p)).code).toBe(0);
  });

  it('rolls back when the second of three delegates fails: nothing left, the third never runs (MN-42, MN-43)', async () => {
    const ipamA = bridgeNad('default', 'rb-a', 34);
    cluster.api.createNad('default', 'rb-fail', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-fail' }));
    const ipamC = bridgeNad('default', 'rb-c', 35);
    const p = newPod('default', 'rollback', { [NETWORKS]: 'rb-a,rb-fail,rb-c' });
    const add = await cni('ADD', p);
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 117, msg: expect.stringContaining('default/rb-fail') });
    expect(host.inNetns(p.netns.name, 'link')).not.toMatch(/eth0|net1|net2|net3/);
    expect([...reservations(clusterIpam), ...reservations(ipamA), ...reservations(ipamC)]).toEqual([]);
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
    expect(existsSync(ipamC)).toBe(false); // rb-c's IPAM never ran
    expect((await cni('DEL', p)).code).toBe(0);
  });

  it('refuses an interface name clash before anything runs (MN-17b, MN-17c, MUL-2)', async () => {
    bridgeNad('default', 'clash', 36);
    for (const annotation of ['clash@eth0', '[{"name":"clash","interface":"x1"},{"name":"clash","interface":"x1"}]', 'clash@net2,clash']) {
      const p = newPod('default', `clash-${containers}`, { [NETWORKS]: annotation });
      const add = await cni('ADD', p);
      expect(add.json, annotation).toMatchObject({ code: 7, msg: expect.stringContaining('interface name') });
      expect(reservations(clusterIpam)).toEqual([]);
    }
  });

  it('a missing NAD fails the ADD with a clear message and a NoNetworkFound event', async () => {
    const p = newPod('default', 'lost', { [NETWORKS]: 'does-not-exist' });
    const add = await cni('ADD', p);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('cannot find a network-attachment-definition (does-not-exist) in namespace (default)') });
    // The event is posted alongside the failed ADD, not before its answer.
    const warnings = (): Array<{ reason: string; type: string }> => (cluster.api.events('default') as unknown as Array<{ reason: string; type: string; involvedObject: { name: string } }>).filter((e) => e.involvedObject.name === 'lost');
    await until(() => warnings().length > 0, 'the NoNetworkFound event');
    expect(warnings().map((e) => [e.type, e.reason])).toEqual([['Warning', 'NoNetworkFound']]);
    expect(reservations(clusterIpam)).toEqual([]);
  });

  it('an invalid annotation is refused, naming the annotation and the element (MN-6, NAD-12)', async () => {
    const p = newPod('default', 'bad-annotation', { [NETWORKS]: 'good,Bad_Name' });
    const add = await cni('ADD', p);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringMatching(/k8s\.v1\.cni\.cncf\.io\/networks.*Bad_Name/) });
  });

  it('v1.multus-cni.io/default-network replaces the cluster network on eth0 (MUL-1)', async () => {
    bridgeNad('kube-system', 'alt-default', 37);
    const p = newPod('default', 'alt', { 'v1.multus-cni.io/default-network': 'alt-default' });
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect(addresses(p.netns.name, 'eth0')).toContain('198.18.37.');
    expect(await statusOf(p, 1)).toEqual([expect.objectContaining({ name: 'kube-system/alt-default', interface: 'eth0', default: true })]);
    expect((await cni('DEL', p)).code).toBe(0);
  });

  it('namespace isolation allows the pod\'s namespace and globalNamespaces only (MN-45, MUL-4)', async () => {
    bridgeNad('other', 'iso', 38);
    const p = newPod('tenant', 'isolated', { [NETWORKS]: 'other/iso' }, { namespaceIsolation: true, globalNamespaces: 'default,shared' });
    const add = await cni('ADD', p);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('namespace isolation') });
    const allowed = newPod('tenant', 'allowed', { [NETWORKS]: 'other/iso' }, { namespaceIsolation: true, globalNamespaces: 'other' });
    expect((await cni('ADD', allowed)).code).toBe(0);
    expect((await cni('DEL', allowed)).code).toBe(0);
  });

  it('passes requested ips to a plugin that declares the capability, and refuses when none does (MN-15a, MN-15b)', async () => {
    const br = bridgePlugin(host, 39);
    cluster.api.createNad('default', 'static-ips', JSON.stringify({ cniVersion: '1.0.0', type: 'bridge', bridge: br.bridge, capabilities: { ips: true }, ipam: { type: 'static' } }));
    const p = newPod('default', 'fixed-ip', { [NETWORKS]: '[{"name":"static-ips","ips":["198.18.39.77/24"]}]' });
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect(addresses(p.netns.name, 'net1')).toContain('198.18.39.77/24');
    expect((await cni('DEL', p)).code).toBe(0);

    bridgeNad('default', 'no-ips-cap', 40);
    const refused = newPod('default', 'no-cap', { [NETWORKS]: '[{"name":"no-ips-cap","ips":["198.18.40.9/24"]}]' });
    expect((await cni('ADD', refused)).json).toMatchObject({ code: 7, msg: expect.stringContaining('"ips" capability') });
  });

  it('default-route moves the pod\'s default route to the chosen attachment, shown as gateway in network-status (MN-21a, MN-36, MUL-8)', async () => {
    bridgeNad('default', 'gw-net', 41);
    const p = newPod('default', 'gw', { [NETWORKS]: '[{"name":"gw-net","default-route":["198.18.41.1"]}]' });
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    const routes = host.inNetns(p.netns.name, '-4', 'route', 'show', 'default');
    expect(routes).toContain('via 198.18.41.1 dev net1');
    expect(routes).not.toContain('eth0');
    expect((await statusOf(p, 2))[1]).toMatchObject({ name: 'default/gw-net', gateway: ['198.18.41.1'] });
    expect((await cni('DEL', p)).code).toBe(0);
  });

  it('finds a NAD created just before its pod', async () => {
    bridgeNad('default', 'fresh', 42);
    const p = newPod('default', 'fresh-pod', { [NETWORKS]: 'fresh' });
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect((await cni('DEL', p)).code).toBe(0);
  });

  it('a pod re-created with the same name and a new uid: the stale sandbox is refused, the new one works (upstream #773)', async () => {
    const p = newPod('default', 'reborn', {});
    const oldUid = p.uid;
    cluster.api.deletePod('default', 'reborn');
    const newUid = cluster.pod('default', 'reborn', {});
    const stale = await cni('ADD', p, { uid: oldUid });
    expect(stale.json).toMatchObject({ msg: expect.stringContaining('expected pod UID') });
    const fresh = await cni('ADD', { ...p, containerId: `${host.id}reborn`.padEnd(64, 'c') }, { uid: newUid });
    expect(fresh.code, fresh.stdout).toBe(0);
    expect((await cni('DEL', { ...p, containerId: `${host.id}reborn`.padEnd(64, 'c') }, { uid: newUid })).code).toBe(0);
  });

  it('delegates get exactly: name and version injected, cni-args merged, no kubelet runtimeConfig on secondaries, same tuple on DEL, unknown keys passed through (MN-18, MN-25, MN-41, MN-46, CNI-3, CNI-19)', async () => {
    const recordFile = join(host.dir, 'record.jsonl');
    cluster.api.createNad('default', 'recorded', JSON.stringify({
      cniVersion: '1.0.0',
      name: 'rec-net',
      plugins: [{ type: 'cni-record', recordFile, address: '198.18.43.5/24', capabilities: { portMappings: true }, args: { cni: { a: '1', b: '1' } } }, { type: 'cni-record', cniVersion: '0.3.1', name: 'zz', recordFile }],
    }));
    const stdinExtra = { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, binDir: FIXTURE_PLUGINS };
    const p = newPod('default', 'recorded-pod', { [NETWORKS]: '[{"name":"recorded","cni-args":{"b":"2","c":"3"}}]' }, stdinExtra);
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect((await cni('DEL', p)).code).toBe(0);
    const calls = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { env: Record<string, string>; conf: Record<string, unknown> });
    expect(calls.map((c) => c.env.CNI_COMMAND)).toEqual(['ADD', 'ADD', 'DEL', 'DEL']);
    for (const c of calls) {
      expect(c.conf).toMatchObject({ name: 'rec-net', cniVersion: '1.0.0', args: expect.anything() as unknown });
      expect(c.conf.runtimeConfig).toBeUndefined();
      expect([c.env.CNI_CONTAINERID, c.env.CNI_IFNAME]).toEqual([p.containerId, 'net1']);
      expect(c.conf.recordFile).toBe(recordFile);
      expect(c.env.CNI_PATH?.split(':')).toContain(FIXTURE_PLUGINS);
    }
    expect((calls[0]?.conf.args as { cni: unknown }).cni).toEqual({ a: '1', b: '2', c: '3' });
    expect(calls[1]?.conf.prevResult).toMatchObject({ ips: [{ address: '198.18.43.5/24' }] });
  });
});

describe('CNI 1.1 GC and STATUS across attachments', () => {
  it('GC releases every attachment of a container the runtime no longer lists, not only the cluster network (CNI-12)', async () => {
    const ipamA = bridgeNad('default', 'gc-net', 45);
    const stale = newPod('default', 'gc-stale', { [NETWORKS]: 'gc-net' }, { cniVersion: '1.1.0' });
    const kept = newPod('default', 'gc-kept', { [NETWORKS]: 'gc-net' }, { cniVersion: '1.1.0' });
    for (const p of [stale, kept]) expect((await cni('ADD', p)).code).toBe(0);
    expect(reservations(ipamA)).toHaveLength(2);
    const gc = await runShim({ command: 'GC', stdin: { ...kept.stdin, 'cni.dev/valid-attachments': [{ containerID: kept.containerId, ifname: 'eth0' }] } });
    expect(gc.code, gc.stdout).toBe(0);
    expect(reservations(ipamA)).toHaveLength(1);
    expect(() => host.inNetns(stale.netns.name, 'link', 'show', 'net1')).toThrow();
    expect(addresses(kept.netns.name, 'net1')).toContain('198.18.45.');
    expect(existsSync(join(cluster.daemon.cniDir, stale.containerId))).toBe(false);
    const status = await runShim({ command: 'STATUS', stdin: kept.stdin });
    expect(status.code, status.stdout).toBe(0);
    expect((await cni('DEL', kept)).code).toBe(0);
    expect(reservations(ipamA)).toEqual([]);
  });

  it('GC releases attachments only the result cache remembers (delegate cache lost, or a DEL given up)', async () => {
    const ipamB = bridgeNad('default', 'gc-orphan-net', 46);
    const p = newPod('default', 'gc-orphan', { [NETWORKS]: 'gc-orphan-net' }, { cniVersion: '1.1.0' });
    expect((await cni('ADD', p)).code).toBe(0);
    // What a crash that lost the delegate cache leaves (or a DEL given up, del-failures.test.ts):
    // no delegate cache, so the runtime's DEL has nothing to do, and the IPs stay reserved.
    rmSync(join(cluster.daemon.cniDir, p.containerId));
    expect((await cni('DEL', p)).code).toBe(0);
    expect(reservations(ipamB)).toHaveLength(1);
    const results = (): string[] => readdirSync(join(cluster.daemon.cniDir, 'results')).filter((f) => f.includes(p.containerId));
    expect(results()).toHaveLength(2);
    const gc = await runShim({ command: 'GC', stdin: { ...p.stdin, 'cni.dev/valid-attachments': [] } });
    expect(gc.code, gc.stdout).toBe(0);
    expect(reservations(ipamB)).toEqual([]);
    expect(results()).toEqual([]);
    // The recorded netns still existed, so the interface went too.
    expect(() => host.inNetns(p.netns.name, 'link', 'show', 'net1')).toThrow();
  });
});

describe('when the API server goes away', () => {
  it('ADD of a known pod still attaches its networks, and DEL needs no API at all', async () => {
    bridgeNad('default', 'outage-net', 44);
    const p = newPod('default', 'outage', { [NETWORKS]: 'outage-net' });
    await cluster.cached();
    await cluster.api.close();
    const add = await cni('ADD', p);
    expect(add.code, add.stdout).toBe(0);
    expect(addresses(p.netns.name, 'net1')).toContain('198.18.44.');
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    expect(() => host.inNetns(p.netns.name, 'link', 'show', 'net1')).toThrow();
    expect(reservations(clusterIpam)).toEqual([]);
  });
});
