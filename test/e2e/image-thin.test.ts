import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { NETWORKS, THIN_MANIFEST, bedHooks, bedOf, startImageBedOrSkip } from './bed.js';

/**
 * The image as the thin DaemonSet's pod (deployments/multus-daemonset.yml) through CRI: its init
 * container installs the thin plugin (launcher, the image's Node.js and the bundle) into our bin
 * dir, its container writes the kubeconfig and 00-multus.conf into our conf dir, and pods then
 * attach through the installed plugin, run by containerd on the host, with no daemon anywhere.
 */
const CLUSTER_OCTET = 230;
const setup = await startImageBedOrSkip('test/e2e/image-thin.test.ts', 'image-thin', CLUSTER_OCTET, THIN_MANIFEST);

const bed = bedOf(setup);

describe.skipIf(setup.skip !== undefined)(`the image as the thin DaemonSet's pod${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('the init container installs the thin plugin, the container writes its kubeconfig and 00-multus.conf, and a pod attaches through the plugin', async () => {
    for (const installed of ['multus', 'passthru', 'multus-ts/node', 'multus-ts/multus.mjs', 'multus-ts/multus-spawner']) expect(existsSync(join(bed().cniBinDir, installed)), installed).toBe(true);
    const kubeconfig = join(bed().cniConfDir, 'multus.d', 'multus.kubeconfig');
    expect(existsSync(kubeconfig)).toBe(true);
    expect(await bed().multusConf((c) => c.type === 'multus')).toMatchObject({ type: 'multus', kubeconfig });
    bed().nad('default', 'thin-img-a', CLUSTER_OCTET + 1);
    const pod = await bed().runPod('default', 'thin-img', { [NETWORKS]: 'thin-img-a' });
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'net1')[0]).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET + 1}\\.`));
    // The thin plugin writes network-status before it answers.
    expect(bed().networkStatus('default', 'thin-img').map((s) => s.interface)).toEqual(['eth0', 'net1']);
    await bed().removePod(pod);
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });

  it('pods churning through the installed plugin, six at once: every sandbox READY with its network-status, nothing left', async () => {
    bed().nad('default', 'thin-img-churn', CLUSTER_OCTET + 2);
    const pods = await Promise.all(Array.from({ length: 6 }, (_, i) => bed().runPod('default', `thin-img-churn-${i}`, { [NETWORKS]: 'thin-img-churn' })));
    for (const pod of pods) {
      expect((await bed().cri.podSandboxStatus(pod.sandboxId)).status.state).toBe('SANDBOX_READY');
      expect(bed().networkStatus('default', pod.name)).toHaveLength(2);
    }
    await Promise.all(pods.map((pod) => bed().removePod(pod)));
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  }, 120_000);
});
