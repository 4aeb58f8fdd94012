/**
 * The quick-start demo: the built multus-daemon on a temporary config, a pod network namespace,
 * the built multus-shim called exactly as a container runtime calls it, Debian's bridge and
 * host-local plugins doing the work. Prints what the pod got, deletes it, and shows that
 * nothing is left. Needs root (network namespaces).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { TestHost } from '../test/helpers/host.js';
import { bridgePlugin, multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';

function section(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : [];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo creates network namespaces: run it as root');
  if (!existsSync(join(DEBIAN_PLUGINS, 'bridge'))) throw new Error(`no CNI plugins in ${DEBIAN_PLUGINS}: apt-get install containernetworking-plugins`);
  const host = new TestHost();
  let daemon: TestDaemon | undefined;
  try {
    daemon = await startTestDaemon(host.dir, { binDir: DEBIAN_PLUGINS, logLevel: 'info' });
    section(`multus-daemon listening on ${join(daemon.socketDir, 'multus.sock')}`);
    const br = bridgePlugin(host, 250);
    const clusterNetwork = join(daemon.confDir, '10-demo-cluster.conf');
    writeFileSync(clusterNetwork, JSON.stringify({ cniVersion: '1.0.0', name: 'demo-cluster', ...br.plugin }));
    process.stdout.write(`cluster network: ${clusterNetwork} (bridge ${br.bridge}, 198.18.250.0/24)\n`);

    const pod = host.netns();
    const call = {
      containerId: `${host.id}demo`.padEnd(64, '0'),
      netns: pod.path,
      args: podArgs('default', 'demo-pod', 'demo-uid'),
      stdin: multusStdin(daemon.socketDir, clusterNetwork, { cniVersion: '0.4.0' }),
    };
    section(`CNI ADD through multus-shim for pod default/demo-pod (netns ${pod.name})`);
    const add = await runShim({ ...call, command: 'ADD' });
    if (add.code !== 0) throw new Error(`ADD failed: ${add.stdout}`);
    process.stdout.write(`${JSON.stringify(add.json, null, 2)}\n(${add.wallMs.toFixed(1)} ms, shim exit ${add.code})\n`);
    section('the pod\'s interfaces');
    process.stdout.write(host.inNetns(pod.name, '-br', 'addr'));
    section('CNI DEL, twice (the second as RemovePodSandbox sends it: no netns)');
    for (const netns of [pod.path, '']) {
      const del = await runShim({ ...call, netns, command: 'DEL' });
      process.stdout.write(`DEL (netns=${JSON.stringify(netns)}): exit ${del.code} ${del.stdout}\n`);
    }
    section('what is left');
    process.stdout.write(`pod interfaces:\n${host.inNetns(pod.name, '-br', 'addr')}`);
    process.stdout.write(`IP reservations: ${JSON.stringify(listing(join(br.ipamDir, 'demo-cluster')).filter((f) => /^\d/.test(f)))}\n`);
    process.stdout.write(`multus caches: ${JSON.stringify(listing(daemon.cniDir).filter((f) => f !== 'results'))}\n`);
  } finally {
    await daemon?.stop();
    host.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
