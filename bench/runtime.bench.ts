import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHost } from '../test/helpers/host.js';
import { bridgePlugin } from '../test/helpers/networks.js';
import { E2eBed, NETWORKS } from '../test/e2e/bed.js';
import { Containerd } from '../test/e2e/containerd.js';
import { sleep } from '../test/helpers/wait.js';
import { envCount, forwardedDaemonEnv } from './env.js';
import type { ScopeOutput } from './scope.js';
import { fixed, summarize, type Summary } from './stats.js';
import { cpuSpent, daemonCpu, readThreadCpu } from './thread-cpu.js';

/**
 * Pod start as kubelet sees it: RunPodSandbox time through a real containerd (CRI), with Multus
 * (cluster network only, and with 2 extra networks), against the floor of the same runtime
 * running the same bridge conflist directly, without Multus. Sandboxes are started one at a
 * time and each removed before the next; StopPodSandbox time is reported too. The first
 * sequence after the daemon's start also carries its warm-up (the JIT's first compiles, and a
 * pool thread's start when none is kept: about 140 ms of CPU over the first pods, measured with
 * none) and has its own row; the others run warm.
 */
export interface RuntimeFigures {
  floor: { run: Summary; stop: Summary };
  /** The cluster network only, the first pods after the daemon started. */
  multusCold: { run: Summary; stop: Summary };
  multus: { run: Summary; stop: Summary };
  multus2: { run: Summary; stop: Summary };
  /** Multus run p50 minus the floor's run p50, ms. */
  overheadP50Ms: number;
  /** With 2 extra networks: run p50 minus the floor's run p50, ms (includes the two extra bridge ADDs). */
  overhead2P50Ms: number;
  /** The daemon's own CPU (all its threads, not its plugins) per pod lifecycle, ms, as the issue measures upstream's: cluster network only, and 2 extra networks; idle time between pods included. */
  daemonCpuPerPodMs: { multusCold: number; multus: number; multus2: number };
  /** The daemon's own CPU while no pod comes or goes (from SETTLE_MS after the last one), ms per second. */
  daemonIdleCpuMsPerS: number;
}

/** What `f` returns, and the daemon's own CPU spent while it ran, ms. */
async function withDaemonCpu<T>(pid: number, f: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const before = readThreadCpu(pid);
  const value = await f();
  return { value, cpuMs: daemonCpu(cpuSpent(before, readThreadCpu(pid))) };
}

const SETTLE_MS = 3000;
const IDLE_MS = 5000;

async function timed(f: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await f();
  return performance.now() - started;
}

/** Start, stop and remove `n` sandboxes one after the other; `run` starts one and returns its id. */
async function sequence(n: number, run: (i: number) => Promise<string>, stop: (id: string) => Promise<void>, remove: (id: string) => Promise<void>): Promise<{ run: Summary; stop: Summary }> {
  const runs: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < n; i++) {
    let id = '';
    runs.push(await timed(async () => (id = await run(i))));
    stops.push(await timed(() => stop(id)));
    await remove(id);
  }
  return { run: summarize(runs), stop: summarize(stops) };
}

export async function benchRuntime(host: TestHost): Promise<ScopeOutput> {
  const n = envCount('BENCH_RUNTIME_PODS', 30, 1000);
  const bed = await E2eBed.start('thick', undefined, undefined, forwardedDaemonEnv());
  let floor: Containerd | undefined;
  try {
    bed.nad('default', 'rt-a', 231);
    bed.nad('default', 'rt-b', 232);
    const cri = bed.cri;
    const stop = (id: string): Promise<void> => cri.stopPodSandbox(id);
    const remove = (id: string): Promise<void> => cri.removePodSandbox(id);
    const viaMultus = (annotations: Record<string, string>, tag = 'warm') => async (i: number): Promise<string> => {
      const name = `rt-${tag}-${Object.keys(annotations).length}-${i}`;
      const uid = bed.createPod('default', name, annotations);
      return (await bed.runSandbox('default', name, uid, annotations)).sandboxId;
    };
    const pid = bed.daemon.process.pid ?? 0;
    const { value: multusCold, cpuMs: cpuCold } = await withDaemonCpu(pid, () => sequence(n, viaMultus({}, 'cold'), stop, remove));
    const { value: multus, cpuMs: cpu } = await withDaemonCpu(pid, () => sequence(n, viaMultus({}), stop, remove));
    const { value: multus2, cpuMs: cpu2 } = await withDaemonCpu(pid, () => sequence(n, viaMultus({ [NETWORKS]: 'rt-a,rt-b' }), stop, remove));
    await sleep(SETTLE_MS);
    const { cpuMs: idle } = await withDaemonCpu(pid, () => sleep(IDLE_MS));

    // The floor: a second containerd whose CNI conf dir holds only a bridge conflist.
    const confDir = join(host.dir, 'floor-net.d');
    mkdirSync(confDir, { recursive: true });
    const br = bridgePlugin(host, 233);
    writeFileSync(join(confDir, '10-bridge.conflist'), JSON.stringify({ cniVersion: '0.4.0', name: 'floor', plugins: [br.plugin] }));
    floor = await Containerd.start({ dir: join(host.dir, 'containerd-floor'), cniConfDir: confDir, cniBinDir: bed.cniBinDir, runId: `${host.id}f` });
    const floorCri = floor.cri;
    const floorRuntime = floor;
    const floorFigures = await sequence(
      n,
      async (i) => {
        const uid = randomUUID();
        return floorCri.runPodSandbox({ metadata: { name: `floor-${i}`, namespace: 'default', uid }, cgroupParent: floorRuntime.cgroupParent(uid) });
      },
      (id) => floorCri.stopPodSandbox(id),
      (id) => floorCri.removePodSandbox(id),
    );
    const figures: RuntimeFigures = {
      floor: floorFigures,
      multusCold,
      multus,
      multus2,
      overheadP50Ms: multus.run.p50 - floorFigures.run.p50,
      overhead2P50Ms: multus2.run.p50 - floorFigures.run.p50,
      daemonCpuPerPodMs: { multusCold: cpuCold / n, multus: cpu / n, multus2: cpu2 / n },
      daemonIdleCpuMsPerS: idle / (IDLE_MS / 1000),
    };
    const row = (name: string, f: { run: Summary; stop: Summary }, daemonCpuMs: string): string[] => [name, fixed(f.run.p50), fixed(f.run.p90), fixed(f.run.p99), fixed(f.run.p50 / floorFigures.run.p50), fixed(f.stop.p50), daemonCpuMs, String(f.run.n)];
    return {
      figures,
      tables: [
        {
          title: `pod start through containerd (RunPodSandbox), ms; Multus overhead at p50: +${fixed(figures.overheadP50Ms)} (cluster network), +${fixed(figures.overhead2P50Ms)} (2 extra networks)`,
          columns: ['runtime', 'run p50', 'run p90', 'run p99', 'run p50 ×floor', 'stop p50', `daemon CPU ms/pod (idle: ${fixed(figures.daemonIdleCpuMsPerS)} ms/s)`, 'n'],
          rows: [row('floor: bridge conflist, no Multus', floorFigures, '–'), row('Multus, cluster network, first pods after start', multusCold, fixed(cpuCold / n)), row('Multus, cluster network', multus, fixed(cpu / n)), row('Multus, 2 extra networks', multus2, fixed(cpu2 / n))],
        },
      ],
    };
  } finally {
    await floor?.stop();
    await bed.stop();
  }
}
