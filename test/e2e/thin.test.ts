import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN } from './audit.js';
import { NETWORKS, bedHooks, bedOf, startBedOrSkip } from './bed.js';

/**
 * The thin plugin through a real container runtime: containerd runs /opt/cni/bin/multus (as
 * installed by `multus-daemon install -t thin`) with the 00-multus.conf the thin entrypoint
 * generated; no daemon exists. Same host audit as the thick suite.
 */
const CLUSTER_OCTET = 210;
const setup = await startBedOrSkip('thin', CLUSTER_OCTET);

const bed = bedOf(setup);


describe.skipIf(setup.skip !== undefined)(`thin plugin through containerd + CRI${setup.skip === undefined ? '' : ` (skipped: ${setup.skip})`}`, () => {
  bedHooks(setup);

  it('the entrypoint generated a 00-multus.conf of type multus that embeds the master', async () => {
    const conf = await bed().multusConf((c) => c.type === 'multus');
    expect(conf).toMatchObject({ type: 'multus', delegates: [JSON.parse(readFileSync(bed().cluster.confPath, 'utf8')) as unknown] });
    expect(conf).not.toHaveProperty('clusterNetwork');
  });

  it('a pod with two extra networks: eth0 + net1 + net2, network-status written before READY, nothing left after removal', async () => {
    bed().nad('default', 'thin-a', 211);
    bed().nad('default', 'thin-b', 212);
    const pod = await bed().runPod('default', 'thin-multi', { [NETWORKS]: 'thin-a, default/thin-b' });
    // Upstream's thin plugin writes the annotation before it answers: no waiting here.
    expect(bed().networkStatus('default', 'thin-multi').map((s) => [s.name, s.interface, s.default ?? false])).toEqual([
      ['e2e-cluster', 'eth0', true],
      ['default/thin-a', 'net1', false],
      ['default/thin-b', 'net2', false],
    ]);
    const { status } = await bed().cri.podSandboxStatus(pod.sandboxId);
    expect(status.state).toBe('SANDBOX_READY');
    expect(status.network?.ip).toMatch(new RegExp(`^198\\.18\\.${CLUSTER_OCTET}\\.\\d+$`));
    const { path } = await bed().sandboxNetns(pod);
    expect(bed().addresses(path, 'net1')).toEqual([expect.stringMatching(/^198\.18\.211\.\d+\/24$/)]);
    expect(bed().addresses(path, 'net2')).toEqual([expect.stringMatching(/^198\.18\.212\.\d+\/24$/)]);

    await bed().removePod(pod);
    const calls = bed().cniCalls('default', 'thin-multi');
    expect(calls[0], calls.join(', ')).toBe('ADD ok');
    expect(calls.slice(1).every((c) => c === 'DEL ok') && calls.length >= 2, calls.join(', ')).toBe(true);
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });

  it('a missing NAD: RunPodSandbox fails with the plugin\'s error, nothing left behind', async () => {
    const uid = bed().createPod('default', 'thin-orphan', { [NETWORKS]: 'no-such-net' });
    await expect(bed().runSandbox('default', 'thin-orphan', uid, { [NETWORKS]: 'no-such-net' })).rejects.toThrow(/cannot find a network-attachment-definition \(no-such-net\)/);
    expect(bed().cniCalls('default', 'thin-orphan')[0]).toBe('ADD error');
    expect(await bed().audit(), bed().diagnostics()).toEqual(CLEAN);
  });

  it('the plugin ran from the installed runtime, not from this checkout', () => {
    const launcher = readFileSync(join(bed().cniBinDir, 'multus'), 'utf8');
    expect(launcher).toContain('runtime=${0%/*}/multus-ts\n');
    expect(launcher).toContain('"$runtime/multus-spawner" --thin "$@"');
  });
});
