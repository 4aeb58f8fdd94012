import { readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { CLUSTER_OCTET, MULTUS_NETWORK, NETWORKS, SHIM_READY_TIMEOUT_MS, bedHooks, bedOf, startBedOrSkip, type RunningPod } from './bed.js';

/**
 * Pods through a real container runtime: a private containerd (CRI plugin, runc) runs our built
 * multus-shim, which reaches the built daemon, which reads pods and NADs from the in-repo API
 * server. The runtime's own habits are what is under test: CNI_ARGS in its order, its loopback ADD
 * next to ours, DEL on StopPodSandbox and again on RemovePodSandbox, DEL right after a failed ADD.
 * Every scenario ends with a leak audit of the host (see audit.ts).
 */
const setup = await startBedOrSkip();

const bed = bedOf(setup);

const CLUSTER_IP = new RegExp(`^198\\.18\\.${CLUSTER_OCTET}\\.\\d+$`);


/** What containerd does for a pod that ran: our ADD, then only successful DELs (it sends two). */
function expectAddThenDels(namespace: string, name: string): void {
  const calls = bed().cniCalls(namespace, name);
  expect(calls[0], calls.join(', ')).toBe('ADD ok');
  expect(calls.slice(1).every((c) => c === 'DEL ok'), calls.join(', ')).toBe(true);
  expect(calls.length, calls.join(', ')).toBeGreaterThanOrEqual(2);
}

async function expectClean(): Promise<void> {
  expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
}

describe.skipIf(setup.skip !== undefined)(`pods through containerd + CRI${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('a. cluster network only: READY, IP from 198.18.200.0/24, one default network-status entry, nothing left', async () => {
    const pod = await bed().runPod('default', 'solo');
    const { status } = await bed().cri.podSandboxStatus(pod.sandboxId);
    expect(status.state).toBe('SANDBOX_READY');
    expect(status.metadata).toMatchObject({ name: 'solo', namespace: 'default', uid: pod.uid });
    const ip = status.network?.ip ?? '';
    expect(ip).toMatch(CLUSTER_IP);

    const networkStatus = await bed().awaitNetworkStatus('default', 'solo', 1);
    expect(networkStatus).toEqual([expect.objectContaining({ name: 'e2e-cluster', interface: 'eth0', ips: [ip], default: true })]);
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'eth0')).toEqual([`${ip}/24`]);
    expect(bed().inSandbox(path, '-o', 'link', 'show', 'lo')).toContain('UP'); // containerd's own loopback ADD

    await bed().removePod(pod);
    expectAddThenDels('default', 'solo');
    await expectClean();
  });

  it('b. two extra networks: eth0 + net1 + net2 inside the sandbox, three network-status entries', async () => {
    bed().nad('default', 'e2e-a', 201);
    bed().nad('default', 'e2e-b', 202);
    const pod = await bed().runPod('default', 'multi', { [NETWORKS]: 'e2e-a, default/e2e-b' });
    const { status } = await bed().cri.podSandboxStatus(pod.sandboxId);
    expect(status.network?.ip).toMatch(CLUSTER_IP);

    const { path, pid } = await bed().sandboxNetns(pod);
    // The netns containerd reports is the one the pause process lives in.
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(`net:[${statSync(path).ino}]`);
    expect(bed().addresses(path, 'eth0')).toEqual([`${status.network?.ip ?? ''}/24`]);
    expect(bed().addresses(path, 'net1')).toEqual([expect.stringMatching(/^198\.18\.201\.\d+\/24$/)]);
    expect(bed().addresses(path, 'net2')).toEqual([expect.stringMatching(/^198\.18\.202\.\d+\/24$/)]);

    const networkStatus = await bed().awaitNetworkStatus('default', 'multi', 3);
    expect(networkStatus.map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
      ['e2e-cluster', 'eth0', true],
      ['default/e2e-a', 'net1', false],
      ['default/e2e-b', 'net2', false],
    ]);
    expect(networkStatus[1]?.ips).toEqual([bed().addresses(path, 'net1')[0]?.split('/')[0]]);

    await bed().removePod(pod);
    expectAddThenDels('default', 'multi');
    await expectClean();
  });

  it('c. a missing NAD: RunPodSandbox fails with our error, nothing left behind', async () => {
    const uid = bed().createPod('default', 'orphan', { [NETWORKS]: 'no-such-net' });
    await expect(bed().runSandbox('default', 'orphan', uid, { [NETWORKS]: 'no-such-net' })).rejects.toThrow(
      /cannot find a network-attachment-definition \(no-such-net\) in namespace \(default\)/,
    );
    expect(bed().networkStatus('default', 'orphan')).toEqual([]);
    // containerd cleans a failed sandbox up itself: a DEL right after the failed ADD
    const calls = bed().cniCalls('default', 'orphan');
    expect(calls[0]).toBe('ADD error');
    expect(calls.slice(1).every((c) => c === 'DEL ok'), calls.join(', ')).toBe(true);
    expect(calls.length).toBeGreaterThan(1);
    await expectClean();
  });

  it('c2. a NAD naming a refused plugin type: RunPodSandbox fails with our error, containerd\'s DEL right after succeeds, no sandbox or netns kept', async () => {
    bed().api.createNad('default', 'e2e-refused', JSON.stringify({ cniVersion: '0.4.0', type: '../../bin/true' }));
    const uid = bed().createPod('default', 'refused', { [NETWORKS]: 'e2e-refused' });
    await expect(bed().runSandbox('default', 'refused', uid, { [NETWORKS]: 'e2e-refused' })).rejects.toThrow(/invalid plugin type "\.\.\/\.\.\/bin\/true"/);
    const calls = bed().cniCalls('default', 'refused');
    expect(calls[0]).toBe('ADD error');
    expect(calls.slice(1).every((c) => c === 'DEL ok'), calls.join(', ')).toBe(true);
    expect(calls.length).toBeGreaterThan(1);
    // Had that DEL failed, containerd would keep the sandbox NOTREADY with its netns (as in g).
    expect(await bed().cri.listPodSandbox({ 'io.kubernetes.pod.name': 'refused' })).toEqual([]);
    await expectClean();
  });

  it('c3. a network whose DEL fails twice: StopPodSandbox fails twice with its error, the third succeeds and releases its IP, nothing left', async () => {
    bed().addFixturePlugin('cni-record');
    const failing = join(bed().host.dir, 'c3-del-fails');
    writeFileSync(failing, '');
    bed().nad('default', 'e2e-del-retry', 215, [{ type: 'cni-record', failOn: 'DEL', failWhile: failing }]);
    const annotations = { [NETWORKS]: 'e2e-del-retry' };
    const pod = await bed().runSandbox('default', 'del-retry', bed().createPod('default', 'del-retry', annotations), annotations);
    for (let attempt = 1; attempt <= 2; attempt++) {
      await expect(bed().cri.stopPodSandbox(pod.sandboxId), `StopPodSandbox ${attempt}`).rejects.toThrow(/cni-record told to fail DEL/);
    }
    unlinkSync(failing);
    await bed().cri.stopPodSandbox(pod.sandboxId);
    await bed().cri.removePodSandbox(pod.sandboxId);
    const calls = bed().cniCalls('default', 'del-retry');
    expect(calls.slice(0, 4), calls.join(', ')).toEqual(['ADD ok', 'DEL error', 'DEL error', 'DEL ok']);
    await expectClean();
  });

  it('d. StopPodSandbox and RemovePodSandbox twice each: idempotent', async () => {
    const pod = await bed().runPod('default', 'twice');
    await bed().cri.stopPodSandbox(pod.sandboxId);
    await bed().cri.stopPodSandbox(pod.sandboxId);
    await bed().cri.removePodSandbox(pod.sandboxId);
    await bed().cri.removePodSandbox(pod.sandboxId);
    expectAddThenDels('default', 'twice');
    await expect(bed().cri.podSandboxStatus(pod.sandboxId)).rejects.toThrow(/not found/);
    await expectClean();
  });

  it('e. ten pods started concurrently, then all removed concurrently', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `many-${i}`);
    const pods = await Promise.all(names.map((name) => bed().runPod('default', name)));
    const ips = await Promise.all(pods.map(async (p) => (await bed().cri.podSandboxStatus(p.sandboxId)).status.network?.ip ?? ''));
    for (const ip of ips) expect(ip).toMatch(CLUSTER_IP);
    expect(new Set(ips).size).toBe(10);
    for (const [i, name] of names.entries()) {
      expect(await bed().awaitNetworkStatus('default', name, 1)).toEqual([expect.objectContaining({ interface: 'eth0', ips: [ips[i]], default: true })]);
    }
    await Promise.all(pods.map((p) => bed().removePod(p)));
    for (const name of names) expectAddThenDels('default', name);
    await expectClean();
  }, 120_000);

  it('f. daemon restarted while pods exist: the new daemon serves new pods and removes the old ones cleanly', async () => {
    bed().nad('default', 'e2e-r', 203);
    const before: RunningPod[] = [];
    for (const name of ['keep-0', 'keep-1', 'keep-2']) before.push(await bed().runPod('default', name, { [NETWORKS]: 'e2e-r' }));

    await bed().restartDaemon();

    const after = await bed().runPod('default', 'after-restart', { [NETWORKS]: 'e2e-r' });
    const { path } = await bed().sandboxNetns(after);
    expect(bed().addresses(path, 'net1')).toEqual([expect.stringMatching(/^198\.18\.203\.\d+\/24$/)]);
    // The old pods' interfaces are untouched by the restart.
    for (const p of before) {
      const ns = await bed().sandboxNetns(p);
      expect(bed().addresses(ns.path, 'eth0')).toEqual([expect.stringMatching(/^198\.18\.200\.\d+\/24$/)]);
      expect(bed().addresses(ns.path, 'net1')).toEqual([expect.stringMatching(/^198\.18\.203\.\d+\/24$/)]);
    }

    await Promise.all([...before, after].map((p) => bed().removePod(p)));
    // The daemon's log file is appended to across the restart: ADD by the old daemon, DELs by the new.
    for (const p of [...before, after]) expectAddThenDels(p.namespace, p.name);
    await expectClean();
  }, 60_000);

  it('g. daemon down: Stop and Run fail fast with the shim\'s retry error; after a restart kubelet-style cleanup leaves nothing', async () => {
    const running = await bed().runPod('default', 'down-0');
    await bed().daemon.stop();

    const notReady = new RegExp(`multus-daemon is not ready at \\S+multus\\.sock after ${SHIM_READY_TIMEOUT_MS} ms`);
    await expect(bed().cri.stopPodSandbox(running.sandboxId)).rejects.toThrow(notReady);
    await expect(bed().runPod('default', 'down-1')).rejects.toThrow(notReady);
    // ADD and its cleanup DEL both failed: containerd keeps a NOTREADY sandbox for kubelet to collect.
    const left = await bed().cri.listPodSandbox({ 'io.kubernetes.pod.name': 'down-1' });
    expect(left.map((s) => s.state)).toEqual(['SANDBOX_NOTREADY']);

    await bed().restartDaemon();
    // kubelet's garbage collection: stop and remove every sandbox of the two pods.
    for (const name of ['down-0', 'down-1']) {
      for (const s of await bed().cri.listPodSandbox({ 'io.kubernetes.pod.name': name })) {
        await bed().cri.stopPodSandbox(s.id);
        await bed().cri.removePodSandbox(s.id);
      }
    }
    await expectClean();
  }, 60_000);

  it('h. pod already deleted from the API when its sandbox starts: upstream\'s placeholder result, READY with 0.0.0.0, clean teardown', async () => {
    // kubelet may still run a sandbox for a pod deleted a moment ago; upstream multus then answers
    // a fake eth0 0.0.0.0/0 result so containerd does not fail, and so do we.
    const pod = await bed().runSandbox('default', 'ghost', 'deleted-pod-uid');
    const { status } = await bed().cri.podSandboxStatus(pod.sandboxId);
    expect(status.state).toBe('SANDBOX_READY');
    expect(status.network?.ip).toBe('0.0.0.0');
    await bed().removePod(pod);
    expectAddThenDels('default', 'ghost');
    await expectClean();
  });

  it('i. pod re-created under the same name: the stale sandbox\'s ADD is refused, nothing left', async () => {
    const uid = bed().createPod('default', 'recreated');
    await expect(bed().runSandbox('default', 'recreated', 'uid-of-the-deleted-pod')).rejects.toThrow(
      new RegExp(`expected pod UID "uid-of-the-deleted-pod" but got "${uid}" from Kube API`),
    );
    await expectClean();
  });

  it('j. 00-multus.conf is generated from the master conflist, and regenerated when it changes while pods keep starting', async () => {
    const conf = await bed().multusConf(() => true);
    expect(conf).toMatchObject({ cniVersion: '0.4.0', name: MULTUS_NETWORK, type: 'multus-shim', clusterNetwork: bed().cluster.confPath, daemonSocketDir: bed().daemon.socketDir });
    expect(conf.capabilities).toBeUndefined();
    const master = JSON.parse(readFileSync(bed().cluster.confPath, 'utf8')) as { plugins: Array<Record<string, unknown>> };
    const starting = bed().runPod('default', 'during-edit');
    writeFileSync(bed().cluster.confPath, JSON.stringify({ ...master, plugins: [{ ...master.plugins[0], capabilities: { portMappings: true } }] }));
    const during = await starting;
    const regenerated = await bed().multusConf((c) => (c.capabilities as Record<string, boolean> | undefined)?.portMappings === true);
    expect(regenerated.clusterNetwork).toBe(bed().cluster.confPath);
    const after = await bed().runPod('default', 'after-edit');
    for (const pod of [during, after]) await bed().removePod(pod);
    writeFileSync(bed().cluster.confPath, JSON.stringify(master));
    // Unlike upstream, whose capability map only ever grows, a regeneration follows the master.
    await bed().multusConf((c) => c.capabilities === undefined);
    await expectClean();
  }, 60_000);
});
