import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { DAEMON, DEBIAN_PLUGINS, FIXTURE_PLUGINS } from '../helpers/paths.js';
import { podArgs, runShim } from '../helpers/shim.js';

/**
 * `multus-daemon explain` (issue 17): pods with each kind of mistake are explained, by the
 * running daemon (-socket) and in a process of its own (-config), and then really added through
 * the shim: the verdict must be what the ADD then does, and explain must have run nothing and
 * written nothing.
 */
const run = promisify(execFile);
const host = new TestHost();
let cluster: TestCluster;
let recordFile: string;
let configPath: string;

beforeAll(async () => {
  recordFile = join(host.dir, 'calls.jsonl');
  writeFileSync(recordFile, '');
  const clusterNetwork = join(host.dir, 'explain-cluster.conf');
  writeFileSync(clusterNetwork, JSON.stringify({ cniVersion: '1.0.0', name: 'explain-cluster', type: 'cni-record', recordFile }));
  // The node's config names the cluster network itself: explain plans with it as the ADD does.
  cluster = await startTestCluster(host, { clusterNetwork, cniConfigDir: join(host.dir, 'no-net.d'), binDir: FIXTURE_PLUGINS });
  configPath = join(host.dir, 'daemon-config.json');
  const nad = (ns: string, name: string, conf: Record<string, unknown>): void => {
    cluster.api.createNad(ns, name, JSON.stringify({ cniVersion: '1.0.0', name, ...conf }));
  };
  nad('default', 'blue', { type: 'cni-record', recordFile });
  nad('default', 'green', { plugins: [{ type: 'cni-record', recordFile }, { type: 'cni-record', recordFile, capabilities: { mac: true } }] });
  nad('other', 'elsewhere', { type: 'cni-record', recordFile });
  nad('default', 'missing-binary', { type: 'cni-not-installed' });
  nad('default', 'pathy', { type: '../../bin/true' });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function explain(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [DAEMON, 'explain', ...args], { env: { PATH: process.env.PATH ?? '', CNI_PATH: DEBIAN_PLUGINS } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Explain through the running daemon, as JSON. */
async function viaDaemon(namespace: string, name: string): Promise<{ code: number; report: { verdict: string; attachments: Array<{ ifname: string; network: string; plugins: Array<{ type: string; binary?: string }> }>; errors: Array<{ rule: string; code: number; message: string; fix: string }>; warnings: Array<{ rule: string }> } }> {
  const out = await explain('-socket', cluster.daemon.socketDir, '-o', 'json', `${namespace}/${name}`);
  return { code: out.code, report: JSON.parse(out.stdout) as never };
}

let seq = 0;
async function addThroughShim(namespace: string, name: string, uid: string): Promise<{ code: number; msg?: string }> {
  const call = { command: 'ADD', containerId: host.name(`ex${seq++}`), netns: host.netns().path, args: podArgs(namespace, name, uid), stdin: multusStdin(cluster.daemon.socketDir, join(host.dir, 'explain-cluster.conf')) };
  const add = await runShim(call);
  if (add.code === 0) await runShim({ ...call, command: 'DEL' });
  const msg = add.json?.msg;
  return { code: add.code, ...(typeof msg === 'string' ? { msg } : {}) };
}

describe('multus-daemon explain', () => {
  it('a good pod: every attachment in order with its plugins found, exit 0; the ADD then succeeds; explain ran nothing and wrote nothing', async () => {
    const uid = cluster.pod('default', 'good', { 'k8s.v1.cni.cncf.io/networks': 'blue,green@data' });
    await cluster.cached();
    cluster.api.resetRequests();
    const text = await explain('-socket', cluster.daemon.socketDir, 'default/good');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/eth0[\s\S]*explain-cluster[\s\S]*net1[\s\S]*default\/blue[\s\S]*data[\s\S]*default\/green/);
    const { code, report } = await viaDaemon('default', 'good');
    expect(code).toBe(0);
    expect(report.verdict).toBe('ok');
    expect(report.attachments.map((a) => [a.ifname, a.network])).toEqual([['eth0', 'explain-cluster'], ['net1', 'default/blue'], ['data', 'default/green']]);
    expect(report.attachments[2]?.plugins.map((p) => p.binary)).toEqual([join(FIXTURE_PLUGINS, 'cni-record'), join(FIXTURE_PLUGINS, 'cni-record')]);
    // Read only: no plugin ran, no write reached the API server.
    expect(readFileSync(recordFile, 'utf8')).toBe('');
    expect(cluster.api.requests().filter((r) => !['get', 'list', 'watch'].includes(r.verb))).toEqual([]);
    expect(await addThroughShim('default', 'good', uid)).toMatchObject({ code: 0 });
  });

  it.each([
    ['a NAD in another namespace', { 'k8s.v1.cni.cncf.io/networks': 'elsewhere' }, 'nad-not-found', /other/],
    ['a plugin missing from every bin dir', { 'k8s.v1.cni.cncf.io/networks': 'missing-binary' }, 'plugin-not-found', /cni-not-installed/],
    ['a plugin type that is a path', { 'k8s.v1.cni.cncf.io/networks': 'pathy' }, 'plugin-type-refused', /bare file name/],
    ['an annotation that is not valid', { 'k8s.v1.cni.cncf.io/networks': '[{"name": "blue"' }, 'annotation-invalid', /JSON list/],
    ['two attachments asking for one interface name', { 'k8s.v1.cni.cncf.io/networks': 'blue@same,green@same' }, 'interface-name-clash', /same/],
    ['two default-route gateways of one family', { 'k8s.v1.cni.cncf.io/networks': '[{"name":"blue","default-route":["10.1.1.1"]},{"name":"green","default-route":["10.2.2.1"]}]' }, 'default-route-ecmp', /at most one IPv4/],
  ])('%s: exit 1 with the rule and a fix; the ADD then fails the same way', async (_what, annotations, rule, fix) => {
    const name = `bad-${rule}`;
    const uid = cluster.pod('default', name, annotations);
    await cluster.cached();
    const { code, report } = await viaDaemon('default', name);
    expect(code).toBe(1);
    expect(report.verdict).toBe('fail');
    expect(report.errors.map((e) => e.rule)).toEqual([rule]);
    expect(report.errors[0]?.fix).toMatch(fix);
    // Explain ran nothing for this pod; the ADD below does (the cluster network, before it fails).
    expect(readFileSync(recordFile, 'utf8').split('\n').filter((l) => l.includes(name))).toEqual([]);
    const add = await addThroughShim('default', name, uid);
    expect(add.code).toBe(1);
    // The same error: explain shows the ADD's own message.
    expect(add.msg).toContain(report.errors[0]?.message.replace(/^network "[^"]+": /, '').slice(0, 40));
  });

  it('warns about an annotation key that Multus does not read', async () => {
    cluster.pod('default', 'typo', { 'k8s.v1.cni.cncf.io/network': 'blue' });
    await cluster.cached();
    const { code, report } = await viaDaemon('default', 'typo');
    expect(code).toBe(0);
    expect(report.warnings.map((w) => w.rule)).toContain('annotation-key-typo');
  });

  it('explains a manifest that does not exist yet, in a process of its own with the node\'s config (-config, -f)', async () => {
    writeFileSync(configPath, JSON.stringify({ ...(JSON.parse(readFileSync(join(host.dir, 'daemon-config.json'), 'utf8')) as Record<string, unknown>) }));
    const manifest = join(host.dir, 'pod.yaml');
    writeFileSync(manifest, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: future\n  namespace: default\n  annotations:\n    k8s.v1.cni.cncf.io/networks: elsewhere\n');
    const out = await explain('-config', configPath, '-f', manifest);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toContain('nad-not-found');
  });

  it('a pod running on this node: its sandbox\'s attachments and network-status beside the plan, and the drift (annotation changed since, an IP with no attachment)', async () => {
    const uid = cluster.pod('default', 'running', { 'k8s.v1.cni.cncf.io/networks': 'blue' });
    await cluster.cached();
    const call = { command: 'ADD', containerId: host.name('running'), netns: host.netns().path, args: podArgs('default', 'running', uid), stdin: multusStdin(cluster.daemon.socketDir, join(host.dir, 'explain-cluster.conf')) };
    expect((await runShim(call)).code).toBe(0);
    try {
      type Attached = { sandboxes: Array<{ containerId: string; networks: Array<{ network: string; ifname?: string; started: boolean }> }>; networkStatus: Array<{ name: string }> | null; drift: Array<{ rule: string; message: string }> };
      const now = async (): Promise<Attached> => ((await viaDaemon('default', 'running')).report as unknown as { attached: Attached }).attached;
      const before = await now();
      expect(before.sandboxes.map((sb) => [sb.containerId, sb.networks.map((n) => [n.network, n.ifname, n.started])])).toEqual([[call.containerId, [['explain-cluster', 'eth0', true], ['default/blue', 'net1', true]]]]);
      expect(before.drift).toEqual([]);
      // The annotation edited after the pod started (the same pod: same uid), and an IP the
      // result cache remembers for a network no attachment has (what a given-up DEL leaves).
      cluster.api.deletePod('default', 'running');
      cluster.api.createPod({ metadata: { namespace: 'default', name: 'running', uid, annotations: { 'k8s.v1.cni.cncf.io/networks': 'green' } }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } });
      await cluster.cached();
      const results = join(cluster.daemon.cniDir, 'results');
      const blue = readdirSync(results).find((f) => f.startsWith('blue-')) ?? '';
      const stray = JSON.parse(readFileSync(join(results, blue), 'utf8')) as { networkName: string; result: { ips?: unknown[] } };
      writeFileSync(join(results, blue.replace(/^blue-/, 'gone-')), JSON.stringify({ ...stray, networkName: 'gone', result: { ...stray.result, ips: [{ address: '198.51.100.7/24' }] } }));
      const after = await now();
      expect(after.drift.map((d) => d.rule).sort()).toEqual(['attached-not-planned', 'planned-not-attached', 'result-without-attachment']);
      expect(after.drift.find((d) => d.rule === 'result-without-attachment')?.message).toContain('198.51.100.7/24');
      const text = await explain('-socket', cluster.daemon.socketDir, 'default/running');
      expect(text.stdout).toContain('attached now on this node:');
      expect(text.stdout).toContain('[attached-not-planned]');
    } finally {
      await runShim({ ...call, command: 'DEL' });
    }
  });

  it('exit 2 when explain itself cannot tell: no such pod, a bad argument', async () => {
    const missing = await explain('-socket', cluster.daemon.socketDir, 'default/nobody');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('not found');
    const bad = await explain('-o', 'yaml', 'default/good');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-o must be text or json');
  });
});
