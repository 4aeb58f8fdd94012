import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestHost } from '../test/helpers/host.js';
import { bridgePlugin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { startBenchCluster, type BenchCluster } from './bench-cluster.js';
import { measureChurnLevel, type ChurnLevel, type ChurnNetwork } from './churn.js';
import { churnDaemonTable, churnLatencyTable } from './churn-table.js';
import { envCount, envCounts, envList } from './env.js';
import { buildNoopPlugin, NOOP_TYPE } from './noop.js';
import { readMemory, type Memory } from '../test/helpers/proc.js';
import type { ScopeOutput } from './scope.js';
import { fixed } from './stats.js';
import { renderChart, type Series } from './svg.js';

/** BENCH_CONCURRENCY is capped so every pod of a level fits the bridge's /24 at once. */
export const MAX_CONCURRENCY = 250;
/** How long the daemon sits after start-up before its idle RSS is read. */
const IDLE_SETTLE_MS = 1000;

/** The chart of every level: ADD latency p50 and p99 against concurrency, Multus and floor. */
function chart(levels: readonly ChurnLevel[], variants: readonly string[]): string {
  const line = (variant: string, who: 'multus' | 'floor', q: 'p50' | 'p99'): Series => ({
    label: `${who === 'multus' ? 'Multus' : 'floor (plugin direct)'} ${q}`,
    color: who === 'multus' ? '#1f6fb4' : '#888888',
    dashed: q === 'p99',
    points: levels.filter((l) => l.variant === variant).map((l) => ({ x: l.concurrency, y: l[who].add[q] })),
  });
  return renderChart({
    title: 'Pod ADD latency under churn (ADD+DEL per pod), Multus against the floor',
    xLabel: 'pods in flight (concurrency)',
    yLabel: 'ADD latency, ms (log)',
    panels: variants.map((v) => ({
      title: v === 'bridge' ? 'bridge + host-local (one netns per pod)' : 'no-op plugin (Multus’s own overhead)',
      series: [line(v, 'multus', 'p50'), line(v, 'multus', 'p99'), line(v, 'floor', 'p50'), line(v, 'floor', 'p99')],
    })),
  });
}

/**
 * Churn: BENCH_CHURN_PODS pods (default 256) ADD then DEL at each concurrency of
 * BENCH_CONCURRENCY (default 1,8,32,128), through the shim and the daemon, against the floor of
 * the same plugin run directly at the same concurrency. Two cluster networks: the no-op plugin
 * (our own overhead) and Debian's bridge + host-local (one netns per pod, all made before timing
 * and reused by every level, since a DEL leaves them empty). Each side of a level stops starting
 * pods after BENCH_MAX_SECONDS (default 120). BENCH_CHURN_VARIANTS (default noop,bridge) picks
 * the networks. Writes bench/results/churn.svg.
 */
export async function benchChurn(host: TestHost): Promise<ScopeOutput> {
  const pods = envCount('BENCH_CHURN_PODS', 256, 4096);
  const levels = envCounts('BENCH_CONCURRENCY', [1, 8, 32, 128], MAX_CONCURRENCY);
  const budgetMs = envCount('BENCH_MAX_SECONDS', 120, 3600) * 1000;
  const variants = envList('BENCH_CHURN_VARIANTS', ['noop', 'bridge'], ['noop', 'bridge']);
  const noopBin = buildNoopPlugin(host.dir);
  let idle: Memory | undefined;
  let bench: BenchCluster | undefined;
  const results: ChurnLevel[] = [];
  try {
    bench = await startBenchCluster(host, noopBin);
    await delay(IDLE_SETTLE_MS);
    idle = readMemory(bench.pid);
    const confDir = bench.daemon.confDir;
    const noopNetns = host.netns();
    const noop: ChurnNetwork = {
      variant: 'noop',
      conf: { cniVersion: '1.0.0', name: 'bench-noop', type: NOOP_TYPE },
      confPath: join(confDir, 'bench-noop.conf'),
      binDirs: [noopBin],
      netns: () => noopNetns.path,
    };
    const br = bridgePlugin(host, 241);
    const bridgeNetns = variants.includes('bridge') ? Array.from({ length: pods }, () => host.netns()) : [];
    const bridge: ChurnNetwork = {
      variant: 'bridge',
      conf: { cniVersion: '1.0.0', name: 'bench-bridge', ...br.plugin },
      confPath: join(confDir, 'bench-bridge.conf'),
      binDirs: [DEBIAN_PLUGINS],
      netns: (i) => bridgeNetns[i]?.path ?? '',
    };
    for (const network of [noop, bridge].filter((n) => variants.includes(n.variant))) {
      writeFileSync(network.confPath, JSON.stringify(network.conf));
      for (const [index, concurrency] of levels.entries()) {
        results.push(await measureChurnLevel({ bench, network, pods, concurrency, budgetMs, tag: `${network.variant}-l${index}-c${concurrency}` }));
      }
    }
    for (const ns of [noopNetns, ...bridgeNetns]) host.deleteNetns(ns.name);
  } finally {
    await bench?.stop();
  }
  writeFileSync(new URL('./results/churn.svg', import.meta.url), chart(results, variants));
  return {
    figures: { pods, idleRssMiB: idle?.rssMiB, levels: results },
    tables: variants.flatMap((v) => {
      const mine = results.filter((l) => l.variant === v);
      return [
        churnLatencyTable(`churn ${v}: throughput; latency ms (×floor)`, mine),
        churnDaemonTable(`churn ${v}: the daemon during the Multus side (idle RSS before the first level: ${fixed(idle?.rssMiB, 1)} MiB; lag = exported p99 without the 10 ms sampling interval)`, mine),
      ];
    }),
  };
}
