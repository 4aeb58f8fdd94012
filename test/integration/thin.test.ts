import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FakeApiServer } from '../apiserver/server.js';
import { writeKubeconfig } from '../apiserver/kubeconfig.js';
import { NODE } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, reservations } from '../helpers/networks.js';
import { readJsonLines } from '../helpers/daemon.js';
import { pollUntil } from '../../src/util/poll.js';
import { DAEMON, DEBIAN_PLUGINS, ROOT } from '../helpers/paths.js';
import { podArgs, runShim, type CniCall } from '../helpers/shim.js';

/**
 * The thin plugin (`multus`) as a runtime runs it: installed by `multus-daemon install -t thin`
 * into a CNI bin dir, executed per call with the config on stdin, no daemon anywhere. It plans
 * from the in-repo API server through its kubeconfig and runs Debian's plugins in real netns.
 */
const host = new TestHost();
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
let api: FakeApiServer;
let binDir: string;
let multus: string;
let kubeconfig: string;
let cniDir: string;
let clusterConf: string;
let clusterIpam: string;
/** test/fixtures/c/nonblocking-stdio.c, built: runs a program with its stdin and stdout non-blocking. */
let nonblockingStdio: string;

beforeAll(async () => {
  binDir = join(host.dir, 'bin');
  execFileSync('node', [DAEMON, 'install', '-t', 'thin', '-d', binDir]);
  multus = join(binDir, 'multus');
  api = await FakeApiServer.start();
  kubeconfig = join(host.dir, 'multus.kubeconfig');
  writeKubeconfig(kubeconfig, api.url);
  cniDir = join(host.dir, 'cni');
  const br = bridgePlugin(host, 120);
  clusterIpam = br.ipamDir;
  clusterConf = join(host.dir, '10-cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', ...br.plugin }));
  nonblockingStdio = join(host.dir, 'nonblocking-stdio');
  execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', nonblockingStdio, join(ROOT, 'test/fixtures/c/nonblocking-stdio.c')]);
}, 60_000);

afterAll(async () => {
  await api?.close();
  host.cleanup();
});

/** 00-multus.conf as the thin entrypoint writes it. */
function thinConf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig, clusterNetwork: clusterConf, cniDir, binDir: DEBIAN_PLUGINS, ...extra };
}

function call(c: CniCall): ReturnType<typeof runShim> {
  return runShim({ ...c, env: { CNI_PATH: `${binDir}:${DEBIAN_PLUGINS}`, ...c.env } }, multus);
}

describe('thin plugin', () => {
  it('is installed with its own runtime beside a launcher', () => {
    expect(statSync(multus).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(binDir, 'multus-ts')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(binDir, 'multus-ts', 'node'))).toBe(true);
    expect(statSync(join(binDir, 'multus-ts', 'multus-spawner')).mode & 0o111).toBe(0o111);
    // The bundle carries its dependencies (client-node included): no node_modules on the host.
    expect(existsSync(join(binDir, 'multus-ts', 'multus.mjs'))).toBe(true);
    expect(existsSync(join(binDir, 'multus-ts', 'node_modules'))).toBe(false);
    expect(existsSync(join(binDir, 'passthru'))).toBe(true);
  });

  it('swaps a reinstall in by one rename of the multus-ts symlink and removes only the tree it replaced', async () => {
    const dir = join(host.dir, 'reinstall');
    const runtimes = (): string[] => readdirSync(dir).filter((e) => e.startsWith('.multus-ts'));
    const install = (): void => void execFileSync('node', [DAEMON, 'install', '-t', 'thin', '-d', dir]);
    // A release before the symlink installed a real directory: it is moved aside once and removed.
    mkdirSync(join(dir, 'multus-ts'), { recursive: true });
    writeFileSync(join(dir, 'multus-ts', 'node'), 'an old runtime');
    install();
    const first = readlinkSync(join(dir, 'multus-ts'));
    expect(first).toMatch(/^\.multus-ts-[0-9a-f]{12}$/);
    expect(runtimes()).toEqual([first]);
    install();
    const second = readlinkSync(join(dir, 'multus-ts'));
    expect(second).not.toBe(first);
    expect(runtimes()).toEqual([second]);
    const version = await runShim({ command: 'VERSION', stdin: '{"cniVersion":"1.0.0"}' }, join(dir, 'multus'));
    expect(version.code, version.stderr).toBe(0);
    // A multus-ts someone pointed elsewhere is replaced, and what it named is left alone.
    const own = join(host.dir, 'own-runtime');
    mkdirSync(own);
    symlinkSync(own, join(dir, 'own-link'));
    renameSync(join(dir, 'own-link'), join(dir, 'multus-ts'));
    install();
    expect(existsSync(own)).toBe(true);
    // The tree nothing named any more stays too: an install removes only the one it replaces.
    expect(runtimes().sort()).toEqual([second, readlinkSync(join(dir, 'multus-ts'))].sort());
  });

  it('runs on the project\'s Node.js line, with a compile cache only root can write', () => {
    const node = join(binDir, 'multus-ts', 'node');
    expect(execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toBe(process.versions.node);
    expect(statSync(join(binDir, 'multus-ts', 'compile-cache')).mode & 0o777).toBe(0o700);
  });

  it('answers VERSION without reading a config', async () => {
    const out = await call({ command: 'VERSION', stdin: '{"cniVersion":"1.0.0"}' });
    expect(out.code).toBe(0);
    expect(out.json).toMatchObject({ cniVersion: '1.1.0', supportedVersions: expect.arrayContaining(['0.3.1', '1.0.0', '1.1.0']) as unknown });
  });

  it('attaches the cluster network and every NAD in-process, writes network-status before answering, and DEL removes all of it', async () => {
    const br = bridgePlugin(host, 121);
    api.createNad('default', 'thin-extra', JSON.stringify({ cniVersion: '1.0.0', name: 'thin-extra', ...br.plugin }));
    const created = api.createPod({ metadata: { namespace: 'default', name: 'thin-pod', annotations: { 'k8s.v1.cni.cncf.io/networks': 'thin-extra' } }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
    const ns = host.netns();
    const base = { containerId: 'thin0001', netns: ns.path, args: podArgs('default', 'thin-pod', created.metadata.uid), stdin: thinConf() };

    const add = await call({ ...base, command: 'ADD' });
    expect(add.code, add.stdout).toBe(0);
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: expect.stringMatching(/^198\.18\.120\./) as unknown }] });
    // Nothing for the runtime's log (no deprecation warnings from the Kubernetes client), and the
    // modules it loaded are in the install's compile cache for the next call.
    expect(add.stderr).toBe('');
    expect(readdirSync(join(binDir, 'multus-ts', 'compile-cache'))).not.toEqual([]);
    expect(host.inNetns(ns.name, '-br', 'addr', 'show', 'dev', 'net1')).toMatch(/198\.18\.121\./);
    // No daemon: the annotation is there the moment the plugin exits.
    const status = JSON.parse((api.getPod('default', 'thin-pod') as { metadata: { annotations: Record<string, string> } }).metadata.annotations[NETWORK_STATUS] ?? '[]') as Array<{ name: string; interface: string }>;
    expect(status.map((s) => [s.name, s.interface])).toEqual([['cluster', 'eth0'], ['default/thin-extra', 'net1']]);
    expect(existsSync(join(cniDir, 'thin0001'))).toBe(true);

    // DEL needs neither the API server nor the netns: everything comes from the cache.
    const del = await call({ ...base, netns: '', command: 'DEL', stdin: thinConf({ kubeconfig: join(host.dir, 'absent.kubeconfig') }) });
    expect(del.code, del.stdout).toBe(0);
    expect(reservations(clusterIpam)).toEqual([]);
    expect(reservations(br.ipamDir)).toEqual([]);
    expect(existsSync(join(cniDir, 'thin0001'))).toBe(false);
    expect((await call({ ...base, command: 'DEL' })).code).toBe(0);
  });

  it('reads a JSON kubeconfig (the thin entrypoint\'s) with its own small client, a YAML one through client-node: the same pod either way', async () => {
    const yamlKubeconfig = join(host.dir, 'multus.kubeconfig.yaml');
    writeFileSync(yamlKubeconfig, stringify(JSON.parse(readFileSync(kubeconfig, 'utf8'))));
    for (const [i, [config, agent]] of ([[kubeconfig, 'multus-thin'], [yamlKubeconfig, expect.not.stringMatching(/^multus-thin$/)]] as const).entries()) {
      const name = `thin-kc-${i}`;
      const created = api.createPod({ metadata: { namespace: 'default', name }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
      const base = { containerId: `thin-kc-${i}`, netns: host.netns().path, args: podArgs('default', name, created.metadata.uid), stdin: thinConf({ kubeconfig: config }) };
      api.resetRequests();
      const add = await call({ ...base, command: 'ADD' });
      expect(add.code, add.stdout).toBe(0);
      const calls = api.requests().filter((r) => r.name === name || r.resource === 'events');
      expect(calls.map((r) => `${r.verb} ${r.resource}${r.subresource === undefined ? '' : `/${r.subresource}`}`).sort()).toEqual(['create events', 'get pods', 'patch pods/status']);
      for (const r of calls) expect(r.userAgent, `${r.verb} ${r.resource}`).toEqual(agent);
      expect(calls.find((r) => r.verb === 'patch')?.contentType).toBe('application/merge-patch+json');
      const status = JSON.parse((api.getPod('default', name) as { metadata: { annotations: Record<string, string> } }).metadata.annotations[NETWORK_STATUS] ?? '[]') as Array<{ name: string }>;
      expect(status.map((s) => s.name)).toEqual(['cluster']);
      expect((await call({ ...base, command: 'DEL' })).code).toBe(0);
    }
  });

  it('GC releases the containers the runtime no longer lists; STATUS reports the cluster network (CNI 1.1)', async () => {
    const conf = thinConf({ cniVersion: '1.1.0' });
    const pods = ['thin-gc-keep', 'thin-gc-stale'].map((name) => {
      const created = api.createPod({ metadata: { namespace: 'default', name }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
      return { name, containerId: `${name}-cid`, netns: host.netns().path, args: podArgs('default', name, created.metadata.uid) };
    });
    for (const p of pods) expect((await call({ ...p, command: 'ADD', stdin: conf })).code).toBe(0);
    expect(reservations(clusterIpam)).toHaveLength(2);
    const [keep, stale] = pods as [(typeof pods)[number], (typeof pods)[number]];
    const gc = await call({ command: 'GC', stdin: { ...conf, 'cni.dev/valid-attachments': [{ containerID: keep.containerId, ifname: 'eth0' }] } });
    expect(gc.code, gc.stdout).toBe(0);
    expect(existsSync(join(cniDir, stale.containerId))).toBe(false);
    expect(existsSync(join(cniDir, keep.containerId))).toBe(true);
    expect(reservations(clusterIpam)).toHaveLength(1);
    expect((await call({ command: 'STATUS', stdin: conf })).code).toBe(0);
    expect((await call({ ...keep, command: 'DEL', stdin: conf })).code).toBe(0);
    expect(reservations(clusterIpam)).toEqual([]);
  });

  it('waits for its AddedInterface event before it exits, even a slow one; a failed status write is logged, not left to a retry that would never run', async () => {
    const created = api.createPod({ metadata: { namespace: 'default', name: 'thin-slow' }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
    const log = join(host.dir, 'thin-slow.log');
    const base = { containerId: 'thin0005', netns: host.netns().path, args: podArgs('default', 'thin-slow', created.metadata.uid), stdin: thinConf({ logFile: log, logLevel: 'debug' }) };
    // The event lands 500 ms after everything else: a plugin that exits once the status is written cuts it off.
    api.faults.slow = { match: (r) => r.resource === 'events' && r.method === 'POST', ms: 500 };
    try {
      expect((await call({ ...base, command: 'ADD' })).code).toBe(0);
    } finally {
      api.faults.slow = undefined;
    }
    expect(api.events('default').filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === 'thin-slow')).toHaveLength(1);
    expect((await call({ ...base, command: 'DEL' })).code).toBe(0);

    api.failNext(1, 500, (r) => r.subresource === 'status');
    expect((await call({ ...base, command: 'ADD' })).code).toBe(0);
    const failed = readJsonLines(log).filter((l) => l.msg === 'network-status not written; giving up');
    expect(failed).toHaveLength(1);
    expect(readJsonLines(log).some((l) => String(l.msg).includes('retrying'))).toBe(false);
    expect((await call({ ...base, command: 'DEL' })).code).toBe(0);
  });

  it('refuses an unknown NAD with code 7 and leaves nothing behind', async () => {
    const created = api.createPod({ metadata: { namespace: 'default', name: 'thin-bad', annotations: { 'k8s.v1.cni.cncf.io/networks': 'no-such-net' } }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
    const ns = host.netns();
    const add = await call({ containerId: 'thin0002', netns: ns.path, args: podArgs('default', 'thin-bad', created.metadata.uid), stdin: thinConf(), command: 'ADD' });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('cannot find a network-attachment-definition (no-such-net) in namespace (default)') as unknown });
    expect(existsSync(join(cniDir, 'thin0002'))).toBe(false);
    expect(reservations(clusterIpam)).toEqual([]);
    expect(host.inNetns(ns.name, '-o', 'link', 'show')).not.toMatch(/eth0/);
  });

  it('a NAD whose plugin type is refused: ADD fails, the DEL right after succeeds, nothing left (same operations as the daemon)', async () => {
    api.createNad('default', 'thin-refused', JSON.stringify({ cniVersion: '1.0.0', type: '../../bin/true' }));
    const created = api.createPod({ metadata: { namespace: 'default', name: 'thin-refused', annotations: { 'k8s.v1.cni.cncf.io/networks': 'thin-refused' } }, spec: { nodeName: NODE } }) as { metadata: { uid: string } };
    const ns = host.netns();
    const base = { containerId: 'thin0005', netns: ns.path, args: podArgs('default', 'thin-refused', created.metadata.uid), stdin: thinConf() };
    const add = await call({ ...base, command: 'ADD' });
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('invalid plugin type') as unknown });
    const del = await call({ ...base, command: 'DEL' });
    expect(del.code, del.stdout).toBe(0);
    expect(existsSync(join(cniDir, 'thin0005'))).toBe(false);
    expect(reservations(clusterIpam)).toEqual([]);
    expect(host.inNetns(ns.name, '-o', 'link', 'show')).not.toMatch(/eth0|net1/);
  });

  it('answers bad input with a CNI error on stdout', async () => {
    const garbage = await call({ command: 'ADD', containerId: 'thin0003', netns: '/proc/self/ns/net', args: podArgs('default', 'x'), stdin: '{not json' });
    expect(garbage.code).toBe(1);
    expect(garbage.json).toMatchObject({ code: 6 });
    const noPod = await call({ command: 'ADD', containerId: 'thin0003', netns: '/proc/self/ns/net', args: 'IgnoreUnknown=1', stdin: thinConf() });
    expect(noPod.json).toMatchObject({ code: 4, msg: expect.stringContaining('K8S_POD_NAMESPACE') as unknown });
  });

  it('reads a stdin the runtime left non-blocking, arriving in two parts (EAGAIN between them)', () => {
    const config = JSON.stringify(thinConf());
    const half = Math.floor(config.length / 2);
    // The second part comes 300 ms later: the plugin has read the first and then finds the pipe empty.
    const run = spawnSync('sh', ['-c', '(printf %s "$PART1"; sleep 0.3; printf %s "$PART2") | "$HELPER" "$MULTUS"'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PART1: config.slice(0, half), PART2: config.slice(half), HELPER: nonblockingStdio, MULTUS: multus, CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'thin-nonblocking', CNI_NETNS: '', CNI_IFNAME: 'eth0', CNI_ARGS: podArgs('default', 'nb'), CNI_PATH: `${binDir}:${DEBIAN_PLUGINS}` },
      encoding: 'utf8',
    });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: '' });
  });

  it('writes a long answer whole to a stdout the runtime left non-blocking, whose pipe fills (EAGAIN)', () => {
    // A cluster network naming a plugin type of 6,000 characters: the ADD's error (12 KB) quotes it.
    const longType = 'x'.repeat(6000);
    const conf = join(host.dir, 'long-type.conf');
    writeFileSync(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'long-type', type: longType }));
    const stdin = join(host.dir, 'long-type-stdin.json');
    writeFileSync(stdin, JSON.stringify(thinConf({ kubeconfig: undefined, clusterNetwork: conf })));
    const codeFile = join(host.dir, 'long-type-code');
    // The reader starts 300 ms late, so the one-page pipe is full when the plugin answers.
    const run = spawnSync('sh', ['-c', '("$HELPER" "$MULTUS" < "$STDIN"; echo $? > "$CODE") | (sleep 0.3; cat)'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HELPER: nonblockingStdio, MULTUS: multus, STDIN: stdin, CODE: codeFile, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'thin-long-answer', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_ARGS: podArgs('default', 'long'), CNI_PATH: `${binDir}:${DEBIAN_PLUGINS}` },
      encoding: 'utf8',
    });
    expect(run.stdout.length).toBeGreaterThan(12_000);
    expect(JSON.parse(run.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining(longType) as unknown });
    expect(readFileSync(codeFile, 'utf8')).toBe('1\n');
    expect(existsSync(join(cniDir, 'thin-long-answer'))).toBe(false);
  });

  it('an ADD (no kubeconfig) and its DEL load none of fs/promises, readline, child_process, net, streams and perf_hooks: plugins start from the launcher\'s multus-spawner, built-ins without their ESM facades, IP checks without node:net', async () => {
    const ns = host.netns();
    const loadedBy = async (command: 'ADD' | 'DEL'): Promise<string[]> => {
      const list = join(host.dir, `modules-${command}`);
      const env = { NODE_OPTIONS: `--require ${join(ROOT, 'test/fixtures/module-list.cjs')}`, MODULE_LIST_FILE: list };
      const out = await call({ command, containerId: 'thin-modules', netns: ns.path, args: podArgs('default', 'modules'), stdin: thinConf({ kubeconfig: undefined }), env });
      expect(out.code, out.stdout).toBe(0);
      return readFileSync(list, 'utf8').split('\n');
    };
    const add = await loadedBy('ADD');
    // It ran the cluster network's plugin: the list is the whole call's.
    expect(reservations(clusterIpam)).toHaveLength(1);
    const del = await loadedBy('DEL');
    expect(reservations(clusterIpam)).toEqual([]);
    for (const loaded of [add, del]) {
      // `import ... from 'node:fs'` alone would load the first two, through fs's `promises` getter.
      expect(loaded.filter((m) => /fs\/promises|readline|child_process|^NativeModule (net|stream|perf_hooks)$/.test(m))).toEqual([]);
    }
  });

  it('starts its plugins from multus-spawner, which times them out, helpers they forked included', async () => {
    const plugins = join(host.dir, 'slow-plugins');
    const helperPid = join(host.dir, 'slow-helper.pid');
    mkdirSync(plugins, { recursive: true });
    writeFileSync(join(plugins, 'parent-check'), `#!/bin/sh\ncat /proc/$PPID/comm > ${join(host.dir, 'parent')}\nprintf '{"cniVersion":"1.0.0"}'\n`, { mode: 0o755 });
    writeFileSync(join(plugins, 'slow'), `#!/bin/sh\n[ "$CNI_COMMAND" = DEL ] && exit 0\nsleep 30 & echo $! > ${helperPid}\nsleep 30\n`, { mode: 0o755 });
    const conf = (type: string): string => {
      const file = join(host.dir, `${type}.conf`);
      writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name: type, type }));
      return file;
    };
    const ns = host.netns();
    const run = (containerId: string, type: string, env: Record<string, string> = {}): ReturnType<typeof call> =>
      call({ command: 'ADD', containerId, netns: ns.path, args: podArgs('default', containerId), stdin: thinConf({ kubeconfig: undefined, clusterNetwork: conf(type), binDir: plugins }), env });
    expect((await run('thin-parent', 'parent-check')).code).toBe(0);
    expect(readFileSync(join(host.dir, 'parent'), 'utf8')).toBe('multus-spawner\n');
    const slow = await run('thin-slow', 'slow', { MULTUS_DELEGATE_TIMEOUT_MS: '500' });
    expect(slow.json).toMatchObject({ code: 11, msg: expect.stringContaining('timed out after 500 ms') as unknown });
    const helper = Number(readFileSync(helperPid, 'utf8'));
    const gone = (): boolean => !existsSync(`/proc/${helper}`) || readFileSync(`/proc/${helper}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
    await pollUntil(gone, { timeoutMs: 5000, everyMs: 20, timedOut: () => new Error(`the plugin's helper ${helper} outlived its timeout`) });
    expect(existsSync(join(cniDir, 'thin-slow'))).toBe(false);
  });

  it('reports an unreachable API server as retryable (11) without touching the pod', async () => {
    const dead = join(host.dir, 'dead.kubeconfig');
    writeKubeconfig(dead, 'http://127.0.0.1:9');
    const ns = host.netns();
    const add = await call({ command: 'ADD', containerId: 'thin0004', netns: ns.path, args: podArgs('default', 'thin-pod'), stdin: thinConf({ kubeconfig: dead }) });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 11 });
    expect(existsSync(join(cniDir, 'thin0004'))).toBe(false);
    expect(readFileSync(clusterConf, 'utf8')).toContain('cluster');
  });
});
