import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { NETWORKS, bedHooks, bedOf, startImageBedOrSkip } from './bed.js';

/**
 * Upstream's own thin manifest (v4.3.0, test/e2e/fixtures) with our image swapped in, through
 * CRI: upstream's commands (`/install_multus --type thin`, `/thin_entrypoint
 * --multus-conf-file=auto --multus-autoconfig-dir=… --cni-conf-dir=…`) and mounts. What this test
 * node has elsewhere than a real node, the entrypoint is told with upstream's own flags (the
 * kubeconfig's host path, since the CNI conf dir is not /etc/cni/net.d here; a log file); the
 * plugin keeps its delegate cache where upstream's does, /var/lib/cni/multus.
 */
const CLUSTER_OCTET = 235;
const MANIFEST = new URL('./fixtures/upstream-v4.3.0-daemonset-thin.yml', import.meta.url).pathname;
const setup = await startImageBedOrSkip('test/e2e/image-upstream-thin.test.ts', 'image-thin', CLUSTER_OCTET, MANIFEST);

const bed = bedOf(setup);

describe.skipIf(setup.skip !== undefined)(`upstream v4.3.0's thin manifest with our image${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('its init container installs the thin plugin, its entrypoint writes 00-multus.conf, and a pod attaches through the plugin', async () => {
    expect(existsSync(join(bed().cniBinDir, 'multus'))).toBe(true);
    expect(await bed().multusConf((c) => c.type === 'multus')).toMatchObject({ type: 'multus', kubeconfig: join(bed().cniConfDir, 'multus.d', 'multus.kubeconfig') });
    bed().nad('default', 'upthin-a', CLUSTER_OCTET + 1);
    const pod = await bed().runPod('default', 'upthin-pod', { [NETWORKS]: 'upthin-a' });
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'net1')[0]).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET + 1}\\.`));
    expect(bed().networkStatus('default', 'upthin-pod').map((s) => s.interface)).toEqual(['eth0', 'net1']);
    await bed().removePod(pod);
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });
});
