/**
 * The quick-start demo: the in-repo Kubernetes API server stand-in with two
 * NetworkAttachmentDefinitions and a pod that asks for both; the built multus-daemon reaching
 * that API through a kubeconfig; the built multus-shim called exactly as a container runtime
 * calls it; Debian's bridge and host-local plugins doing the work in a real network namespace.
 * Prints what the pod got and its network-status annotation, deletes it, and shows that nothing
 * is left. Needs root (network namespaces).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestCluster, type TestCluster } from '../test/helpers/cluster.js';
import { TestHost } from '../test/helpers/host.js';
import { bridgePlugin, multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { until } from '../test/helpers/wait.js';

function section(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

function reservations(...dirs: string[]): string[] {
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String) : [])).filter((f) => /\d+\.\d+\.\d+\.\d+$/.test(f));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo creates network namespaces: run it as root');
  if (!existsSync(join(DEBIAN_PLUGINS, 'bridge'))) throw new Error(`no CNI plugins in ${DEBIAN_PLUGINS}: apt-get install containernetworking-plugins`);
  const host = new TestHost();
  let cluster: TestCluster | undefined;
  try {
    cluster = await startTestCluster(host, { binDir: DEBIAN_PLUGINS, logLevel: 'info' });
    section(`multus-daemon on ${join(cluster.daemon.socketDir, 'multus.sock')}, API server stand-in at ${cluster.api.url}`);

    const clusterNet = bridgePlugin(host, 250);
    const clusterNetwork = join(cluster.daemon.confDir, '10-demo-cluster.conf');
    writeFileSync(clusterNetwork, JSON.stringify({ cniVersion: '1.0.0', name: 'demo-cluster', ...clusterNet.plugin }));
    process.stdout.write(`cluster network: ${clusterNetwork} (bridge ${clusterNet.bridge}, 198.18.250.0/24)\n`);
    const frontend = bridgePlugin(host, 251);
    const backend = bridgePlugin(host, 252);
    cluster.api.createNad('default', 'frontend', JSON.stringify({ cniVersion: '1.0.0', ...frontend.plugin }));
    cluster.api.createNad('default', 'backend', JSON.stringify({ cniVersion: '1.0.0', ...backend.plugin }));
    process.stdout.write(`NADs: default/frontend (bridge ${frontend.bridge}, 198.18.251.0/24), default/backend (bridge ${backend.bridge}, 198.18.252.0/24)\n`);
    const annotation = '[{"name":"frontend"},{"name":"backend","interface":"back0"}]';
    const uid = cluster.pod('default', 'demo-pod', { 'k8s.v1.cni.cncf.io/networks': annotation });
    process.stdout.write(`pod default/demo-pod (uid ${uid}) with k8s.v1.cni.cncf.io/networks: ${annotation}\n`);

    const netns = host.netns();
    const call = {
      containerId: `${host.id}demo`.padEnd(64, '0'),
      netns: netns.path,
      args: podArgs('default', 'demo-pod', uid),
      stdin: multusStdin(cluster.daemon.socketDir, clusterNetwork, { cniVersion: '0.4.0' }),
    };
    section(`CNI ADD through multus-shim (netns ${netns.name})`);
    const add = await runShim({ ...call, command: 'ADD' });
    if (add.code !== 0) throw new Error(`ADD failed: ${add.stdout}`);
    process.stdout.write(`result for the runtime (eth0, in the stdin's cniVersion 0.4.0):\n${JSON.stringify(add.json)}\n(${add.wallMs.toFixed(1)} ms, shim exit ${add.code})\n`);
    section('the pod\'s interfaces');
    process.stdout.write(host.inNetns(netns.name, '-br', 'addr'));
    section('the pod\'s k8s.v1.cni.cncf.io/network-status annotation');
    // Written right after the runtime got its answer.
    const networkStatus = (): string | undefined => (cluster?.api.getPod('default', 'demo-pod') as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'];
    // Shown as missing when it does not come.
    await until(() => networkStatus() !== undefined, 'the network-status annotation', 2000).catch(() => undefined);
    process.stdout.write(`${networkStatus() ?? '(missing)'}\n`);

    section('CNI DEL, twice (the second as RemovePodSandbox sends it: no netns)');
    for (const path of [netns.path, '']) {
      const del = await runShim({ ...call, netns: path, command: 'DEL' });
      process.stdout.write(`DEL (netns=${JSON.stringify(path)}): exit ${del.code} ${del.stdout}\n`);
    }
    section('what is left');
    process.stdout.write(`pod interfaces:\n${host.inNetns(netns.name, '-br', 'addr')}`);
    process.stdout.write(`IP reservations: ${JSON.stringify(reservations(clusterNet.ipamDir, frontend.ipamDir, backend.ipamDir))}\n`);
    process.stdout.write(`multus caches: ${JSON.stringify(readdirSync(cluster.daemon.cniDir).filter((f) => f !== 'results'))}\n`);
  } finally {
    await cluster?.stop();
    host.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
