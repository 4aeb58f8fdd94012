import { Piscina } from 'piscina';
import { CNI_ERR } from '../errors.js';
import { monotonicMs } from '../util/clock.js';
import type { DelegateOutcome, DelegateTask, NetnsIpTask, PoolWorkerData } from './protocol.js';

/** Pool sizing, validated by config/env.ts. */
export interface PoolOptions {
  /** Worker threads, at most. */
  threads: number;
  /** Threads kept while idle; the others start on demand and stop after a minute without work. */
  minThreads: number;
  /** Tasks one thread runs at once: a task mostly waits on its child process. */
  tasksPerWorker: number;
  /** Tasks allowed to wait for a free slot; beyond it a run is refused with CNI error 11. */
  maxQueue: number;
  /** Worker module; tests may point elsewhere. Default: the built delegate.worker.js beside this file. */
  filename?: string;
  /** The daemon's multus-spawner socket, when it runs one. */
  spawnerSocket?: string;
}

/** The delegate pool as the actors see it. */
export interface DelegatePool {
  run(task: DelegateTask): Promise<DelegateOutcome>;
  runNetnsIp(task: NetnsIpTask): Promise<DelegateOutcome>;
  stats(): PoolStats;
  close(): Promise<void>;
}

/** A snapshot for health and metrics. */
export interface PoolStats {
  threads: number;
  queueSize: number;
  completed: number;
  utilization: number;
}

/**
 * Create the piscina pool. `atomics: 'disabled'` because an idle worker in Atomics.wait stalls
 * the async child-process work of its other tasks; no AbortSignal per task because aborting
 * terminates the thread and orphans the plugin process (timeouts are enforced inside the task).
 */
export function createDelegatePool(opts: PoolOptions, onError: (err: Error) => void): DelegatePool {
  const pool = new Piscina<DelegateTask | NetnsIpTask, DelegateOutcome>({
    filename: opts.filename ?? new URL('./delegate.worker.js', import.meta.url).href,
    minThreads: opts.minThreads,
    maxThreads: opts.threads,
    concurrentTasksPerWorker: opts.tasksPerWorker,
    maxQueue: opts.maxQueue,
    idleTimeout: 60_000,
    atomics: 'disabled',
    // A task only spawns a process and parses a few KiB: a small young generation is plenty.
    resourceLimits: { maxYoungGenerationSizeMb: 2 },
    workerData: (opts.spawnerSocket === undefined ? {} : { spawnerSocket: opts.spawnerSocket }) satisfies PoolWorkerData,
  });
  // A worker failing outside a task is emitted here; unhandled it would kill the daemon.
  pool.on('error', onError);
  /** Queue full, or the worker died: the task may not have run at all. Retryable (CNI 11). */
  async function submit(task: DelegateTask | NetnsIpTask, name: string, what: string): Promise<DelegateOutcome> {
    const submittedAtMs = monotonicMs();
    try {
      const outcome = await pool.run(task, { name });
      return { ...outcome, waitMs: Math.max(0, outcome.startedAtMs - submittedAtMs) };
    } catch (err) {
      return {
        ok: false,
        error: { code: CNI_ERR.TRY_AGAIN_LATER, msg: `delegate pool cannot run ${what}: ${(err as Error).message}` },
        stderr: '',
        startedAtMs: submittedAtMs,
        durationMs: monotonicMs() - submittedAtMs,
        timedOut: false,
        ran: false,
        daemonSide: true,
      };
    }
  }
  return {
    run: (task) => submit(task, 'default', `plugin ${task.pluginType}`),
    runNetnsIp: (task) => submit(task, 'runNetnsIp', `ip ${task.args.join(' ')}`),
    stats() {
      return { threads: pool.threads.length, queueSize: pool.queueSize, completed: pool.completed, utilization: pool.utilization };
    },
    close() {
      return pool.close();
    },
  };
}
