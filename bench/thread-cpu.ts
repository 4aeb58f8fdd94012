import { readFileSync, readdirSync } from 'node:fs';
import { childProcesses } from '../test/helpers/proc.js';

/**
 * Where a process's CPU time goes, by thread kind, in ms. Linux only: each thread's
 * `/proc/<pid>/task/<tid>/schedstat` (time on CPU, ns, exact, unlike the 10 ms ticks of `stat`)
 * and its name in `comm`. The daemon's threads: the main thread (tid = pid), the kube worker
 * (named `multus-kube`), the delegate pool's threads (Node names unnamed workers
 * `WorkerThread`), and the runtime's own (V8's GC and compiler threads, libuv's thread pool).
 * `plugins` is the CPU of the processes that started and ran its plugins, from
 * `/proc/<pid>/stat` (10 ms ticks): the daemon's waited-for children (plugins it spawned
 * itself), and its multus-spawner with everything that spawner reaped (its per-run handlers,
 * and their plugins).
 */
export interface ThreadCpu {
  main: number;
  kube: number;
  pool: number;
  runtime: number;
  plugins: number;
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux this runs on

function kindOf(pid: number, tid: number, comm: string): Exclude<keyof ThreadCpu, 'plugins'> {
  if (tid === pid) return 'main';
  if (comm === 'multus-kube') return 'kube';
  if (comm === 'WorkerThread') return 'pool';
  return 'runtime';
}

/** The process's CPU so far; a thread that exits between two readings takes its share with it (keep pool threads warm while measuring). */
export function readThreadCpu(pid: number): ThreadCpu {
  const cpu: ThreadCpu = { main: 0, kube: 0, pool: 0, runtime: 0, plugins: 0 };
  for (const entry of readdirSync(`/proc/${pid}/task`)) {
    const tid = Number(entry);
    try {
      const comm = readFileSync(`/proc/${pid}/task/${entry}/comm`, 'utf8').trim();
      const onCpuNs = Number(readFileSync(`/proc/${pid}/task/${entry}/schedstat`, 'utf8').split(' ')[0]);
      cpu[kindOf(pid, tid, comm)] += onCpuNs / 1e6;
    } catch {
      // The thread exited while we read.
    }
  }
  const spawner = spawnerOf(pid);
  cpu.plugins = processCpu(pid).children + (spawner === undefined ? 0 : processCpu(spawner).self + processCpu(spawner).children);
  return cpu;
}

/** A process's own CPU and its waited-for children's, ms (from 10 ms ticks). */
export function processCpu(pid: number | 'self'): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces): utime, stime, cutime, cstime are the 12th to 15th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { self: ((f[11] ?? 0) + (f[12] ?? 0)) * TICK_MS, children: ((f[13] ?? 0) + (f[14] ?? 0)) * TICK_MS };
}

/** The daemon's multus-spawner, if it runs one. */
function spawnerOf(pid: number): number | undefined {
  return childProcesses(pid).find((c) => c.comm === 'multus-spawner')?.pid;
}

/** `after − before`, per kind. */
export function cpuSpent(before: ThreadCpu, after: ThreadCpu): ThreadCpu {
  return { main: after.main - before.main, kube: after.kube - before.kube, pool: after.pool - before.pool, runtime: after.runtime - before.runtime, plugins: after.plugins - before.plugins };
}

/** The sum of `a` and `b`, per kind. */
export function cpuAdd(a: ThreadCpu, b: ThreadCpu): ThreadCpu {
  return { main: a.main + b.main, kube: a.kube + b.kube, pool: a.pool + b.pool, runtime: a.runtime + b.runtime, plugins: a.plugins + b.plugins };
}

/** `c` ÷ `n`, per kind (ms per pod from ms over `n` pods). */
export function cpuPer(c: ThreadCpu, n: number): ThreadCpu {
  return { main: c.main / n, kube: c.kube / n, pool: c.pool / n, runtime: c.runtime / n, plugins: c.plugins / n };
}

/** The daemon's own CPU: every thread, not its plugins. */
export function daemonCpu(c: ThreadCpu): number {
  return c.main + c.kube + c.pool + c.runtime;
}
