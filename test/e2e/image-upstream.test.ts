import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { NETWORKS, bedHooks, bedOf, startImageBedOrSkip } from './bed.js';

/**
 * Upstream's own thick manifest (v4.3.0, test/e2e/fixtures) with our image swapped in, run
 * through CRI as image.test.ts runs ours: upstream's commands (/usr/src/multus-cni/bin/install_multus
 * -d /host/opt/cni/bin -t thick; /usr/src/multus-cni/bin/multus-daemon with no flags), mounts and
 * ConfigMap, which has no metricsPort (the test adds a free one) and mounts the CNI bin dir at
 * /opt/cni/bin. An operator who only changes the image gets working pods.
 */
const CLUSTER_OCTET = 225;
const MANIFEST = new URL('./fixtures/upstream-v4.3.0-daemonset-thick.yml', import.meta.url).pathname;
const setup = await startImageBedOrSkip('test/e2e/image-upstream.test.ts', 'image', CLUSTER_OCTET, MANIFEST);

const bed = bedOf(setup);

describe.skipIf(setup.skip !== undefined)(`upstream v4.3.0's thick manifest with our image${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('its init container installs the shim, its daemon container writes 00-multus.conf, and a pod gets its extra network', async () => {
    expect(existsSync(join(bed().cniBinDir, 'multus-shim'))).toBe(true);
    expect(JSON.parse(readFileSync(join(bed().cniConfDir, '00-multus.conf'), 'utf8'))).toMatchObject({ type: 'multus-shim' });
    bed().nad('default', 'up-a', CLUSTER_OCTET + 1);
    const pod = await bed().runPod('default', 'up-pod', { [NETWORKS]: 'up-a' });
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'net1')[0]).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET + 1}\\.`));
    expect((await bed().awaitNetworkStatus('default', 'up-pod', 2)).map((s) => s.interface)).toEqual(['eth0', 'net1']);
    await bed().removePod(pod);
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });
});
