import { setTimeout as delay } from 'node:timers/promises';
import { startTestCluster, type TestCluster } from '../test/helpers/cluster.js';
import type { TestHost } from '../test/helpers/host.js';
import { multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { track } from './children.js';
import { daemonNodeArgs, envCount, forwardedDaemonEnv } from './env.js';
import { benchNetworks, NAMESPACE } from './pod-add.bench.js';
import type { ScopeOutput } from './scope.js';
import { fixed } from './stats.js';
import { cpuAdd, cpuPer, cpuSpent, daemonCpu, noThreadCpu, readThreadCpu, threadSplit, type ThreadCpu } from './thread-cpu.js';

/** The first pods after a start, as the runtime scope and issue 19 count them. */
const FIRST = 30;
/** Rounds summed per phase: [from, to) by round index; the last phase is the warm reference. */
const PHASES = [
  { name: 'round 1', from: 0, to: 1 },
  { name: 'rounds 2-5', from: 1, to: 5 },
  { name: `rounds 6-${FIRST}`, from: 5, to: FIRST },
] as const;

/** One phase's daemon CPU per pod, ms, by thread kind, and over the warm pods' rate. */
export interface PhaseFigures {
  name: string;
  pods: number;
  perPodMs: ThreadCpu;
  daemonPerPodMs: number;
  /** This phase's daemon CPU minus as many warm pods' (ms): what being new costs. */
  extraMs: number;
}

export interface FirstPodsFigures {
  /** Spawn to ready, ms, and the daemon's CPU by then. */
  startMs: number;
  startCpuMs: number;
  phases: PhaseFigures[];
  /** The pods after the first FIRST: the reference. */
  warm: PhaseFigures;
  /** The first FIRST pods' daemon CPU per pod ÷ the warm pods'. */
  firstOverWarm: number;
}

/**
 * Where a fresh daemon's extra CPU over its first pods goes, by phase and by thread, with its minor
 * page faults (about 12 µs each on this VM), in about a minute (the runtime scope's "first pods
 * after start" row takes a containerd and six). One pod
 * at a time with the cluster network only, BENCH_GAP_MS (default 300) idle before each ADD and
 * DEL and after the DEL, as through a runtime; BENCH_FIRST_PODS (default 60, at least 31) pods,
 * the ones after the first 30 being the warm reference. BENCH_DAEMON_NODE_ARGS puts V8 flags on
 * the daemon's command line (those NODE_OPTIONS refuses, such as --single-threaded-gc).
 */
export async function benchFirstPods(host: TestHost): Promise<ScopeOutput> {
  const pods = envCount('BENCH_FIRST_PODS', 60, 1000);
  if (pods <= FIRST) throw new RangeError(`BENCH_FIRST_PODS must be more than ${FIRST}: the pods after them are the warm reference`);
  const gapMs = envCount('BENCH_GAP_MS', 300, 10_000);
  let cluster: TestCluster | undefined;
  try {
    const spawned = performance.now();
    const started = await startTestCluster(host, { binDir: DEBIAN_PLUGINS, logLevel: 'error' }, forwardedDaemonEnv(), daemonNodeArgs());
    cluster = started;
    track(started.daemon.process);
    const startMs = performance.now() - spawned;
    const pid = started.daemon.process.pid ?? 0;
    const startCpuMs = daemonCpu(readThreadCpu(pid));
    const { confPath } = benchNetworks(host, started, 247, [], 'first-pods-extra');
    const stdin = multusStdin(started.daemon.socketDir, confPath);
    const args = Array.from({ length: pods }, (_, i) => podArgs(NAMESPACE, `first-pods-${i}`, started.pod(NAMESPACE, `first-pods-${i}`)));
    await started.cached();
    await delay(gapMs);
    const rounds: ThreadCpu[] = [];
    let mark = readThreadCpu(pid);
    for (const [i, podArg] of args.entries()) {
      const ns = host.netns();
      try {
        for (const command of ['ADD', 'DEL'] as const) {
          await delay(gapMs);
          const out = await runShim({ containerId: `first-pods-${i}`, netns: ns.path, args: podArg, stdin, command });
          if (out.code !== 0) throw new Error(`${command} through multus failed: ${out.stdout}`);
        }
      } finally {
        host.deleteNetns(ns.name);
      }
      // What follows the DEL (its log lines, the metrics) belongs to this pod, as the runtime's idle time does.
      await delay(gapMs);
      const now = readThreadCpu(pid);
      rounds.push(cpuSpent(mark, now));
      mark = now;
    }
    const perPod = (name: string, from: number, to: number): Omit<PhaseFigures, 'extraMs'> => {
      const sum = rounds.slice(from, to).reduce(cpuAdd, noThreadCpu());
      return { name, pods: to - from, perPodMs: cpuPer(sum, to - from), daemonPerPodMs: daemonCpu(sum) / (to - from) };
    };
    const warm = perPod(`pods ${FIRST + 1}-${pods} (warm)`, FIRST, pods);
    const phase = (p: Omit<PhaseFigures, 'extraMs'>): PhaseFigures => ({ ...p, extraMs: (p.daemonPerPodMs - warm.daemonPerPodMs) * p.pods });
    const figures: FirstPodsFigures = {
      startMs,
      startCpuMs,
      phases: PHASES.map((p) => phase(perPod(p.name, p.from, p.to))),
      warm: phase(warm),
      firstOverWarm: perPod('first', 0, FIRST).daemonPerPodMs / warm.daemonPerPodMs,
    };
    return { figures, tables: [table(figures)] };
  } finally {
    await cluster?.stop();
  }
}

function table(f: FirstPodsFigures): ScopeOutput['tables'][number] {
  return {
    title: `first pods after a start, one at a time, cluster network only: daemon CPU (plugins excluded); start-up ${fixed(f.startMs, 0)} ms, ${fixed(f.startCpuMs, 0)} ms of CPU; the first ${FIRST} ÷ warm ${fixed(f.firstOverWarm)}`,
    columns: ['pods', 'CPU ms/pod', 'main/kube/pool/V8+libuv', 'extra over warm, ms', 'page faults/pod', 'n'],
    rows: [...f.phases, f.warm].map((p) => [p.name, fixed(p.daemonPerPodMs, 1), threadSplit(p.perPodMs), fixed(p.extraMs, 0), fixed(p.perPodMs.faults, 0), String(p.pods)]),
  };
}
