import type { ChurnLevel } from './churn.js';
import { fixed } from './stats.js';
import type { Table } from './table.js';

const times = (v: number): string => `${fixed(v)}×`;
/** "Multus ms (ratio to the floor)". */
const vs = (ms: number, ratio: number): string => `${fixed(ms, 1)} (${times(ratio)})`;

/** Throughput and latency per concurrency level; latencies in ms with their ratio to the floor. */
export function churnLatencyTable(title: string, levels: readonly ChurnLevel[]): Table {
  return {
    title,
    columns: ['conc', 'pods', 'floor pods/s', 'multus pods/s', 'thr ×floor', 'floor ADD p50/p99', 'ADD p50', 'ADD p90', 'ADD p99', 'DEL p50', 'DEL p90', 'DEL p99'],
    rows: levels.map((l) => [
      String(l.concurrency),
      String(l.multus.pods),
      fixed(l.floor.podsPerSec, 1),
      fixed(l.multus.podsPerSec, 1),
      times(l.throughputRatio),
      `${fixed(l.floor.add.p50, 1)}/${fixed(l.floor.add.p99, 1)}`,
      vs(l.multus.add.p50, l.addRatio.p50),
      vs(l.multus.add.p90, l.addRatio.p90),
      vs(l.multus.add.p99, l.addRatio.p99),
      vs(l.multus.del.p50, l.delRatio.p50),
      vs(l.multus.del.p90, l.delRatio.p90),
      vs(l.multus.del.p99, l.delRatio.p99),
    ]),
  };
}

/** The daemon per level: API requests per pod, memory, event-loop delay, where ADD time goes. */
export function churnDaemonTable(title: string, levels: readonly ChurnLevel[]): Table {
  return {
    title,
    columns: ['conc', 'API reads/pod', 'API writes/pod', 'RSS peak MiB', 'RSS after MiB', 'main lag p99 ms', 'kube lag p99 ms', 'ADD mean runtime/daemon/plugin ms', 'pool wait ms', 'API call ms', 'bench lag p99 ms', 'daemon CPU ms/pod'],
    rows: levels.map((l) => [
      String(l.concurrency),
      fixed(l.apiPerPod.reads),
      fixed(l.apiPerPod.writes),
      fixed(l.daemonPeakMiB, 1),
      fixed(l.daemonRssMiB, 1),
      fixed(l.mainLagP99Ms, 1),
      fixed(l.kubeLagP99Ms, 1),
      `${fixed(l.multus.addMeanMs, 1)}/${fixed(l.daemonAddMeanMs, 1)}/${fixed(l.delegateAddMeanMs, 1)}`,
      fixed(l.poolWaitMeanMs, 1),
      fixed(l.apiMeanMs, 1),
      fixed(l.benchLagP99Ms, 1),
      fixed(l.daemonCpuPerPodMs, 1),
    ]),
  };
}
