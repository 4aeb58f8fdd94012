import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { readJsonLines } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin, reservations } from '../helpers/networks.js';
import { podArgs, runShim, type ShimOutcome } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * DEL of a delegate that never ran, or cannot run, is a no-op that succeeds: a runtime DELs right
 * after a failed ADD, and a failing DEL makes it keep the sandbox and its netns. A delegate whose
 * DEL fails is retried by the runtime's next DEL, and given up after `deleteAttempts` or at GC.
 * Pods and NADs in the in-repo API server, the built daemon and shim, real plugins in real netns.
 */
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const host = new TestHost();
const clusterNet = bridgePlugin(host, 93);
let cluster: TestCluster;
let clusterConf: string;
let containers = 0;

beforeAll(async () => {
  cluster = await startTestCluster(host);
  clusterConf = join(cluster.daemon.confDir, '10-cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', ...clusterNet.plugin }));
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

interface PodCall {
  name: string;
  uid: string;
  netns: { name: string; path: string };
  containerId: string;
}

/** A pod attaching the given NADs (default namespace), with its own netns and container. */
function newPod(name: string, networks: string): PodCall {
  const uid = cluster.pod('default', name, { [NETWORKS]: networks });
  return { name, uid, netns: host.netns(), containerId: `${host.id}n${containers++}`.padEnd(64, 'c') };
}

/** Run the shim for the pod; `conf`: extra keys of the runtime's config (00-multus.conf). */
function cni(command: string, p: PodCall, conf: Record<string, unknown> = {}): Promise<ShimOutcome> {
  return runShim({ command, containerId: p.containerId, netns: p.netns.path, args: podArgs('default', p.name, p.uid), stdin: multusStdin(cluster.daemon.socketDir, clusterConf, conf) });
}

/** Nothing of the pod is left: no interface, IP reservation, delegate or result cache, work in the daemon. */
async function expectNothingLeft(p: PodCall, ipamDirs: string[] = []): Promise<void> {
  expect(host.inNetns(p.netns.name, '-o', 'link', 'show')).not.toMatch(/eth0|net\d/);
  expect([clusterNet.ipamDir, ...ipamDirs].flatMap(reservations)).toEqual([]);
  expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
  const results = join(cluster.daemon.cniDir, 'results');
  expect(existsSync(results) ? readdirSync(results).filter((f) => f.includes(p.containerId)) : []).toEqual([]);
  expect(await cluster.daemon.stuckWork()).toEqual([]);
}

/** The daemon's log lines about one sandbox. */
function logsOf(p: PodCall): Array<Record<string, unknown>> {
  return cluster.daemon.logs().filter((l) => l.sandbox === p.containerId);
}

/** The delegate cache of the pod's sandbox: per network, whether a DEL still owes it, and its failed DELs. */
function cachedEntries(p: PodCall): Array<[string, boolean | undefined, number | undefined]> {
  const cache = JSON.parse(readFileSync(join(cluster.daemon.cniDir, p.containerId), 'utf8')) as Array<{ Name: string; started?: boolean; deleteAttempts?: number }>;
  return cache.map((e) => [e.Name, e.started, e.deleteAttempts]);
}

/** cni-record's calls, as `<CNI_COMMAND> <CNI_IFNAME>`. */
function recorded(file: string): string[] {
  return readJsonLines<{ env: Record<string, string> }>(file).map((c) => `${c.env.CNI_COMMAND ?? ''} ${c.env.CNI_IFNAME ?? ''}`);
}

describe('DEL of a delegate that never ran, or cannot run', () => {
  it.each([
    ['a relative path', '../../bin/true', 'invalid plugin type'],
    ['an absolute path', '/usr/bin/true', 'invalid plugin type'],
    ['a plugin missing from every bin dir', 'no-such-plugin', 'failed to find plugin "no-such-plugin"'],
  ])('a NAD whose type is %s: ADD fails with the clear error, the DEL right after succeeds with a debug line, nothing left (LIB-2)', async (_what, type, error) => {
    const nad = `bad-type-${containers}`;
    cluster.api.createNad('default', nad, JSON.stringify({ cniVersion: '1.0.0', type }));
    const p = newPod(nad, nad);
    const add = await cni('ADD', p);
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining(error) });
    expect(add.json?.msg).toContain(`default/${nad}`);
    // The rollback undid the cluster network and skipped the plugin that cannot run: complete.
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    expect(del.stdout).toBe('');
    await expectNothingLeft(p);
    const skips = logsOf(p).filter((l) => l.net === `default/${nad}` && String(l.msg).startsWith('DEL skipped plugins that cannot be found'));
    expect(skips.length).toBeGreaterThan(0);
    expect(skips.every((l) => l.level === 20)).toBe(true);
    expect(logsOf(p).filter((l) => String(l.msg).startsWith('rollback after a failed ADD was incomplete'))).toEqual([]);
  });

  it('a NAD conflist whose second plugin is missing: the first plugin is still DELeted, the second skipped', async () => {
    const br = bridgePlugin(host, 94);
    cluster.api.createNad('default', 'half-missing', JSON.stringify({ cniVersion: '1.0.0', name: 'half-missing', plugins: [br.plugin, { type: 'no-such-plugin' }] }));
    const p = newPod('half-missing', 'half-missing');
    const add = await cni('ADD', p);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('failed to find plugin "no-such-plugin"') });
    expect((await cni('DEL', p)).code).toBe(0);
    await expectNothingLeft(p, [br.ipamDir]);
  });

  it('after a partial ADD whose rollback failed, the DEL runs exactly the delegates the ADD started (MN-42, MN-43)', async () => {
    const started = join(host.dir, 'started.jsonl');
    const never = join(host.dir, 'never.jsonl');
    const failing = join(host.dir, 'fail-now');
    writeFileSync(failing, '');
    // net1 fails its ADD and, while `failing` exists, its DEL too: the rollback is incomplete.
    cluster.api.createNad('default', 'partial-fails', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record', recordFile: started, failOn: ['ADD', 'DEL'], failWhile: failing }));
    cluster.api.createNad('default', 'partial-never', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record', recordFile: never }));
    const p = newPod('partial', 'partial-fails, partial-never');
    const add = await cni('ADD', p);
    expect(add.json).toMatchObject({ code: 142, msg: expect.stringContaining('default/partial-fails') });
    expect(recorded(started)).toEqual(['ADD net1', 'DEL net1']);
    expect(existsSync(never)).toBe(false);
    expect(host.inNetns(p.netns.name, '-o', 'link', 'show')).not.toMatch(/eth0/); // the cluster network's rollback worked
    // Only the network whose rollback failed is left for the DEL: the cluster network's was undone.
    expect(cachedEntries(p)).toEqual([['cluster', false, undefined], ['default/partial-fails', true, 1], ['default/partial-never', false, undefined]]);
    const skipped = logsOf(p).filter((l) => l.msg === 'not deleting networks whose ADD never started or that are already deleted');
    expect(skipped.map((l) => [l.level, l.networks])).toEqual([[20, ['default/partial-never']]]);

    unlinkSync(failing);
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    expect(recorded(started)).toEqual(['ADD net1', 'DEL net1', 'DEL net1']);
    expect(existsSync(never)).toBe(false);
    await expectNothingLeft(p);
  });
});

describe('a delegate whose DEL fails is retried, not forgotten', () => {
  /** A pod with one extra network: a bridge with an IP whose chain's last plugin fails DEL while `failing` exists. */
  function podWithFailingDel(name: string, octet: number): { p: PodCall; ipamDir: string; failing: string } {
    const br = bridgePlugin(host, octet);
    const failing = join(host.dir, `${name}-fails`);
    writeFileSync(failing, '');
    cluster.api.createNad('default', name, JSON.stringify({ cniVersion: '1.0.0', name, plugins: [br.plugin, { type: 'cni-record', failOn: 'DEL', failWhile: failing }] }));
    return { p: newPod(name, name), ipamDir: br.ipamDir, failing };
  }

  /** multus_delegate_deletes_abandoned_total{reason} now. */
  async function abandoned(reason: 'attempts' | 'gc'): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${String(cluster.daemon.metricsPort)}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`multus_delegate_deletes_abandoned_total{reason="${reason}"}`));
    return Number(line?.split(' ')[1] ?? NaN);
  }

  function abandonEvents(p: PodCall): Array<{ type: string; reason: string; message: string }> {
    return (cluster.api.events('default') as unknown as Array<{ involvedObject: { uid?: string }; type: string; reason: string; message: string }>).filter((e) => e.involvedObject.uid === p.uid && e.reason === 'NetworkDeleteAbandoned');
  }

  it('fails twice, then succeeds: each failed DEL answers the plugin\'s error and keeps only that network, with its attempt count; the third releases its IP', async () => {
    const { p, ipamDir, failing } = podWithFailingDel('del-twice', 95);
    expect((await cni('ADD', p)).code).toBe(0);
    for (const attempt of [1, 2]) {
      const del = await cni('DEL', p);
      expect(del.json).toMatchObject({ code: 142, msg: expect.stringContaining('cni-record told to fail DEL') });
      expect(cachedEntries(p)).toEqual([['cluster', false, undefined], ['default/del-twice', true, attempt]]);
      // The cluster network was released by the first DEL and is not run again.
      expect(reservations(clusterNet.ipamDir)).toEqual([]);
      expect(reservations(ipamDir)).toHaveLength(1);
    }
    unlinkSync(failing);
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    await expectNothingLeft(p, [ipamDir]);
    expect(abandonEvents(p)).toEqual([]);
  });

  it('keeps failing: given up at the third DEL (deleteAttempts) with a warning event and the counter, so the sandbox can go; GC then releases its IP', async () => {
    const { p, ipamDir, failing } = podWithFailingDel('del-never', 96);
    expect((await cni('ADD', p)).code).toBe(0);
    const before = await abandoned('attempts');
    for (const attempt of [1, 2]) {
      expect((await cni('DEL', p)).json, `DEL ${attempt}`).toMatchObject({ code: 142 });
    }
    const third = await cni('DEL', p);
    expect(third.code, third.stdout).toBe(0);
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
    expect(await abandoned('attempts')).toBe(before + 1);
    await until(() => abandonEvents(p).length > 0, 'the NetworkDeleteAbandoned event');
    expect(abandonEvents(p)).toEqual([expect.objectContaining({ type: 'Warning', message: expect.stringMatching(/giving up deleting network "default\/del-never" .* after 3 failed attempts: .*cni-record told to fail DEL/) })]);
    const warned = logsOf(p).filter((l) => String(l.msg).startsWith('giving up deleting network'));
    expect(warned.map((l) => [l.level, l.reason])).toEqual([[40, 'attempts']]);
    // The IP is still reserved; its result-cache entry is the last record of it, for GC.
    expect(reservations(ipamDir)).toHaveLength(1);
    unlinkSync(failing);
    const gc = await runShim({ command: 'GC', stdin: { ...multusStdin(cluster.daemon.socketDir, clusterConf), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] } });
    expect(gc.code, gc.stdout).toBe(0);
    await expectNothingLeft(p, [ipamDir]);
  });

  it('GC of a container the runtime no longer has gives a failing network up at once, reports it, and tells the pod', async () => {
    const { p, ipamDir, failing } = podWithFailingDel('del-gc', 97);
    expect((await cni('ADD', p)).code).toBe(0);
    expect((await cni('DEL', p)).json).toMatchObject({ code: 142 });
    const before = await abandoned('gc');
    const gc = await runShim({ command: 'GC', stdin: { ...multusStdin(cluster.daemon.socketDir, clusterConf), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] } });
    expect(gc.json).toMatchObject({ msg: expect.stringContaining('cni-record told to fail DEL') });
    expect(existsSync(join(cluster.daemon.cniDir, p.containerId))).toBe(false);
    expect(await abandoned('gc')).toBe(before + 1);
    await until(() => abandonEvents(p).length > 0, 'the NetworkDeleteAbandoned event');
    expect(abandonEvents(p)[0]?.message).toContain('the runtime no longer has the container (CNI GC)');
    unlinkSync(failing);
    expect((await cni('DEL', p)).code).toBe(0);
    const again = await runShim({ command: 'GC', stdin: { ...multusStdin(cluster.daemon.socketDir, clusterConf), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] } });
    expect(again.code, again.stdout).toBe(0);
    await expectNothingLeft(p, [ipamDir]);
  });

  it('with retryDeleteOnError (upstream\'s meaning) the whole cache is kept, unchanged, until one DEL succeeds for all', async () => {
    const { p, ipamDir, failing } = podWithFailingDel('del-upstream', 98);
    const conf = { retryDeleteOnError: true };
    expect((await cni('ADD', p, conf)).code).toBe(0);
    const written = readFileSync(join(cluster.daemon.cniDir, p.containerId), 'utf8');
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect((await cni('DEL', p, conf)).json, `DEL ${attempt}`).toMatchObject({ code: 142 });
      expect(readFileSync(join(cluster.daemon.cniDir, p.containerId), 'utf8')).toBe(written);
    }
    unlinkSync(failing);
    expect((await cni('DEL', p, conf)).code).toBe(0);
    await expectNothingLeft(p, [ipamDir]);
    expect(abandonEvents(p)).toEqual([]);
  });
});
