import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { readJsonLines } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin, reservations } from '../helpers/networks.js';
import { podArgs, runShim, type ShimOutcome } from '../helpers/shim.js';

/**
 * DEL of a delegate that never ran, or cannot run, is a no-op that succeeds: a runtime DELs right
 * after a failed ADD, and a failing DEL makes it keep the sandbox and its netns. Pods and NADs in
 * the in-repo API server, the built daemon and shim, real plugins in real netns.
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
  netns: { name: string; path: string };
  containerId: string;
}

/** A pod attaching the given NADs (default namespace), with its own netns and container. */
function newPod(name: string, networks: string): PodCall {
  cluster.pod('default', name, { [NETWORKS]: networks });
  return { name, netns: host.netns(), containerId: `${host.id}n${containers++}`.padEnd(64, 'c') };
}

function cni(command: string, p: PodCall): Promise<ShimOutcome> {
  return runShim({ command, containerId: p.containerId, netns: p.netns.path, args: podArgs('default', p.name), stdin: multusStdin(cluster.daemon.socketDir, clusterConf) });
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
    const cache = JSON.parse(readFileSync(join(cluster.daemon.cniDir, p.containerId), 'utf8')) as Array<{ Name: string; started?: boolean }>;
    expect(cache.map((e) => [e.Name, e.started])).toEqual([['cluster', true], ['default/partial-fails', true], ['default/partial-never', false]]);
    const skipped = logsOf(p).filter((l) => l.msg === 'not deleting networks whose ADD never started');
    expect(skipped.map((l) => [l.level, l.networks])).toEqual([[20, ['default/partial-never']]]);

    unlinkSync(failing);
    const del = await cni('DEL', p);
    expect(del.code, del.stdout).toBe(0);
    expect(recorded(started)).toEqual(['ADD net1', 'DEL net1', 'DEL net1']);
    expect(existsSync(never)).toBe(false);
    await expectNothingLeft(p);
  });
});
