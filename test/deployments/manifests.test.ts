import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { readMultusConf } from '../../src/config/multus-conf.js';
import { parseTunables } from '../../src/config/env.js';
import { API_ACCESS } from '../../src/k8s/api-access.js';
import { MULTUS_GROUP } from '../../src/k8s/csr.js';
import { ROOT } from '../helpers/paths.js';

// Kubernetes manifests are untyped YAML: this test walks them as plain data.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access */
type Doc = Record<string, any>;

/** One manifest's documents, and lookups into them. */
function manifest(file: string) {
  const docs = parseAllDocuments(readFileSync(`${ROOT}deployments/${file}`, 'utf8')).map((d) => d.toJS() as Doc);
  const byKind = (kind: string): Doc => {
    const doc = docs.find((d) => d.kind === kind);
    if (doc === undefined) throw new Error(`no ${kind} in ${file}`);
    return doc;
  };
  const ds = byKind('DaemonSet');
  const pod = ds.spec.template.spec as Doc;
  const volumes = new Map<string, Doc>((pod.volumes as Doc[]).map((v) => [v.name as string, v]));
  /** The host path behind a path inside `container`, or undefined when it is not on a volume. */
  function hostPathOf(container: Doc, path: string): string | undefined {
    for (const m of container.volumeMounts as Doc[]) {
      const mount = (m.mountPath as string).replace(/\/$/, '');
      if (path === mount || path.startsWith(`${mount}/`)) {
        const v = volumes.get(m.name as string);
        if (v?.hostPath !== undefined) return `${(v.hostPath.path as string).replace(/\/$/, '')}${path.slice(mount.length)}`;
        if (v?.configMap !== undefined) return `configmap:${path.slice(mount.length)}`;
      }
    }
    return undefined;
  }
  return { docs, byKind, ds, pod, main: pod.containers[0] as Doc, init: pod.initContainers[0] as Doc, hostPathOf, daemonConfig: parseDaemonConfig(JSON.parse(byKind('ConfigMap').data['daemon-config.json'] as string), `${file} ConfigMap`) };
}

/** The ClusterRole's grants as `group|resource|verb`, sorted. */
function grants(role: Doc): string[] {
  return (role.rules as Doc[]).flatMap((r) => (r.apiGroups as string[]).flatMap((g) => (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${g}|${res}|${v}`)))).sort();
}

const NEEDED = API_ACCESS.flatMap((a) => a.verbs.map((v) => `${a.apiGroup}|${a.resource}|${v}`)).sort();

describe('thick DaemonSet manifest', () => {
  const { docs, byKind, ds, pod, main, hostPathOf, daemonConfig } = manifest('multus-daemonset-thick.yml');

  it('defines the NetworkAttachmentDefinition CRD of the multi-net spec (MN-2)', () => {
    const crd = byKind('CustomResourceDefinition');
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' } });
    expect(crd.spec).toMatchObject({ group: 'k8s.cni.cncf.io', scope: 'Namespaced', names: { plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition' } });
    // upstream v4.3.0 added `nad` (kubectl get nad).
    expect(crd.spec.names.shortNames).toEqual(['net-attach-def', 'nad']);
    expect(crd.spec.versions).toEqual([expect.objectContaining({ name: 'v1', served: true, storage: true })]);
    expect(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.config.type).toBe('string');
  });

  it('grants exactly the API access the daemon uses, to the ServiceAccount the DaemonSet runs as', () => {
    expect(grants(byKind('ClusterRole'))).toEqual(NEEDED);
    const binding = byKind('ClusterRoleBinding');
    expect(binding.roleRef.name).toBe(byKind('ClusterRole').metadata.name);
    expect(binding.subjects[0]).toMatchObject({ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: ds.metadata.namespace });
    expect(byKind('ServiceAccount').metadata).toMatchObject({ name: pod.serviceAccountName, namespace: ds.metadata.namespace });
  });

  it('grants the per-node certificate identities (group system:multus) the same access', () => {
    const binding = docs.find((d) => d.kind === 'ClusterRoleBinding' && d.metadata.name === 'multus-node-certificates');
    expect(binding?.roleRef).toMatchObject({ kind: 'ClusterRole', name: byKind('ClusterRole').metadata.name });
    expect(binding?.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: MULTUS_GROUP }]);
  });

  it('gives the daemon its node name, its config, and a host mount for every path it uses', () => {
    expect(main.env).toContainEqual({ name: 'MULTUS_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    const configFlag = (main.command as string[]).indexOf('-config');
    expect(hostPathOf(main, (main.command as string[])[configFlag + 1] as string)).toBe('configmap:/daemon-config.json');
    const conf = readMultusConf(daemonConfig.raw);
    expect(hostPathOf(main, daemonConfig.socketDir.replace(/\/$/, ''))).toBe('/run/multus');
    expect(hostPathOf(main, daemonConfig.raw.cniConfigDir as string)).toBe('/etc/cni/net.d');
    expect(hostPathOf(main, daemonConfig.raw.multusAutoconfigDir as string)).toBe('/etc/cni/net.d');
    expect(hostPathOf(main, conf.cniDir)).toBe('/var/lib/cni/multus');
    expect(hostPathOf(main, conf.confDir)).toBe('/etc/cni/multus/net.d');
    expect(hostPathOf(main, daemonConfig.chrootDir)).toBe('');
    expect(hostPathOf(main, '/run/netns')).toBe('/run/netns');
    // Device IDs and device-info (upstream's paths); /var/run is /run in the Debian image.
    const tunables = parseTunables({});
    expect(hostPathOf(main, tunables.podResourcesSocket)).toBe('/var/lib/kubelet/pod-resources/kubelet.sock');
    expect(hostPathOf(main, tunables.deviceCheckpointFile)).toBe('/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint');
    expect(hostPathOf(main, tunables.deviceInfoDir.replace(/^\/var\/run\//, '/run/'))).toBe('/run/k8s.cni.cncf.io/devinfo');
  });

  it('installs the shim into the host directory the delegates are found in, and probes the metrics port', () => {
    const init = pod.initContainers[0] as Doc;
    const dest = (init.command as string[])[(init.command as string[]).indexOf('-d') + 1] as string;
    expect(init.command).toContain('install');
    expect(hostPathOf(init, dest)).toBe(readMultusConf(daemonConfig.raw).binDir);
    const metricsPort = (main.ports as Doc[]).find((p) => p.name === 'metrics');
    expect(metricsPort?.containerPort).toBe(daemonConfig.metricsPort);
    expect(main.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(main.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(main.resources.limits.memory).toBeDefined();
  });
});

describe('thin DaemonSet manifest', () => {
  const thin = manifest('multus-daemonset.yml');
  const thick = manifest('multus-daemonset-thick.yml');

  it('carries the same CRD, RBAC and ServiceAccount as the thick one', () => {
    for (const kind of ['CustomResourceDefinition', 'ClusterRoleBinding', 'ServiceAccount']) expect(thin.byKind(kind)).toEqual(thick.byKind(kind));
    expect(grants(thin.byKind('ClusterRole'))).toEqual(NEEDED);
    expect(thin.pod.serviceAccountName).toBe('multus');
  });

  it('installs the thin plugin into the host CNI bin dir and runs the thin entrypoint on the mounted config', () => {
    const dest = (thin.init.command as string[])[(thin.init.command as string[]).indexOf('-d') + 1] as string;
    expect(thin.init.command).toEqual(expect.arrayContaining(['install', '-t', 'thin']));
    expect(thin.hostPathOf(thin.init, dest)).toBe('/opt/cni/bin');
    const command = thin.main.command as string[];
    expect(command).toContain('thin');
    expect(thin.hostPathOf(thin.main, command[command.indexOf('-config') + 1] as string)).toBe('configmap:/daemon-config.json');
  });

  it('writes 00-multus.conf and the kubeconfig where the host (and so the plugin) finds them', () => {
    const raw = thin.daemonConfig.raw;
    expect(thin.hostPathOf(thin.main, raw.cniConfigDir as string)).toBe('/etc/cni/net.d');
    expect(thin.hostPathOf(thin.main, raw.multusAutoconfigDir as string)).toBe('/etc/cni/net.d');
    // The entrypoint writes <cniConfigDir>/multus.d/multus.kubeconfig; the plugin reads the host path.
    expect(thin.hostPathOf(thin.main, `${raw.cniConfigDir as string}/multus.d/multus.kubeconfig`)).toBe(raw.multusKubeconfigFileHost);
    expect(thin.main.resources.limits.memory).toBeDefined();
  });

  it('gives both DaemonSets\' pods 30 s to drain on SIGTERM, as upstream\'s next release does', () => {
    for (const m of [thin, thick]) expect(m.pod.terminationGracePeriodSeconds).toBe(30);
  });
});
