import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainPod, exitCodeOf, type ExplainDeps } from '../../src/explain/explain.js';
import type { KubeReader, NadInfo, PodInfo } from '../../src/k8s/protocol.js';
import { FIXTURE_PLUGINS } from '../helpers/paths.js';

/**
 * Every error the planner can raise, as explain names it (the rule ids of the README's
 * "Explain"): manifests of pods that need not exist, NADs from a reader in memory. The end to
 * end checks (explain's verdict = what the ADD then does) are in test/integration/explain.test.ts.
 */
const dir = mkdtempSync('/tmp/explain-rules-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const clusterConf = join(dir, 'cluster.conf');
writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record' }));
mkdirSync(join(dir, 'net.d'));

const NADS: NadInfo[] = [
  { namespace: 'default', name: 'blue', config: JSON.stringify({ cniVersion: '1.0.0', name: 'blue', type: 'cni-record' }), annotations: {} },
  { namespace: 'other', name: 'foreign', config: JSON.stringify({ cniVersion: '1.0.0', name: 'foreign', type: 'cni-record' }), annotations: {} },
  { namespace: 'default', name: 'broken', config: '{"cniVersion": "1.0.0", "name": "broken", ', annotations: {} },
  { namespace: 'default', name: 'sriov', config: JSON.stringify({ cniVersion: '1.0.0', name: 'sriov', type: 'cni-record' }), annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'example.com/vf' } },
];

/** NADs in memory; `failing` names the ones whose read fails as an unreachable API server would. */
function reader(failing: readonly string[] = []): KubeReader {
  return {
    getPod: () => Promise.resolve({ kind: 'missing' }),
    getNad: (namespace, name) => {
      if (failing.includes(name)) return Promise.resolve({ kind: 'error', message: 'connect ECONNREFUSED' });
      const nad = NADS.find((n) => n.namespace === namespace && n.name === name);
      return Promise.resolve(nad === undefined ? { kind: 'missing' } : { kind: 'found', nad });
    },
    nadNamespaces: (name) => Promise.resolve({ kind: 'found', namespaces: NADS.filter((n) => n.name === name).map((n) => n.namespace) }),
    draDevices: () => Promise.resolve({ kind: 'found', devices: [] }),
  };
}

function deps(config: Record<string, unknown> = {}, failing: readonly string[] = []): ExplainDeps {
  return {
    daemonConfig: { cniConfigDir: join(dir, 'no-net.d'), clusterNetwork: clusterConf, confDir: join(dir, 'net.d'), cniDir: join(dir, 'cni'), binDir: FIXTURE_PLUGINS, multusNamespace: 'kube-system', ...config },
    kube: reader(failing),
    cniPath: '',
    chrootDir: '',
    devices: { podResourcesSocket: join(dir, 'no-kubelet.sock'), checkpointFile: join(dir, 'no-checkpoint') },
    deviceInfoDir: join(dir, 'devinfo'),
  };
}

function pod(annotations: Record<string, string>, namespace = 'default'): PodInfo {
  return { namespace, name: 'p', uid: '', annotations, resourceClaims: [] };
}

async function rulesOf(p: PodInfo, d: ExplainDeps = deps()): Promise<{ exit: number; rules: string[] }> {
  const report = await explainPod({ kind: 'manifest', pod: p }, d);
  return { exit: exitCodeOf(report), rules: report.errors.map((e) => e.rule) };
}

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';

describe('explain names every error the planner can raise', () => {
  it('a good pod: no rule, exit 0', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: 'blue' }))).toEqual({ exit: 0, rules: [] });
  });

  it('network-not-found: a default network that exists nowhere', async () => {
    expect(await rulesOf(pod({ [DEFAULT_NETWORK]: 'nowhere' }))).toEqual({ exit: 1, rules: ['network-not-found'] });
  });

  it('conf-dir-unreadable: a network looked for in a confDir that is not there', async () => {
    expect(await rulesOf(pod({ [DEFAULT_NETWORK]: 'nowhere' }), deps({ confDir: join(dir, 'no-such-dir') }))).toEqual({ exit: 1, rules: ['conf-dir-unreadable'] });
  });

  it('namespace-isolation: a NAD of another namespace, with isolation on', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: 'other/foreign' }), deps({ namespaceIsolation: true }))).toEqual({ exit: 1, rules: ['namespace-isolation'] });
  });

  it('default-network-multiple: two default networks', async () => {
    expect(await rulesOf(pod({ [DEFAULT_NETWORK]: 'default/blue,other/foreign' }))).toEqual({ exit: 1, rules: ['default-network-multiple'] });
  });

  it('capability-not-declared: a MAC asked of a plugin that does not take one', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: JSON.stringify([{ name: 'blue', mac: '02:00:00:00:00:09' }]) }))).toEqual({ exit: 1, rules: ['capability-not-declared'] });
  });

  it('device-not-assigned: a NAD with a resourceName and no device from the kubelet', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: 'sriov' }))).toEqual({ exit: 1, rules: ['device-not-assigned'] });
  });

  it('api-unavailable also for the kubelet: a device checkpoint it cannot read, exit 2 (retryable)', async () => {
    const checkpoint = join(dir, 'garbage-checkpoint');
    writeFileSync(checkpoint, 'not json');
    const d = deps();
    expect(await rulesOf(pod({ [NETWORKS]: 'sriov' }), { ...d, devices: { ...d.devices, checkpointFile: checkpoint } })).toEqual({ exit: 2, rules: ['api-unavailable'] });
  });

  it('cluster-network: a clusterNetwork that is nowhere', async () => {
    expect(await rulesOf(pod({}), deps({ clusterNetwork: join(dir, 'gone.conf') }))).toEqual({ exit: 1, rules: ['cluster-network'] });
  });

  it('network-config-invalid: a NAD whose config is not JSON', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: 'broken' }))).toEqual({ exit: 1, rules: ['network-config-invalid'] });
  });

  it('api-unavailable: the API server does not answer a NAD read, exit 2 (cannot tell)', async () => {
    expect(await rulesOf(pod({ [NETWORKS]: 'blue' }), deps({}, ['blue']))).toEqual({ exit: 2, rules: ['api-unavailable'] });
  });
});
