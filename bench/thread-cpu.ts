import { readFileSync, readdirSync } from 'node:fs';
import { childProcesses, statFields } from '../test/helpers/proc.js';
import { fixed } from './stats.js';

/**
 * Where a process's CPU time goes, by thread kind, in ms. Linux only: each thread's
 * `/proc/<pid>/task/<tid>/schedstat` (time on CPU, ns, exact, unlike the 10 ms ticks of `stat`)
 * and its name in `comm`. The daemon's threads: the main thread (tid = pid), the kube worker
 * (named `multus-kube`), the delegate pool's threads (Node names unnamed workers
 * `WorkerThread`), and the runtime's own (V8's GC and compiler threads, libuv's thread pool).
 * `plugins` is the CPU of the processes that started and ran its plugins, from
 * `/proc/<pid>/stat` (10 ms ticks): the daemon's waited-for children (plugins it spawned
 * itself), and its multus-spawner with everything that spawner reaped (its per-run handlers,
 * and their plugins). `faults` counts the daemon's minor page faults (every thread's, from
 * `/proc/<pid>/task/<tid>/stat`): each first touch of a page costs 5–12 µs on the VMs this
 * project is measured on (shadow paging), so it is a figure of its own.
 */
export interface ThreadCpu {
  main: number;
  kube: number;
  pool: number;
  runtime: number;
  plugins: number;
  faults: number;
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux this runs on

function kindOf(pid: number, tid: number, comm: string): Exclude<keyof ThreadCpu, 'plugins' | 'faults'> {
  if (tid === pid) return 'main';
  if (comm === 'multus-kube') return 'kube';
  if (comm === 'WorkerThread') return 'pool';
  return 'runtime';
}

/** Nothing spent: the start of a sum. */
export function noThreadCpu(): ThreadCpu {
  return { main: 0, kube: 0, pool: 0, runtime: 0, plugins: 0, faults: 0 };
}

/** The process's CPU so far; a thread that exits between two readings takes its share with it (keep pool threads warm while measuring). */
export function readThreadCpu(pid: number): ThreadCpu {
  const cpu = noThreadCpu();
  for (const entry of readdirSync(`/proc/${pid}/task`)) {
    const tid = Number(entry);
    try {
      const comm = readFileSync(`/proc/${pid}/task/${entry}/comm`, 'utf8').trim();
      const onCpuNs = Number(readFileSync(`/proc/${pid}/task/${entry}/schedstat`, 'utf8').split(' ')[0]);
      cpu[kindOf(pid, tid, comm)] += onCpuNs / 1e6;
      cpu.faults += Number(statFields(readFileSync(`/proc/${pid}/task/${entry}/stat`, 'utf8'))[MINFLT] ?? 0);
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
  // utime, stime, cutime, cstime are the 12th to 15th fields after the command name.
  const f = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8')).map(Number);
  return { self: ((f[11] ?? 0) + (f[12] ?? 0)) * TICK_MS, children: ((f[13] ?? 0) + (f[14] ?? 0)) * TICK_MS };
}

/** The minor faults' index in `statFields`. */
const MINFLT = 7;

/** The daemon's multus-spawner, if it runs one. */
function spawnerOf(pid: number): number | undefined {
  return childProcesses(pid).find((c) => c.comm === 'multus-spawner')?.pid;
}

/** `f` applied to `a` and `b`, per kind. */
function perKind(a: ThreadCpu, b: ThreadCpu, f: (x: number, y: number) => number): ThreadCpu {
  return { main: f(a.main, b.main), kube: f(a.kube, b.kube), pool: f(a.pool, b.pool), runtime: f(a.runtime, b.runtime), plugins: f(a.plugins, b.plugins), faults: f(a.faults, b.faults) };
}

/** `after − before`, per kind. */
export function cpuSpent(before: ThreadCpu, after: ThreadCpu): ThreadCpu {
  return perKind(after, before, (x, y) => x - y);
}

/** The sum of `a` and `b`, per kind. */
export function cpuAdd(a: ThreadCpu, b: ThreadCpu): ThreadCpu {
  return perKind(a, b, (x, y) => x + y);
}

/** `c` ÷ `n`, per kind (ms per pod from ms over `n` pods). */
export function cpuPer(c: ThreadCpu, n: number): ThreadCpu {
  return perKind(c, c, (x) => x / n);
}

/** The daemon's CPU by thread kind for a table: main, kube worker, pool, V8's and libuv's, 0.1 ms each. */
export function threadSplit(c: ThreadCpu, separator = '/'): string {
  return [c.main, c.kube, c.pool, c.runtime].map((ms) => fixed(ms, 1)).join(separator);
}

/** The daemon's own CPU: every thread, not its plugins. */
export function daemonCpu(c: ThreadCpu): number {
  return c.main + c.kube + c.pool + c.runtime;
}
