import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHost } from '../test/helpers/host.js';
import { bridgePlugin } from '../test/helpers/networks.js';
import { E2eBed, NETWORKS, THICK_MANIFEST, type PluginMode } from '../test/e2e/bed.js';
import { Containerd } from '../test/e2e/containerd.js';
import { existingHostSideDirs, removeNewHostSideDirs } from '../test/e2e/host-side-dirs.js';
import { sleep } from '../test/helpers/wait.js';
import { runConcurrently } from './concurrency.js';
import { envCount, envCounts, forwardedDaemonEnv } from './env.js';
import type { ScopeOutput } from './scope.js';
import type { Table } from './table.js';
import { fixed, summarize, type Summary } from './stats.js';
import { cpuPer, cpuSpent, daemonCpu, readThreadCpu, threadSplit, type ThreadCpu } from './thread-cpu.js';

/**
 * Pod start as kubelet sees it: RunPodSandbox time through a real containerd (CRI), with Multus
 * (cluster network only, and with 2 extra networks), against the floor of the same runtime
 * running the same bridge conflist directly, without Multus. Sandboxes are started one at a
 * time and each removed before the next; StopPodSandbox time is reported too. The first
 * sequence after the daemon's start also carries its warm-up (the JIT's first compiles, and a
 * pool thread's start when none is kept: about 140 ms of CPU over the first pods, measured with
 * none) and has its own row; the others run warm. Then churn: pods `inFlight` at a time, rounds
 * of each side interleaved, as issue 19 measures throughput.
 *
 * With BENCH_UPSTREAM_IMAGE (an image bench/upstream-image.sh builds from upstream's source)
 * upstream's daemon runs beside ours, from its own v4.1.4 manifest as a DaemonSet's pod with its
 * own containerd and API stand-in, and every row and round has its upstream twin, interleaved.
 * With MULTUS_IMAGE_ARCHIVE ours runs the same way, from our image.
 */
export interface RuntimeFigures {
  floor: { run: Summary; stop: Summary };
  /** Ours, and upstream's when BENCH_UPSTREAM_IMAGE is set. */
  daemons: DaemonFigures[];
  churn: ChurnThroughput[];
}

/** One daemon's rows. */
export interface DaemonFigures {
  name: string;
  /** The cluster network only, the first pods after the daemon started. */
  cold: { run: Summary; stop: Summary };
  warm: { run: Summary; stop: Summary };
  warm2: { run: Summary; stop: Summary };
  /** Run p50 minus the floor's run p50, ms: cluster network; 2 extra networks (includes their two bridge ADDs). */
  overheadP50Ms: number;
  overhead2P50Ms: number;
  /**
   * The daemon's CPU per pod lifecycle by thread, ms (for ours: main, kube worker, pool, V8's and
   * libuv's; a Go daemon's are main and the rest), idle time between pods included. daemonCpu()
   * of it is its own CPU (plugins excluded), as the issue measures upstream's.
   */
  threadsPerPodMs: { cold: ThreadCpu; warm: ThreadCpu; warm2: ThreadCpu };
  /** The daemon's own CPU while no pod comes or goes (from SETTLE_MS after the last one), ms per second. */
  idleCpuMsPerS: number;
}

/** One churn level through containerd, cluster network only. */
export interface ChurnThroughput {
  inFlight: number;
  /** Pod lifecycles (run, stop, remove) per second of wall time, one figure per round. */
  floorPodsPerSec: number[];
  daemons: Array<{
    name: string;
    podsPerSec: number[];
    /** The median of the daemon's rounds ÷ the median of the floor's (the upper median for an even count; 1.0 = no Multus cost). */
    ratio: number;
    /** The daemon's own CPU per pod lifecycle over its rounds, ms. */
    cpuPerPodMs: number;
  }>;
}

/** A pod's run and its teardown, on one runtime: `run(tag)(i)` starts pod i of a row and returns its sandbox id. */
interface Runtime {
  name: string;
  run: (tag: string, annotations?: Record<string, string>) => (i: number) => Promise<string>;
  stop: (id: string) => Promise<void>;
  remove: (id: string) => Promise<void>;
}

/** A daemon under test: its runtime and its process. */
interface Subject extends Runtime {
  pid: number;
}

const UPSTREAM_MANIFEST = new URL('./fixtures/upstream-v4.1.4-daemonset-thick.yml', import.meta.url).pathname;

/** What `f` returns, and the daemon's CPU by thread while it ran, ms. */
async function withDaemonCpu<T>(pid: number, f: () => Promise<T>): Promise<{ value: T; threads: ThreadCpu }> {
  const before = readThreadCpu(pid);
  const value = await f();
  return { value, threads: cpuSpent(before, readThreadCpu(pid)) };
}

const SETTLE_MS = 3000;
const IDLE_MS = 5000;
/** A churn round stops starting pods after this long, so a stuck runtime cannot hold the bench. */
const CHURN_BUDGET_MS = 300_000;

async function timed(f: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await f();
  return performance.now() - started;
}

/** Start, stop and remove `n` sandboxes one after the other on `rt`, the row `tag`. */
async function sequence(n: number, rt: Runtime, tag: string, annotations: Record<string, string> = {}): Promise<{ run: Summary; stop: Summary }> {
  const runs: number[] = [];
  const stops: number[] = [];
  const run = rt.run(tag, annotations);
  for (let i = 0; i < n; i++) {
    let id = '';
    runs.push(await timed(async () => (id = await run(i))));
    stops.push(await timed(() => rt.stop(id)));
    await rt.remove(id);
  }
  return { run: summarize(runs), stop: summarize(stops) };
}

/** Pod lifecycles (run, stop, remove) on `rt` per second of wall time, `inFlight` at a time. */
async function churnRound(rt: Runtime, tag: string, pods: number, inFlight: number): Promise<number> {
  const run = rt.run(tag);
  const { done, wallMs } = await runConcurrently(pods, inFlight, CHURN_BUDGET_MS, async (i) => {
    const id = await run(i);
    await rt.stop(id);
    await rt.remove(id);
  });
  return done / (wallMs / 1000);
}

/**
 * Rounds of `pods` lifecycles at each level for the floor and every daemon, interleaved (who
 * goes first rotates each round), so that the machine's drifts in speed fall on all alike.
 */
async function churnLevels(floor: Runtime, subjects: Subject[], levels: number[], rounds: number, pods: number): Promise<ChurnThroughput[]> {
  const results: ChurnThroughput[] = [];
  for (const inFlight of levels) {
    const floorPodsPerSec: number[] = [];
    const perSubject = subjects.map((subject) => ({ subject, podsPerSec: [] as number[], cpuMs: 0 }));
    const sides: Array<(tag: string) => Promise<void>> = [
      async (tag) => void floorPodsPerSec.push(await churnRound(floor, tag, pods, inFlight)),
      ...perSubject.map((d) => async (tag: string): Promise<void> => {
        const { value, threads } = await withDaemonCpu(d.subject.pid, () => churnRound(d.subject, tag, pods, inFlight));
        d.podsPerSec.push(value);
        d.cpuMs += daemonCpu(threads);
      }),
    ];
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) await sides[(round + k) % sides.length]?.(`c${inFlight}r${round}`);
    }
    const floorMedian = summarize(floorPodsPerSec).p50;
    results.push({
      inFlight,
      floorPodsPerSec,
      daemons: perSubject.map((d) => ({ name: d.subject.name, podsPerSec: d.podsPerSec, ratio: summarize(d.podsPerSec).p50 / floorMedian, cpuPerPodMs: d.cpuMs / (rounds * pods) })),
    });
  }
  return results;
}

/** Multus's runtime in `bed`: each pod created in its API stand-in first, as the scheduler would. */
function viaMultus(name: string, bed: E2eBed): Subject {
  return {
    name,
    pid: bed.daemonPid(),
    run: (tag, annotations = {}) => async (i) => {
      const pod = `rt-${tag}-${Object.keys(annotations).length}-${i}`;
      const uid = bed.createPod('default', pod, annotations);
      return (await bed.runSandbox('default', pod, uid, annotations)).sandboxId;
    },
    stop: (id) => bed.cri.stopPodSandbox(id),
    remove: (id) => bed.cri.removePodSandbox(id),
  };
}

/** The floor: a containerd whose CNI conf dir holds only a bridge conflist. */
async function startFloor(host: TestHost, cniBinDir: string): Promise<{ containerd: Containerd; runtime: Runtime }> {
  const confDir = join(host.dir, 'floor-net.d');
  mkdirSync(confDir, { recursive: true });
  const br = bridgePlugin(host, FLOOR_OCTET);
  writeFileSync(join(confDir, '10-bridge.conflist'), JSON.stringify({ cniVersion: '0.4.0', name: 'floor', plugins: [br.plugin] }));
  const containerd = await Containerd.start({ dir: join(host.dir, 'containerd-floor'), cniConfDir: confDir, cniBinDir, runId: `${host.id}f` });
  const cri = containerd.cri;
  return {
    containerd,
    runtime: {
      name: 'floor',
      run: (tag) => async (i) => {
        const uid = randomUUID();
        return cri.runPodSandbox({ metadata: { name: `floor-${tag}-${i}`, namespace: 'default', uid }, cgroupParent: containerd.cgroupParent(uid) });
      },
      stop: (id) => cri.stopPodSandbox(id),
      remove: (id) => cri.removePodSandbox(id),
    },
  };
}

/** Octets of 198.18.<octet>.0/24: the floor's network, and per daemon its cluster network and two extra ones. */
const FLOOR_OCTET = 233;
const OCTETS = { ours: { cluster: 200, extra: [231, 232] }, upstream: { cluster: 212, extra: [234, 235] } };

export async function benchRuntime(host: TestHost): Promise<ScopeOutput> {
  const n = envCount('BENCH_RUNTIME_PODS', 30, 1000);
  const upstreamImage = process.env.BENCH_UPSTREAM_IMAGE ?? '';
  const oursImage = process.env.MULTUS_IMAGE_ARCHIVE ?? '';
  const beds: E2eBed[] = [];
  let floor: Containerd | undefined;
  // Several containerds at once: each leaves the host-wide dirs another still used (see host-side-dirs.ts).
  const hostDirs = existingHostSideDirs();
  try {
    const start = async (mode: PluginMode, octets: { cluster: number; extra: number[] }, manifest: string, archive: string): Promise<E2eBed> => {
      const bed = await E2eBed.start(mode, octets.cluster, manifest, forwardedDaemonEnv(), archive);
      beds.push(bed);
      bed.nad('default', 'rt-a', octets.extra[0] ?? 0);
      bed.nad('default', 'rt-b', octets.extra[1] ?? 0);
      return bed;
    };
    const subjects = [viaMultus(oursImage === '' ? 'ours' : 'ours (image)', await start(oursImage === '' ? 'thick' : 'image', OCTETS.ours, THICK_MANIFEST, oursImage))];
    if (upstreamImage !== '') subjects.push(viaMultus('upstream v4.1.4', await start('image-upstream', OCTETS.upstream, UPSTREAM_MANIFEST, upstreamImage)));

    // Each row for every daemon before the next row, so that they share the machine's moments.
    const eachDaemon = async <T>(f: (s: Subject) => Promise<T>): Promise<Array<{ value: T; threads: ThreadCpu }>> => {
      const out: Array<{ value: T; threads: ThreadCpu }> = [];
      for (const s of subjects) out.push(await withDaemonCpu(s.pid, () => f(s)));
      return out;
    };
    const cold = await eachDaemon((s) => sequence(n, s, 'cold'));
    const warm = await eachDaemon((s) => sequence(n, s, 'warm'));
    const warm2 = await eachDaemon((s) => sequence(n, s, 'warm', { [NETWORKS]: 'rt-a,rt-b' }));
    await sleep(SETTLE_MS);
    const idle = await eachDaemon(() => sleep(IDLE_MS));

    const started = await startFloor(host, beds[0]?.cniBinDir ?? '');
    floor = started.containerd;
    const floorFigures = await sequence(n, started.runtime, 'seq');
    const churn = await churnLevels(started.runtime, subjects, envCounts('BENCH_RUNTIME_CHURN', [4, 8], 64), envCount('BENCH_RUNTIME_CHURN_ROUNDS', 3, 20), envCount('BENCH_RUNTIME_CHURN_PODS', 30, 1000));
    const daemons = subjects.map((s, k): DaemonFigures => {
      const c = cold[k];
      const w = warm[k];
      const w2 = warm2[k];
      if (c === undefined || w === undefined || w2 === undefined) throw new Error('a row is missing');
      return {
        name: s.name,
        cold: c.value,
        warm: w.value,
        warm2: w2.value,
        overheadP50Ms: w.value.run.p50 - floorFigures.run.p50,
        overhead2P50Ms: w2.value.run.p50 - floorFigures.run.p50,
        threadsPerPodMs: { cold: cpuPer(c.threads, n), warm: cpuPer(w.threads, n), warm2: cpuPer(w2.threads, n) },
        idleCpuMsPerS: idle[k] === undefined ? NaN : daemonCpu(idle[k].threads) / (IDLE_MS / 1000),
      };
    });
    const figures: RuntimeFigures = { floor: floorFigures, daemons, churn };
    return { figures, tables: runtimeTables(figures) };
  } finally {
    await floor?.stop();
    for (const bed of beds) await bed.stop();
    removeNewHostSideDirs(hostDirs);
  }
}

function runtimeTables(f: RuntimeFigures): Table[] {
  const row = (name: string, r: { run: Summary; stop: Summary }, t?: ThreadCpu): string[] => [
    name,
    fixed(r.run.p50),
    fixed(r.run.p90),
    fixed(r.run.p99),
    fixed(r.run.p50 / f.floor.run.p50),
    fixed(r.stop.p50),
    t === undefined ? '–' : `${fixed(daemonCpu(t))} (${threadSplit(t, ' / ')})`,
    String(r.run.n),
  ];
  const overheads = f.daemons.map((d) => `${d.name} +${fixed(d.overheadP50Ms)} / +${fixed(d.overhead2P50Ms)}`).join('; ');
  return [
    {
      title: `pod start through containerd (RunPodSandbox), ms; overhead at p50 (cluster network / 2 extra networks): ${overheads}`,
      columns: ['runtime', 'run p50', 'run p90', 'run p99', 'run p50 ×floor', 'stop p50', 'daemon CPU ms/pod (main / kube / pool / other threads)', 'n'],
      rows: [
        row('floor: bridge conflist, no Multus', f.floor),
        ...f.daemons.flatMap((d) => [
          row(`${d.name}, cluster network, first pods after start`, d.cold, d.threadsPerPodMs.cold),
          row(`${d.name}, cluster network`, d.warm, d.threadsPerPodMs.warm),
          row(`${d.name}, 2 extra networks (idle CPU ${fixed(d.idleCpuMsPerS)} ms/s)`, d.warm2, d.threadsPerPodMs.warm2),
        ]),
      ],
    },
    {
      title: 'churn through containerd, cluster network only: pod lifecycles (run, stop, remove) per second, rounds interleaved; ×floor of the medians',
      columns: ['in flight', 'floor pods/s (rounds)', ...f.daemons.flatMap((d) => [`${d.name} pods/s`, `${d.name} ×floor`, `${d.name} CPU ms/pod`])],
      rows: f.churn.map((c) => [String(c.inFlight), c.floorPodsPerSec.map((v) => fixed(v, 1)).join(' / '), ...c.daemons.flatMap((d) => [d.podsPerSec.map((v) => fixed(v, 1)).join(' / '), fixed(d.ratio), fixed(d.cpuPerPodMs)])]),
    },
  ];
}
