import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { API_ACCESS } from '../../src/k8s/api-access.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * Ordering and serialisation, observed through a recording plugin: the cluster network first,
 * one pod's operations never overlap, different pods run in parallel. No netns needed: the
 * recording plugin only records.
 */
const host = new TestHost();
let cluster: TestCluster;
let recordFile: string;
let clusterConf: string;

interface Call {
  env: Record<string, string>;
  conf: Record<string, unknown>;
  start: number;
  end: number;
}

beforeAll(async () => {
  cluster = await startTestCluster(host, {}, { MULTUS_READINESS_TIMEOUT_MS: '600' });
  recordFile = join(host.dir, 'calls.jsonl');
  clusterConf = join(cluster.daemon.confDir, 'cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', recordFile, sleepMs: 150, address: '198.18.50.2/24' }));
  for (const name of ['o-a', 'o-b']) {
    cluster.api.createNad('default', name, JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record', recordFile, sleepMs: 150 }));
  }
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

function calls(): Call[] {
  return readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Call);
}

function call(command: string, pod: string, cid: string, extra: Record<string, unknown> = {}) {
  return runShim({ command, containerId: cid, netns: '/var/run/netns/none', args: podArgs('default', pod), stdin: multusStdin(cluster.daemon.socketDir, clusterConf, extra) });
}

describe('ordering', () => {
  it('attaches the cluster network first, then the annotation networks in order; DEL in reverse (MN-38, MN-40, MUL-10)', async () => {
    writeFileSync(recordFile, '');
    cluster.pod('default', 'ordered', { 'k8s.v1.cni.cncf.io/networks': 'o-b,o-a' });
    const add = await call('ADD', 'ordered', 'ordered1');
    expect(add.code, add.stdout).toBe(0);
    expect(add.json).toMatchObject({ ips: [{ address: '198.18.50.2/24' }] });
    expect((await call('DEL', 'ordered', 'ordered1')).code).toBe(0);
    expect(calls().map((c) => `${c.env.CNI_COMMAND} ${String(c.conf.name)} ${c.env.CNI_IFNAME}`)).toEqual([
      'ADD cluster eth0', 'ADD o-b net1', 'ADD o-a net2', 'DEL o-a net2', 'DEL o-b net1', 'DEL cluster eth0',
    ]);
  });

  it('never overlaps two operations of one pod, even when ADD and DEL arrive together (MN-44, CNI-13)', async () => {
    writeFileSync(recordFile, '');
    cluster.pod('default', 'busy', { 'k8s.v1.cni.cncf.io/networks': 'o-a' });
    const outcomes = await Promise.all([call('ADD', 'busy', 'busy1'), call('DEL', 'busy', 'busy1'), call('ADD', 'busy', 'busy2'), call('DEL', 'busy', 'busy2')]);
    expect(outcomes.map((o) => o.code)).toEqual([0, 0, 0, 0]);
    const spans = calls().sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) expect(spans[i]?.start ?? 0).toBeGreaterThanOrEqual(spans[i - 1]?.end ?? 0);
  });

  it('runs different pods in parallel', async () => {
    writeFileSync(recordFile, '');
    for (const name of ['p1', 'p2', 'p3']) cluster.pod('default', name, {});
    const outcomes = await Promise.all(['p1', 'p2', 'p3'].map((p) => call('ADD', p, `${p}cid`)));
    expect(outcomes.map((o) => o.code)).toEqual([0, 0, 0]);
    const spans = calls();
    const overlapping = spans.some((a) => spans.some((b) => a !== b && a.start < b.end && b.start < a.end));
    expect(overlapping).toBe(true);
  });

  it('waits for the readiness indicator file, then fails clearly when it never comes (MN-39)', async () => {
    cluster.pod('default', 'early', {});
    const indicator = join(host.dir, 'default-network-ready');
    const waiting = call('ADD', 'early', 'early1', { readinessindicatorfile: indicator });
    // An indicator that appears late is the behaviour under test, not a synchronisation.
    setTimeout(() => writeFileSync(indicator, ''), 200);
    expect((await waiting).code).toBe(0);
    const never = await call('ADD', 'early', 'early2', { readinessindicatorfile: join(host.dir, 'never') });
    expect(never.json).toMatchObject({ code: 11, msg: expect.stringContaining('have you checked that your default network is ready') });
  });

  it('ADD for a pod that no longer exists succeeds with an empty result and runs nothing (upstream §3.3)', async () => {
    writeFileSync(recordFile, '');
    const add = await call('ADD', 'never-created', 'ghost1');
    expect(add.code, add.stdout).toBe(0);
    expect(add.json).toMatchObject({ interfaces: [{ name: 'eth0' }], ips: [{ address: '0.0.0.0/0' }] });
    expect(readFileSync(recordFile, 'utf8')).toBe('');
    expect((await call('DEL', 'never-created', 'ghost1')).code).toBe(0);
  });

  it('clusterNetwork and defaultNetworks may name NADs in multusNamespace; systemNamespaces get no defaultNetworks (upstream §4.3)', async () => {
    writeFileSync(recordFile, '');
    for (const name of ['nad-cluster', 'nad-extra']) {
      cluster.api.createNad('kube-system', name, JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record', recordFile, address: '198.18.51.2/24' }));
    }
    const stdin = { ...multusStdin(cluster.daemon.socketDir, 'nad-cluster'), defaultNetworks: ['nad-extra'] };
    cluster.pod('default', 'with-defaults', {});
    cluster.pod('kube-system', 'system-pod', {});
    for (const [ns, pod] of [['default', 'with-defaults'], ['kube-system', 'system-pod']]) {
      const add = await runShim({ command: 'ADD', containerId: `${pod}1`, netns: '/var/run/netns/none', args: podArgs(ns as string, pod as string), stdin });
      expect(add.code, add.stdout).toBe(0);
    }
    expect(calls().map((c) => `${c.env.CNI_ARGS?.match(/K8S_POD_NAME=([^;]+)/)?.[1] ?? ''} ${String(c.conf.name)} ${c.env.CNI_IFNAME}`)).toEqual([
      'with-defaults nad-cluster eth0', 'with-defaults nad-extra net1', 'system-pod nad-cluster eth0',
    ]);
    const annotation = (): string | undefined => (cluster.api.getPod('default', 'with-defaults') as { metadata: { annotations: Record<string, string> } }).metadata.annotations['k8s.v1.cni.cncf.io/network-status'];
    await until(() => annotation() !== undefined, 'the network-status annotation');
    const status = JSON.parse(annotation() ?? '[]') as Array<{ name: string }>;
    expect(status.map((e) => e.name)).toEqual(['kube-system/nad-cluster', 'kube-system/nad-extra']);
  });

  it('turns every selection key into runtimeConfig for the plugins declaring it, plus MAC=/IP= CNI_ARGS (MN-15a, MN-16, MN-19, MN-20, MN-22, MUL-6)', async () => {
    writeFileSync(recordFile, '');
    const caps = { ips: true, mac: true, portMappings: true, bandwidth: true, infinibandGUID: true, deviceID: true };
    cluster.api.createNad('default', 'all-caps', JSON.stringify({ cniVersion: '1.0.0', plugins: [{ type: 'cni-record', recordFile, capabilities: caps }, { type: 'cni-record', recordFile }] }));
    const selection = { name: 'all-caps', ips: ['198.18.52.7/24'], mac: '02:23:45:67:89:01', 'infiniband-guid': '24:8a:07:03:00:8d:ae:2f', portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 2048, ingressBurst: 300 }, deviceID: '0000:03:00.1' };
    cluster.pod('default', 'all-keys', { 'k8s.v1.cni.cncf.io/networks': JSON.stringify([selection]) });
    const add = await call('ADD', 'all-keys', 'allkeys1');
    expect(add.code, add.stdout).toBe(0);
    const [withCaps, without] = calls().filter((c) => c.conf.name === 'all-caps');
    expect(withCaps?.conf.runtimeConfig).toEqual({ ips: selection.ips, mac: selection.mac, infinibandGUID: selection['infiniband-guid'], portMappings: selection.portMappings, bandwidth: selection.bandwidth, deviceID: selection.deviceID });
    expect(without?.conf.runtimeConfig).toBeUndefined();
    expect(withCaps?.env.CNI_ARGS).toContain('MAC=02:23:45:67:89:01');
    expect(withCaps?.env.CNI_ARGS).toContain('IP=198.18.52.7/24');
    const clusterCall = calls().find((c) => c.conf.name === 'cluster');
    expect(clusterCall?.env.CNI_ARGS).not.toContain('MAC=');
  });

  it('reuses one keep-alive connection for its API writes', async () => {
    cluster.pod('default', 'keepalive', {});
    await cluster.cached();
    const before = cluster.api.connections();
    for (let i = 0; i < 5; i++) expect((await call('ADD', 'keepalive', `keepalive${i}`)).code).toBe(0);
    expect(cluster.api.connections() - before).toBeLessThanOrEqual(1);
  });

  it('a static pod is not refused for a uid the API server does not know (upstream #773)', async () => {
    cluster.pod('default', 'static-web', { 'kubernetes.io/config.source': 'file' });
    const add = await runShim({ command: 'ADD', containerId: 'static1', netns: '/var/run/netns/none', args: podArgs('default', 'static-web', 'mirror-uid-differs'), stdin: multusStdin(cluster.daemon.socketDir, clusterConf) });
    expect(add.code, add.stdout).toBe(0);
  });

  it('GC deletes a stale container inside its pod\'s mailbox, never beside the runtime\'s own DEL of it', async () => {
    writeFileSync(recordFile, '');
    cluster.pod('default', 'gc-race', { 'k8s.v1.cni.cncf.io/networks': 'o-a' });
    expect((await call('ADD', 'gc-race', 'gcrace1')).code).toBe(0);
    // The runtime's DEL and a GC that no longer lists the container, sent together.
    const gcStdin = { ...multusStdin(cluster.daemon.socketDir, clusterConf), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] };
    const [del, gc] = await Promise.all([call('DEL', 'gc-race', 'gcrace1'), runShim({ command: 'GC', stdin: gcStdin })]);
    expect([del.code, gc.code], `${del.stdout} ${gc.stdout}`).toEqual([0, 0]);
    const dels = calls().filter((c) => c.env.CNI_CONTAINERID === 'gcrace1' && c.env.CNI_COMMAND === 'DEL').sort((a, b) => a.start - b.start);
    // Whichever came first deleted both networks; the other found nothing left to do.
    expect(dels.map((c) => c.env.CNI_IFNAME)).toEqual(['net1', 'eth0']);
    expect(dels[1]?.start ?? 0).toBeGreaterThanOrEqual(dels[0]?.end ?? 0);
  });

  it('a shim that gives up mid-ADD stops the ADD at its next step: the rest never runs, what ran is rolled back', async () => {
    writeFileSync(recordFile, '');
    cluster.pod('default', 'gives-up', { 'k8s.v1.cni.cncf.io/networks': 'o-b,o-a' });
    // Each delegate takes 150 ms or more: the shim leaves before the third one.
    const add = await runShim({ command: 'ADD', containerId: 'givesup1', netns: '/var/run/netns/none', args: podArgs('default', 'gives-up'), stdin: multusStdin(cluster.daemon.socketDir, clusterConf), env: { MULTUS_SHIM_TIMEOUT_MS: '250' } });
    expect(add.json, add.stdout).toMatchObject({ code: 11 });
    const ofSandbox = (): string[] => calls().filter((c) => c.env.CNI_CONTAINERID === 'givesup1').map((c) => `${c.env.CNI_COMMAND} ${c.env.CNI_IFNAME}`);
    // The daemon logs the request's outcome once it has stopped and rolled back.
    const failed = (): Array<Record<string, unknown>> => cluster.daemon.logs().filter((l) => l.sandbox === 'givesup1' && l.msg === 'CNI request failed');
    await until(() => failed().length > 0, 'the stopped ADD');
    expect(JSON.stringify(failed())).toContain('disconnected before the answer');
    const runs = ofSandbox();
    const added = runs.filter((r) => r.startsWith('ADD')).map((r) => r.slice(4));
    expect(added.length, runs.join(', ')).toBeLessThan(3);
    expect(runs).toEqual([...added.map((i) => `ADD ${i}`), ...[...added].reverse().map((i) => `DEL ${i}`)]);
    expect(existsSync(join(cluster.daemon.cniDir, 'givesup1'))).toBe(false);
  });

  it('sent the API server only requests the ClusterRole grants (src/k8s/api-access.ts)', () => {
    const granted = new Set(API_ACCESS.flatMap((a) => a.verbs.map((v) => `${a.resource}|${v}`)));
    const sent = cluster.api.requests().map((r) => `${r.resource}${r.subresource === undefined ? '' : `/${r.subresource}`}|${r.verb}`);
    expect(sent.length).toBeGreaterThan(10);
    for (const request of new Set(sent)) expect(granted, request).toContain(request);
  });
});
