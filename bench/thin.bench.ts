import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startTestCluster, type TestCluster } from '../test/helpers/cluster.js';
import type { TestHost } from '../test/helpers/host.js';
import { multusStdin } from '../test/helpers/networks.js';
import { DAEMON, DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim, type CniCall } from '../test/helpers/shim.js';
import { track } from './children.js';
import { envCount } from './env.js';
import { NAMESPACE, benchNetworks, runDirect } from './pod-add.bench.js';
import type { ScopeOutput } from './scope.js';
import { fixed, summarize, type Summary } from './stats.js';
import { processCpu } from './thread-cpu.js';

const EXTRAS = [0, 2] as const;

/** One variant: the floor, the thick path (shim + daemon) and the thin plugin, per call, ms. */
export interface ThinFigures {
  extraNetworks: number;
  floorAdd: Summary;
  thickAdd: Summary;
  thinAdd: Summary;
  floorDel: Summary;
  thickDel: Summary;
  thinDel: Summary;
  /** thin ADD p50 − floor p50: what a thin call costs above the delegates themselves. */
  thinAddOverheadP50Ms: number;
  thickAddOverheadP50Ms: number;
  /** CPU per call, ms (the process and everything it ran, plugins included): the thin plugin's, and the floor's plugins'. */
  cpuPerCallMs: CpuPerCall;
  /** Upstream's thin plugin on the same calls (BENCH_UPSTREAM_THIN), when given. */
  upstream?: { add: Summary; del: Summary; addOverheadP50Ms: number };
}

type CpuPerCall = Record<'floorAdd' | 'thinAdd' | 'floorDel' | 'thinDel' | 'upstreamAdd' | 'upstreamDel', number>;

/** CPU of this process's waited-for children so far, ms (10 ms ticks: read as a mean over many calls). */
const childrenCpuMs = (): number => processCpu('self').children;

/**
 * The thin plugin's cost per CNI call beside the thick path, on the same delegates and API
 * server stand-in: the floor (delegates run directly), ADD/DEL through the shim and the daemon,
 * and ADD/DEL through the installed `multus` (a Node.js process per call, which imports
 * client-node for ADD). Also thin VERSION: Node's start-up with the plugin's entry alone.
 * BENCH_THIN_ITERATIONS pods per variant (default 20), interleaved per iteration. CPU per call:
 * the children's CPU of this process around each call (the thin process with the plugins it ran;
 * the floor's plugins). BENCH_UPSTREAM_THIN names upstream's thin `multus` binary
 * (bench/upstream-image.sh leaves one in .image/upstream-bin): it then takes the same calls after
 * ours, with its own delegate cache.
 */
export async function benchThin(host: TestHost): Promise<ScopeOutput> {
  const iterations = envCount('BENCH_THIN_ITERATIONS', 20, 1000);
  const binDir = join(host.dir, 'bin');
  execFileSync(process.execPath, [DAEMON, 'install', '-t', 'thin', '-d', binDir], { stdio: 'ignore' });
  const multus = join(binDir, 'multus');
  const upstreamThin = process.env.BENCH_UPSTREAM_THIN ?? '';
  const newSamples = () => ({ floorAdd: [] as number[], floorDel: [] as number[], thickAdd: [] as number[], thickDel: [] as number[], thinAdd: [] as number[], thinDel: [] as number[], upstreamAdd: [] as number[], upstreamDel: [] as number[], cpu: { floorAdd: 0, thinAdd: 0, floorDel: 0, thinDel: 0, upstreamAdd: 0, upstreamDel: 0 } });
  const samples = EXTRAS.map(newSamples);
  /** `call`'s result, its children's CPU added to `cpu[key]`. */
  const charged = async <T>(cpu: CpuPerCall, key: keyof CpuPerCall, call: () => Promise<T>): Promise<T> => {
    const before = childrenCpuMs();
    const value = await call();
    cpu[key] += childrenCpuMs() - before;
    return value;
  };
  const version: number[] = [];
  const upstreamVersion: number[] = [];
  let cluster: TestCluster | undefined;
  try {
    cluster = await startTestCluster(host, { binDir: DEBIAN_PLUGINS, logLevel: 'error' });
    track(cluster.daemon.process);
    const { daemon } = cluster;
    const { clusterNet, confPath, extras } = benchNetworks(host, cluster, 244, [245, 246], 'thin-extra');
    const thickStdin = multusStdin(daemon.socketDir, confPath);
    const thinStdin = { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig: cluster.kubeconfig, clusterNetwork: confPath, binDir: DEBIAN_PLUGINS, cniDir: join(host.dir, 'thin-cache') };
    const upstreamStdin = { ...thinStdin, cniDir: join(host.dir, 'upstream-thin-cache') };
    const pods = EXTRAS.map((n) =>
      Array.from({ length: iterations }, (_, i) => {
        const name = `thin-${n}-${i}`;
        const uid = cluster?.pod(NAMESPACE, name, n === 0 ? {} : { 'k8s.v1.cni.cncf.io/networks': extras.slice(0, n).map((d) => String(d.conf.name)).join(',') }) ?? '';
        return podArgs(NAMESPACE, name, uid);
      }),
    );
    await delay(Math.max(200, iterations * EXTRAS.length));
    const timed = async (call: CniCall, executable: string | undefined, into: number[]): Promise<void> => {
      const out = await runShim(call, executable);
      if (out.code !== 0) throw new Error(`${call.command} through ${executable ?? 'the shim'} failed: ${out.stdout}`);
      into.push(out.wallMs);
    };
    for (let i = 0; i < iterations; i++) {
      const ns = host.netns();
      await timed({ command: 'VERSION', stdin: '{"cniVersion":"1.0.0"}' }, multus, version);
      if (upstreamThin !== '') await timed({ command: 'VERSION', stdin: '{"cniVersion":"1.0.0"}' }, upstreamThin, upstreamVersion);
      for (const [k, n] of EXTRAS.entries()) {
        const s = samples[k];
        const args = pods[k]?.[i];
        if (s === undefined || args === undefined) continue;
        const delegates = [clusterNet, ...extras.slice(0, n)];
        s.floorAdd.push(await charged(s.cpu, 'floorAdd', () => runDirect(delegates, 'ADD', `floor-${n}-${i}`, ns.path, args)));
        s.floorDel.push(await charged(s.cpu, 'floorDel', () => runDirect(delegates, 'DEL', `floor-${n}-${i}`, ns.path, args)));
        const base = { netns: ns.path, args };
        await timed({ ...base, containerId: `thick-${n}-${i}`, command: 'ADD', stdin: thickStdin }, undefined, s.thickAdd);
        await timed({ ...base, containerId: `thick-${n}-${i}`, command: 'DEL', stdin: thickStdin }, undefined, s.thickDel);
        const thin = { ...base, containerId: `thin-${n}-${i}`, stdin: thinStdin, env: { CNI_PATH: DEBIAN_PLUGINS } };
        await charged(s.cpu, 'thinAdd', () => timed({ ...thin, command: 'ADD' }, multus, s.thinAdd));
        await charged(s.cpu, 'thinDel', () => timed({ ...thin, command: 'DEL' }, multus, s.thinDel));
        if (upstreamThin !== '') {
          const theirs = { ...base, containerId: `upstream-${n}-${i}`, stdin: upstreamStdin, env: { CNI_PATH: DEBIAN_PLUGINS } };
          await charged(s.cpu, 'upstreamAdd', () => timed({ ...theirs, command: 'ADD' }, upstreamThin, s.upstreamAdd));
          await charged(s.cpu, 'upstreamDel', () => timed({ ...theirs, command: 'DEL' }, upstreamThin, s.upstreamDel));
        }
      }
      host.deleteNetns(ns.name);
    }
  } finally {
    await cluster?.stop();
  }
  const figures = EXTRAS.map((n, k): ThinFigures => {
    const s = samples[k] ?? newSamples();
    const calls = Math.max(1, s.thinAdd.length);
    const f = { floorAdd: summarize(s.floorAdd), thickAdd: summarize(s.thickAdd), thinAdd: summarize(s.thinAdd), floorDel: summarize(s.floorDel), thickDel: summarize(s.thickDel), thinDel: summarize(s.thinDel) };
    const cpuPerCallMs = Object.fromEntries(Object.entries(s.cpu).map(([key, ms]) => [key, ms / calls])) as CpuPerCall;
    const upstreamAdd = summarize(s.upstreamAdd);
    const upstream = upstreamThin === '' ? {} : { upstream: { add: upstreamAdd, del: summarize(s.upstreamDel), addOverheadP50Ms: upstreamAdd.p50 - f.floorAdd.p50 } };
    return { extraNetworks: n, ...f, thinAddOverheadP50Ms: f.thinAdd.p50 - f.floorAdd.p50, thickAddOverheadP50Ms: f.thickAdd.p50 - f.floorAdd.p50, cpuPerCallMs, ...upstream };
  });
  const versionSummary = summarize(version);
  const upstreamVersionSummary = summarize(upstreamVersion);
  const three = (s: Summary): string => `${fixed(s.p50, 1)}/${fixed(s.p90, 1)}`;
  return {
    figures: { iterations, thinVersion: versionSummary, ...(upstreamThin === '' ? {} : { upstreamThinVersion: upstreamVersionSummary }), variants: figures },
    tables: [
      {
        title: `thin vs thick, per CNI call: latency ms p50/p90; overhead = p50 − floor p50; thin VERSION (Node start-up alone) p50 ${fixed(versionSummary.p50, 1)} ms`,
        columns: ['extra nets', 'floor ADD', 'thick ADD', 'thin ADD', 'thick overhead', 'thin overhead', 'thin ×thick', 'floor DEL', 'thick DEL', 'thin DEL', 'CPU ms/call thin (floor) ADD, DEL', 'n'],
        rows: figures.map((f) => [
          String(f.extraNetworks),
          three(f.floorAdd),
          three(f.thickAdd),
          three(f.thinAdd),
          `+${fixed(f.thickAddOverheadP50Ms, 1)}`,
          `+${fixed(f.thinAddOverheadP50Ms, 1)}`,
          `${fixed(f.thinAdd.p50 / f.thickAdd.p50)}×`,
          three(f.floorDel),
          three(f.thickDel),
          three(f.thinDel),
          `${fixed(f.cpuPerCallMs.thinAdd, 1)} (${fixed(f.cpuPerCallMs.floorAdd, 1)}), ${fixed(f.cpuPerCallMs.thinDel, 1)} (${fixed(f.cpuPerCallMs.floorDel, 1)})`,
          String(f.thinAdd.n),
        ]),
      },
      ...(upstreamThin === ''
        ? []
        : [
            {
              title: `upstream's thin plugin (${upstreamThin}) on the same calls, ms p50/p90; overhead = p50 − floor p50; VERSION (each one's start-up alone) p50 upstream ${fixed(upstreamVersionSummary.p50, 1)} ms, ours ${fixed(versionSummary.p50, 1)} ms`,
              columns: ['extra nets', 'floor ADD', 'upstream thin ADD', 'ours thin ADD', 'upstream overhead', 'ours overhead', 'floor DEL', 'upstream thin DEL', 'ours thin DEL', 'CPU ms/call upstream ADD, DEL', 'CPU ms/call ours ADD, DEL'],
              rows: figures.map((f) => [
                String(f.extraNetworks),
                three(f.floorAdd),
                f.upstream === undefined ? 'n/a' : three(f.upstream.add),
                three(f.thinAdd),
                `+${fixed(f.upstream?.addOverheadP50Ms, 1)}`,
                `+${fixed(f.thinAddOverheadP50Ms, 1)}`,
                three(f.floorDel),
                f.upstream === undefined ? 'n/a' : three(f.upstream.del),
                three(f.thinDel),
                `${fixed(f.cpuPerCallMs.upstreamAdd, 1)}, ${fixed(f.cpuPerCallMs.upstreamDel, 1)}`,
                `${fixed(f.cpuPerCallMs.thinAdd, 1)}, ${fixed(f.cpuPerCallMs.thinDel, 1)}`,
              ]),
            },
          ]),
    ],
  };
}
