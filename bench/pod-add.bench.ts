import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execPlugin } from '../src/cni/exec.js';
import { startTestCluster, type TestCluster } from '../test/helpers/cluster.js';
import type { TestHost } from '../test/helpers/host.js';
import { bridgePlugin, multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { track } from './children.js';
import { daemonNodeArgs, envCount, forwardedDaemonEnv } from './env.js';
import type { ScopeOutput } from './scope.js';
import { fixed, summarize, type Summary } from './stats.js';
import type { Table } from './table.js';
import { cpuAdd, cpuPer, cpuSpent, daemonCpu, noThreadCpu, processCpu, readThreadCpu, threadSplit, type ThreadCpu } from './thread-cpu.js';

/** The namespace of the bench's pods and NADs. */
export const NAMESPACE = 'bench';
/** Extra networks per pod, one variant each. */
const EXTRAS = [0, 1, 2] as const;

/** One variant's figures; latencies in ms as the runtime sees them (spawn to exit). */
export interface PodAddFigures {
  extraNetworks: number;
  /** The same delegates run directly, one after the other (as Multus runs them). */
  floorAdd: Summary;
  /** ADD through the shim and the daemon (NADs and the pod from the API server). */
  add: Summary;
  /** Multus's own cost per pod ADD: add.p50 − floorAdd.p50 (design target ≤ 5 ms with 2 extra networks). */
  addOverheadP50Ms: number;
  addRatioP50: number;
  /** DEL of every delegate directly, in reverse order. */
  floorDel: Summary;
  del: Summary;
  delOverheadP50Ms: number;
  delRatioP50: number;
  /** Kubernetes API requests per pod (ADD + DEL), watches excluded (target: 0 reads, ≤ 2 writes). */
  apiReadsPerPod: number;
  apiWritesPerPod: number;
  /** The daemon's CPU per pod (ADD + DEL and what follows them), ms, by thread kind, and its plugins'; its minor page faults per pod. */
  cpuPerPodMs: ThreadCpu;
  /** Every daemon thread, plugins excluded (issue 19's figure: upstream v4.1.4 spends 10.9 / 22.8 ms with 0 / 2 extra networks). */
  daemonCpuPerPodMs: number;
  /** The floor's plugins, ADD + DEL, ms per pod: `cpuPerPodMs.plugins` minus this is what starting them cost Multus. */
  floorPluginCpuPerPodMs: number;
  /**
   * daemonCpuPerPodMs ÷ floorPluginCpuPerPodMs: the machine's speed varies from run to run (by a
   * third here), and this ratio much less, so runs on different days compare by it.
   */
  daemonCpuPerFloorPluginCpu: number;
}

/** One delegate as the floor runs it: its config and interface name. */
export interface Delegate {
  conf: Record<string, unknown>;
  ifname: string;
}

const READ_VERBS = new Set(['get', 'list']);

/**
 * The networks a single-pod bench attaches: the cluster network (bridge + host-local in
 * 198.18.<clusterOctet>.0/24, a conf file in the daemon's confDir) and one bridge NAD per extra
 * octet, named `<prefix><n>` in the bench namespace; each with the interface it gets.
 */
export function benchNetworks(host: TestHost, cluster: TestCluster, clusterOctet: number, extraOctets: readonly number[], prefix: string): { clusterNet: Delegate; confPath: string; extras: Delegate[] } {
  const clusterNet: Delegate = { conf: { cniVersion: '1.0.0', name: 'bench-net', ...bridgePlugin(host, clusterOctet).plugin }, ifname: 'eth0' };
  const confPath = join(cluster.daemon.confDir, 'bench-net.conf');
  writeFileSync(confPath, JSON.stringify(clusterNet.conf));
  const extras = extraOctets.map((octet, k): Delegate => {
    const name = `${prefix}${k + 1}`;
    const conf = { cniVersion: '1.0.0', name, ...bridgePlugin(host, octet).plugin };
    cluster.api.createNad(NAMESPACE, name, JSON.stringify(conf));
    return { conf, ifname: `net${k + 1}` };
  });
  return { clusterNet, confPath, extras };
}

/** The floor: the delegates run directly, one after the other (reverse for DEL); returns ms. */
export async function runDirect(delegates: readonly Delegate[], command: 'ADD' | 'DEL', containerId: string, netns: string, args: string): Promise<number> {
  const started = performance.now();
  for (const d of command === 'ADD' ? delegates : [...delegates].reverse()) {
    const env = { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: d.ifname, CNI_ARGS: args, CNI_PATH: DEBIAN_PLUGINS };
    const outcome = await execPlugin({ pluginType: String(d.conf.type), binDirs: [DEBIAN_PLUGINS], env, stdin: JSON.stringify(d.conf), timeoutMs: 60_000 });
    if (!outcome.ok) throw new Error(`direct ${command} of ${String(d.conf.name)} failed: ${outcome.error.msg}`);
  }
  return performance.now() - started;
}

function table(figures: readonly PodAddFigures[]): Table {
  const three = (s: Summary): string => `${fixed(s.p50, 1)}/${fixed(s.p90, 1)}/${fixed(s.p99, 1)}`;
  return {
    title: 'single pod, sequential: latency ms p50/p90/p99; overhead = Multus p50 − floor p50',
    columns: ['extra nets', 'floor ADD', 'ADD', 'ADD overhead', 'ADD ×floor', 'floor DEL', 'DEL', 'DEL overhead', 'API r/w per pod', 'daemon CPU ms/pod', '÷floor plugins', 'main/kube/pool/V8+libuv', 'page faults/pod', 'plugins CPU (floor)', 'n'],
    rows: figures.map((f) => [
      String(f.extraNetworks),
      three(f.floorAdd),
      three(f.add),
      `+${fixed(f.addOverheadP50Ms)}`,
      `${fixed(f.addRatioP50)}×`,
      three(f.floorDel),
      three(f.del),
      `+${fixed(f.delOverheadP50Ms)}`,
      `${fixed(f.apiReadsPerPod)}/${fixed(f.apiWritesPerPod)}`,
      fixed(f.daemonCpuPerPodMs, 1),
      fixed(f.daemonCpuPerFloorPluginCpu, 2),
      threadSplit(f.cpuPerPodMs),
      fixed(f.cpuPerPodMs.faults, 0),
      `${fixed(f.cpuPerPodMs.plugins, 1)} (${fixed(f.floorPluginCpuPerPodMs, 1)})`,
      String(f.add.n),
    ]),
  };
}

/** One variant's measurements before its first pod. */
function emptySample(): { floorAdd: number[]; floorDel: number[]; add: number[]; del: number[]; reads: number; writes: number; cpu: ThreadCpu; floorCpu: number } {
  return { floorAdd: [], floorDel: [], add: [], del: [], reads: 0, writes: 0, cpu: noThreadCpu(), floorCpu: 0 };
}

/**
 * Single-pod ADD and DEL latency with 0, 1 and 2 extra networks (NADs in the API server
 * stand-in, each a bridge + host-local on its own bridge), against the floor of running the same
 * delegates directly, sequentially. BENCH_ITERATIONS pods per variant (default 100), all created
 * in the API server before timing; the variants and the floor interleave per iteration, in one
 * fresh netns per iteration, so drift hits them alike. Stops early after BENCH_MAX_SECONDS.
 * BENCH_GAP_MS (default 0) idles the daemon that long before each Multus ADD and DEL, as pods
 * one at a time through a runtime do (a daemon's threads cost more CPU woken after a pause).
 */
export async function benchPodAdd(host: TestHost): Promise<ScopeOutput> {
  const iterations = envCount('BENCH_ITERATIONS', 100, 10_000);
  const budgetMs = envCount('BENCH_MAX_SECONDS', 120, 3600) * 1000;
  const gapMs = process.env.BENCH_GAP_MS ? envCount('BENCH_GAP_MS', 1, 10_000) : 0;
  let cluster: TestCluster | undefined;
  const samples = EXTRAS.map(emptySample);
  try {
    cluster = await startTestCluster(host, { binDir: DEBIAN_PLUGINS, logLevel: 'error' }, forwardedDaemonEnv(), daemonNodeArgs());
    track(cluster.daemon.process);
    const { api, daemon } = cluster;
    const { clusterNet, confPath, extras } = benchNetworks(host, cluster, 240, [242, 243], 'bench-extra');
    const stdin = multusStdin(daemon.socketDir, confPath);
    // API requests and the daemon's CPU are charged to the variant whose Multus ADD preceded
    // them (the status patch and the event follow the CNI answer), up to the next Multus ADD.
    const pid = daemon.process.pid ?? 0;
    let charged: (typeof samples)[number] | undefined;
    let cpuMark = readThreadCpu(pid);
    const flush = (next: (typeof samples)[number] | undefined): void => {
      const requests = api.requests().filter((r) => r.verb !== 'watch');
      const reads = requests.filter((r) => READ_VERBS.has(r.verb)).length;
      const cpuNow = readThreadCpu(pid);
      if (charged !== undefined) {
        charged.reads += reads;
        charged.writes += requests.length - reads;
        charged.cpu = cpuAdd(charged.cpu, cpuSpent(cpuMark, cpuNow));
      }
      cpuMark = cpuNow;
      api.resetRequests();
      charged = next;
    };
    const pods = EXTRAS.map((n) =>
      Array.from({ length: iterations }, (_, i) => {
        const name = `pod-add-${n}-${i}`;
        const networks = extras.slice(0, n).map((d) => String(d.conf.name)).join(',');
        const uid = cluster?.pod(NAMESPACE, name, n === 0 ? {} : { 'k8s.v1.cni.cncf.io/networks': networks }) ?? '';
        return { name, args: podArgs(NAMESPACE, name, uid) };
      }),
    );
    // Let the informer see every pod (and the NADs) before timing.
    await delay(Math.max(200, iterations * EXTRAS.length));
    const started = performance.now();
    for (let i = 0; i < iterations && performance.now() - started < budgetMs; i++) {
      const ns = host.netns();
      for (const n of EXTRAS) {
        const s = samples[n];
        const pod = pods[n]?.[i];
        if (s === undefined || pod === undefined) continue;
        const delegates = [clusterNet, ...extras.slice(0, n)];
        const floorId = `floor-${n}-${i}`;
        const floorCpuBefore = processCpu('self').children;
        s.floorAdd.push(await runDirect(delegates, 'ADD', floorId, ns.path, pod.args));
        s.floorDel.push(await runDirect(delegates, 'DEL', floorId, ns.path, pod.args));
        s.floorCpu += processCpu('self').children - floorCpuBefore;
        flush(s);
        const call = { containerId: `pod-add-${n}-${i}`, netns: ns.path, args: pod.args, stdin };
        for (const [command, into] of [['ADD', s.add], ['DEL', s.del]] as const) {
          if (gapMs > 0) await delay(gapMs);
          const out = await runShim({ ...call, command });
          if (out.code !== 0) throw new Error(`${command} through multus failed: ${out.stdout}`);
          into.push(out.wallMs);
        }
      }
      host.deleteNetns(ns.name);
    }
    await delay(200);
    flush(undefined);
  } finally {
    await cluster?.stop();
  }
  const figures = EXTRAS.map((n): PodAddFigures => {
    const s = samples[n] ?? emptySample();
    const [floorAdd, add, floorDel, del] = [summarize(s.floorAdd), summarize(s.add), summarize(s.floorDel), summarize(s.del)];
    const n1 = Math.max(1, add.n);
    return {
      extraNetworks: n,
      floorAdd,
      add,
      addOverheadP50Ms: add.p50 - floorAdd.p50,
      addRatioP50: add.p50 / floorAdd.p50,
      floorDel,
      del,
      delOverheadP50Ms: del.p50 - floorDel.p50,
      delRatioP50: del.p50 / floorDel.p50,
      apiReadsPerPod: s.reads / n1,
      apiWritesPerPod: s.writes / n1,
      cpuPerPodMs: cpuPer(s.cpu, n1),
      daemonCpuPerPodMs: daemonCpu(s.cpu) / n1,
      floorPluginCpuPerPodMs: s.floorCpu / n1,
      daemonCpuPerFloorPluginCpu: s.floorCpu > 0 ? daemonCpu(s.cpu) / s.floorCpu : 0,
    };
  });
  return { figures: { iterations, variants: figures }, tables: [table(figures)] };
}
