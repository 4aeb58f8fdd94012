import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { execPlugin } from '../src/cni/exec.js';
import { multusStdin } from '../test/helpers/networks.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import type { BenchCluster } from './bench-cluster.js';
import { runConcurrently } from './concurrency.js';
import { CNI_REQUEST, DELEGATE, K8S_REQUEST, KUBE_LAG_P99, MAIN_LAG_P99, metric, POOL_WAIT, scrapeMetrics, windowMean } from './metrics.js';
import { readMemory } from '../test/helpers/proc.js';
import { cpuSpent, daemonCpu, readThreadCpu } from './thread-cpu.js';
import { mean, summarize, type Summary } from './stats.js';

/** The namespace of every pod the churn benches create. */
const NAMESPACE = 'bench';
/** How long one plugin run may take before the bench fails rather than hangs. */
const PLUGIN_TIMEOUT_MS = 60_000;

/** The cluster network a churn level attaches every pod to. */
export interface ChurnNetwork {
  /** `bridge` (Debian's bridge + host-local) or `noop` (bench/fixtures/noop.c). */
  variant: string;
  /** The network's config: written to `confPath` for Multus, run directly by the floor. */
  conf: Record<string, unknown>;
  confPath: string;
  /** Where the floor finds the plugin (and CNI_PATH for the plugins it calls). */
  binDirs: string[];
  /** The network namespace of pod `i` (one per pod for bridge; one shared for noop). */
  netns(i: number): string;
}

/** One level's parameters. */
export interface ChurnLevelOptions {
  bench: BenchCluster;
  network: ChurnNetwork;
  /** Pods to ADD then DEL, on each side (floor and Multus). */
  pods: number;
  /** Pods in flight at once. */
  concurrency: number;
  /** Each side stops starting pods after this long (the level stays bounded in time). */
  budgetMs: number;
  /** Makes pod names and container ids unique in the run. */
  tag: string;
}

/** One side of a level: the floor (plugins run directly) or Multus (shim → daemon → plugins). */
export interface ChurnSide {
  /** Pods that completed ADD and DEL. */
  pods: number;
  wallMs: number;
  /** Completed pods per second of wall time (ADD and DEL both count toward one pod). */
  podsPerSec: number;
  /** ADD latency per pod as the runtime sees it (spawning the plugin, or the shim, to its exit), ms. */
  add: Summary;
  /** DEL latency per pod, the same way, ms. */
  del: Summary;
  /** Mean ADD latency, ms (to set against the daemon's own means, which its histograms give). */
  addMeanMs: number;
}

/** Percentile ratios Multus ÷ floor (1.0 = no overhead). */
export interface Ratios {
  p50: number;
  p90: number;
  p99: number;
}

/** Everything one churn level measures. Undefined daemon figures mean "not exported" (n/a). */
export interface ChurnLevel {
  variant: string;
  concurrency: number;
  floor: ChurnSide;
  multus: ChurnSide;
  /** Multus pods/s ÷ floor pods/s (design target ≥ 0.90). */
  throughputRatio: number;
  addRatio: Ratios;
  delRatio: Ratios;
  /** Kubernetes API requests per pod (ADD + DEL) during the Multus side, watches excluded. */
  apiPerPod: { reads: number; writes: number; total: number };
  /** The daemon's VmHWM (peak since start) and VmRSS right after the level, MiB. */
  daemonPeakMiB: number | undefined;
  daemonRssMiB: number | undefined;
  /** Event-loop delay p99 over the Multus side, ms: the daemon's main thread and its kube worker thread. */
  mainLagP99Ms: number | undefined;
  kubeLagP99Ms: number | undefined;
  /**
   * Where a Multus ADD's time goes, means over the Multus side in ms: as the runtime sees it
   * (multus.addMeanMs), inside the daemon (decoded request to answer), in the delegate plugin
   * runs (spawn to exit, per run), and waiting for a delegate pool slot (per run, ADD and DEL).
   * The runtime's minus the daemon's is the shim and the socket.
   */
  daemonAddMeanMs: number | undefined;
  delegateAddMeanMs: number | undefined;
  poolWaitMeanMs: number | undefined;
  /**
   * Mean Kubernetes API request latency the daemon saw, ms. The stand-in runs in its own process
   * on the same 2 cores, so under load this includes waiting for a CPU.
   */
  apiMeanMs: number | undefined;
  /**
   * Event-loop delay p99 of the bench process itself over the Multus side, ms (including the
   * 10 ms sampling interval): it spawns every shim and times it, so a high value means the
   * runtime side itself was late.
   */
  benchLagP99Ms: number;
  /**
   * The daemon's own CPU per pod over the Multus side (every thread, plugins excluded; ADD, DEL
   * and the writes after them), ms: what each change costs, next to the throughput it allows.
   */
  daemonCpuPerPodMs: number | undefined;
}

function side(adds: number[], dels: number[], pods: number, wallMs: number): ChurnSide {
  return { pods, wallMs, podsPerSec: (pods * 1000) / wallMs, add: summarize(adds), del: summarize(dels), addMeanMs: mean(adds) };
}

function ratios(multus: Summary, floor: Summary): Ratios {
  return { p50: multus.p50 / floor.p50, p90: multus.p90 / floor.p90, p99: multus.p99 / floor.p99 };
}

const seconds = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * 1000);

/** The same plugin run directly, ADD then DEL per pod, at the level's concurrency. */
async function runFloor(opts: ChurnLevelOptions, pods: Array<{ args: string; id: string }>): Promise<ChurnSide> {
  const { network } = opts;
  const adds: number[] = [];
  const dels: number[] = [];
  const stdin = JSON.stringify(network.conf);
  const pluginType = String(network.conf.type);
  const run = await runConcurrently(pods.length, opts.concurrency, opts.budgetMs, async (i) => {
    const pod = pods[i] as { args: string; id: string };
    const env = { CNI_CONTAINERID: `floor-${pod.id}`, CNI_NETNS: network.netns(i), CNI_IFNAME: 'eth0', CNI_ARGS: pod.args, CNI_PATH: network.binDirs.join(':') };
    for (const [command, into] of [['ADD', adds], ['DEL', dels]] as const) {
      const outcome = await execPlugin({ pluginType, binDirs: network.binDirs, env: { ...env, CNI_COMMAND: command }, stdin, timeoutMs: PLUGIN_TIMEOUT_MS });
      if (!outcome.ok) throw new Error(`floor ${network.variant} ${command} failed: ${outcome.error.msg}`);
      into.push(outcome.durationMs);
    }
  });
  return side(adds, dels, run.done, run.wallMs);
}

/** Through the built shim and the daemon, ADD then DEL per pod, at the level's concurrency. */
async function runMultus(opts: ChurnLevelOptions, pods: Array<{ args: string; id: string }>): Promise<ChurnSide> {
  const adds: number[] = [];
  const dels: number[] = [];
  const stdin = multusStdin(opts.bench.daemon.socketDir, opts.network.confPath);
  const run = await runConcurrently(pods.length, opts.concurrency, opts.budgetMs, async (i) => {
    const pod = pods[i] as { args: string; id: string };
    const call = { containerId: pod.id, netns: opts.network.netns(i), args: pod.args, stdin };
    for (const [command, into] of [['ADD', adds], ['DEL', dels]] as const) {
      const out = await runShim({ ...call, command });
      if (out.code !== 0) throw new Error(`multus ${opts.network.variant} ${command} failed: ${out.stdout}`);
      into.push(out.wallMs);
    }
  });
  return side(adds, dels, run.done, run.wallMs);
}

/**
 * One churn level: create the pods in the API server (and let the informer see them), run the
 * floor, then Multus, at the same concurrency; scrape the daemon's metrics right before and
 * right after the Multus side (the event-loop figures are rolling, so the "after" scrape covers
 * just this side); count the API requests it made; delete the pods.
 */
export async function measureChurnLevel(opts: ChurnLevelOptions): Promise<ChurnLevel> {
  const { api, metricsPort, pid } = opts.bench;
  const names = Array.from({ length: opts.pods }, (_, i) => `${opts.tag}-${i}`);
  try {
    const uids = await api.createPods(NAMESPACE, names);
    const pods = names.map((name, i) => ({ id: name, args: podArgs(NAMESPACE, name, uids[i] ?? '') }));
    // The informer has to see the pods first, or ADD falls back to live GETs (counted below).
    await delay(Math.max(200, opts.pods));
    const floor = await runFloor(opts, pods);
    const before = await scrapeMetrics(metricsPort);
    await api.resetRequests();
    const benchLag = monitorEventLoopDelay({ resolution: 10 });
    benchLag.enable();
    const cpuBefore = pid === undefined ? undefined : readThreadCpu(pid);
    const multus = await runMultus(opts, pods);
    benchLag.disable();
    const after = await scrapeMetrics(metricsPort);
    const memory = readMemory(pid);
    await delay(100); // events posted after the last ADD
    const cpu = pid === undefined || cpuBefore === undefined ? undefined : cpuSpent(cpuBefore, readThreadCpu(pid));
    const requests = await api.countRequests();
    const per = (n: number): number => n / Math.max(1, multus.pods);
    return {
      variant: opts.network.variant,
      concurrency: opts.concurrency,
      floor,
      multus,
      throughputRatio: multus.podsPerSec / floor.podsPerSec,
      addRatio: ratios(multus.add, floor.add),
      delRatio: ratios(multus.del, floor.del),
      apiPerPod: { reads: per(requests.reads), writes: per(requests.writes), total: per(requests.reads + requests.writes) },
      daemonPeakMiB: memory?.peakMiB,
      daemonRssMiB: memory?.rssMiB,
      mainLagP99Ms: seconds(metric(after, MAIN_LAG_P99)),
      kubeLagP99Ms: seconds(metric(after, KUBE_LAG_P99)),
      daemonAddMeanMs: seconds(windowMean(before, after, CNI_REQUEST, { command: 'ADD', result: 'ok' })),
      delegateAddMeanMs: seconds(windowMean(before, after, DELEGATE, { command: 'ADD', result: 'ok' })),
      poolWaitMeanMs: seconds(windowMean(before, after, POOL_WAIT)),
      apiMeanMs: seconds(windowMean(before, after, K8S_REQUEST)),
      benchLagP99Ms: benchLag.percentile(99) / 1e6,
      daemonCpuPerPodMs: cpu === undefined ? undefined : per(daemonCpu(cpu)),
    };
  } finally {
    await api.deletePods(NAMESPACE, names);
    await api.resetRequests();
  }
}
