import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { NETWORKS, THICK_MANIFEST, bedHooks, bedOf, startImageBedOrSkip } from './bed.js';

/**
 * The image users deploy, as kubelet runs it: the archive scripts/build-image.sh built from the
 * Dockerfile (MULTUS_IMAGE_ARCHIVE; scripts/test.sh builds it and sets it) imported into a
 * private containerd, and deployments/multus-daemonset-thick.yml's pod run through CRI with the
 * manifest's command, env, ConfigMap, hostPath volumes (mapped to this test's dirs), service
 * account, privileged/hostNetwork/hostPID. Pods then go through the same containerd and reach the
 * containerised daemon through the shim its init container installed.
 */
const CLUSTER_OCTET = 220;
const setup = await startImageBedOrSkip('test/e2e/image.test.ts', 'image', CLUSTER_OCTET, THICK_MANIFEST);

const bed = bedOf(setup);

async function get(path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${bed().metricsPort}${path}`)).status;
}

describe.skipIf(setup.skip !== undefined)(`the image as the thick DaemonSet's pod${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('the init container installed the shim and passthru; the daemon container wrote 00-multus.conf; the probes answer', async () => {
    for (const binary of ['multus-shim', 'passthru']) expect(existsSync(join(bed().cniBinDir, binary)), binary).toBe(true);
    const conf = JSON.parse(readFileSync(join(bed().cniConfDir, '00-multus.conf'), 'utf8')) as Record<string, unknown>;
    expect(conf).toMatchObject({ name: 'multus-cni-network', type: 'multus-shim' });
    expect(await get('/healthz')).toBe(200);
    expect(await get('/readyz')).toBe(200);
    expect(bed().daemonSetPod.jsonLog('kube-multus').some((l) => l.msg === 'runtime' && l.node === process.versions.node)).toBe(true);
    // The image ships multus-spawner where the daemon looks for it: plugins are not forked from the daemon.
    expect(bed().daemonSetPod.jsonLog('kube-multus').filter((l) => String(l.msg).startsWith('multus-spawner'))).toEqual([]);
  });

  it('a pod with two NADs gets eth0 + net1 + net2 and its network-status through the containerised daemon; nothing left after removal', async () => {
    bed().nad('default', 'img-a', CLUSTER_OCTET + 1);
    bed().nad('default', 'img-b', CLUSTER_OCTET + 2);
    const pod = await bed().runPod('default', 'img-multi', { [NETWORKS]: 'img-a, img-b' });
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'net1')[0]).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET + 1}\\.`));
    expect(bed().addresses(path, 'net2')[0]).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET + 2}\\.`));
    const status = await bed().awaitNetworkStatus('default', 'img-multi', 3);
    expect(status.map((s) => [s.name, s.interface])).toEqual([
      ['e2e-cluster', 'eth0'],
      ['default/img-a', 'net1'],
      ['default/img-b', 'net2'],
    ]);
    await bed().removePod(pod);
    expect(bed().cniCalls('default', 'img-multi')[0]).toBe('ADD ok');
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });

  it('pods churning through the containerised daemon, eight at once, two rounds: every sandbox READY with its network-status, nothing left', async () => {
    bed().nad('default', 'img-churn', CLUSTER_OCTET + 3);
    for (let round = 0; round < 2; round++) {
      const pods = await Promise.all(Array.from({ length: 8 }, (_, i) => bed().runPod('default', `img-churn-${round}-${i}`, { [NETWORKS]: 'img-churn' })));
      for (const pod of pods) {
        expect((await bed().cri.podSandboxStatus(pod.sandboxId)).status.state).toBe('SANDBOX_READY');
        expect(await bed().awaitNetworkStatus('default', pod.name, 2)).toHaveLength(2);
      }
      await Promise.all(pods.map((pod) => bed().removePod(pod)));
    }
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  }, 120_000);

  it('a rolling update (old pod deleted, new pod created, its init container re-installing the shim) loses no pod started meanwhile', async () => {
    const old = bed().daemonSetPod;
    // Pods keep starting while the DaemonSet rolls: the shim waits out the gap on /readyz.
    const starting = (async () => {
      const pods = [];
      for (let i = 0; i < 3; i++) pods.push(await bed().runPod('default', `img-roll-${i}`));
      return pods;
    })();
    const stopped = await old.stop();
    expect(stopped.get('kube-multus')?.exitCode).toBe(0);
    await bed().startDaemonSetPod(`kube-multus-ds-${bed().host.id}-2`);
    const pods = await starting;
    for (const pod of pods) {
      const { status } = await bed().cri.podSandboxStatus(pod.sandboxId);
      expect(status.state).toBe('SANDBOX_READY');
      expect(await bed().awaitNetworkStatus('default', pod.name, 1)).toHaveLength(1);
    }
    for (const pod of pods) await bed().removePod(pod);
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  }, 120_000);

  it('SIGTERM (kubelet stopping the pod) drains and exits 0', async () => {
    const stopped = await bed().daemonSetPod.stop();
    expect(stopped.get('kube-multus')).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0 });
    expect(bed().daemonSetPod.jsonLog('kube-multus').some((l) => l.msg === 'multus-daemon stopped')).toBe(true);
  });
});
