import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHost } from '../test/helpers/host.js';
import { startBenchCluster, type BenchCluster } from './bench-cluster.js';
import { measureChurnLevel, type ChurnLevel, type ChurnNetwork } from './churn.js';
import { envCount, envCounts } from './env.js';
import { buildNoopPlugin, NOOP_TYPE } from './noop.js';
import type { ScopeOutput } from './scope.js';
import { fixed } from './stats.js';
import type { Table } from './table.js';

/** One cell of the grid: a daemon started with these pool settings, then the levels. */
export interface PoolCell {
  /** MULTUS_WORKER_THREADS. */
  threads: number;
  /** MULTUS_TASKS_PER_WORKER. */
  tasksPerWorker: number;
  levels: ChurnLevel[];
}

function table(cells: readonly PoolCell[], levels: readonly number[]): Table {
  return {
    title: 'pool grid, no-op churn: Multus pods/s (×floor) | ADD p99 ms (×floor) | main lag p99 ms, per concurrency',
    columns: ['threads', 'tasks/worker', ...levels.flatMap((c) => [`c=${c} pods/s`, `c=${c} ADD p99`, `c=${c} lag`]), 'RSS peak MiB'],
    rows: cells.map((cell) => [
      String(cell.threads),
      String(cell.tasksPerWorker),
      ...levels.flatMap((c) => {
        const l = cell.levels.find((x) => x.concurrency === c);
        if (l === undefined) return ['-', '-', '-'];
        return [`${fixed(l.multus.podsPerSec, 0)} (${fixed(l.throughputRatio)}×)`, `${fixed(l.multus.add.p99, 1)} (${fixed(l.addRatio.p99)}×)`, fixed(l.mainLagP99Ms, 1)];
      }),
      fixed(Math.max(...cell.levels.map((l) => l.daemonPeakMiB ?? NaN)), 1),
    ]),
  };
}

/**
 * Pool tuning grid (an experiment for choosing defaults, not part of `all`): the no-op churn at
 * BENCH_POOL_CONCURRENCY (default 32,128) with BENCH_POOL_PODS pods per level (default 128), for
 * MULTUS_WORKER_THREADS ∈ BENCH_POOL_THREADS (default 1,2,4) × MULTUS_TASKS_PER_WORKER ∈
 * BENCH_POOL_TASKS (default 4,16,64). Each cell gets a fresh daemon and API server; the floor is
 * measured again in every cell, so each ratio compares runs seconds apart.
 */
export async function benchPool(host: TestHost): Promise<ScopeOutput> {
  const pods = envCount('BENCH_POOL_PODS', 128, 4096);
  const levels = envCounts('BENCH_POOL_CONCURRENCY', [32, 128], 1024);
  const threads = envCounts('BENCH_POOL_THREADS', [1, 2, 4], 64);
  const tasks = envCounts('BENCH_POOL_TASKS', [4, 16, 64], 1024);
  const budgetMs = envCount('BENCH_MAX_SECONDS', 120, 3600) * 1000;
  const noopBin = buildNoopPlugin(host.dir);
  const netns = host.netns();
  const cells: PoolCell[] = [];
  for (const t of threads) {
    for (const k of tasks) {
      // A host per cell: each daemon gets its own socket, cache and config dirs.
      const cellHost = new TestHost();
      let bench: BenchCluster | undefined;
      try {
        bench = await startBenchCluster(cellHost, noopBin, { MULTUS_WORKER_THREADS: String(t), MULTUS_TASKS_PER_WORKER: String(k) });
        const network: ChurnNetwork = {
          variant: 'noop',
          conf: { cniVersion: '1.0.0', name: 'bench-noop', type: NOOP_TYPE },
          confPath: join(bench.daemon.confDir, 'bench-noop.conf'),
          binDirs: [noopBin],
          netns: () => netns.path,
        };
        writeFileSync(network.confPath, JSON.stringify(network.conf));
        const cell: PoolCell = { threads: t, tasksPerWorker: k, levels: [] };
        for (const concurrency of levels) {
          cell.levels.push(await measureChurnLevel({ bench, network, pods, concurrency, budgetMs, tag: `pool-t${t}-k${k}-c${concurrency}` }));
        }
        cells.push(cell);
      } finally {
        await bench?.stop();
        cellHost.cleanup();
      }
    }
  }
  host.deleteNetns(netns.name);
  return { figures: { pods, cells }, tables: [table(cells, levels)] };
}
