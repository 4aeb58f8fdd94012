import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execPlugin } from '../src/cni/exec.js';
import type { TestDaemon } from '../test/helpers/daemon.js';
import type { TestHost } from '../test/helpers/host.js';
import { bridgePlugin, multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { summarize, type Summary } from './stats.js';

/**
 * Single-pod ADD latency through the shim and the daemon, against the floor of running the same
 * bridge plugin directly (what a runtime would pay without Multus), sequentially, one netns
 * per pod. DEL is measured the same way.
 */
export async function benchPodAdd(host: TestHost, daemon: TestDaemon, iterations: number): Promise<Record<string, Summary | number>> {
  const br = bridgePlugin(host, 240);
  const conf = { cniVersion: '1.0.0', name: 'bench-net', ...br.plugin };
  const confPath = join(daemon.confDir, 'bench-net.conf');
  writeFileSync(confPath, JSON.stringify(conf));
  const samples = { floorAdd: [] as number[], floorDel: [] as number[], add: [] as number[], del: [] as number[] };
  for (let i = 0; i < iterations; i++) {
    const ns = host.netns();
    const direct = { CNI_CONTAINERID: `floor${i}`, CNI_NETNS: ns.path, CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1', CNI_PATH: DEBIAN_PLUGINS };
    for (const [cmd, into] of [['ADD', samples.floorAdd], ['DEL', samples.floorDel]] as const) {
      const outcome = await execPlugin({ pluginType: 'bridge', binDirs: [DEBIAN_PLUGINS], env: { ...direct, CNI_COMMAND: cmd }, stdin: JSON.stringify(conf), timeoutMs: 10_000 });
      if (!outcome.ok) throw new Error(`direct ${cmd} failed: ${outcome.error.msg}`);
      into.push(outcome.durationMs);
    }
    const call = { containerId: `bench${host.id}${i}`, netns: ns.path, args: podArgs('bench', `pod${i}`), stdin: multusStdin(daemon.socketDir, confPath) };
    for (const [cmd, into] of [['ADD', samples.add], ['DEL', samples.del]] as const) {
      const out = await runShim({ ...call, command: cmd });
      if (out.code !== 0) throw new Error(`${cmd} through multus failed: ${out.stdout}`);
      into.push(out.wallMs);
    }
    host.deleteNetns(ns.name);
  }
  const [floorAdd, add, floorDel, del] = [summarize(samples.floorAdd), summarize(samples.add), summarize(samples.floorDel), summarize(samples.del)];
  return { floorAdd, add, addOverheadP50Ms: add.p50 - floorAdd.p50, addRatioP50: add.p50 / floorAdd.p50, floorDel, del, delOverheadP50Ms: del.p50 - floorDel.p50 };
}
