/**
 * Piscina worker entry: runs one delegate plugin per task. Off the main thread, because
 * `child_process.spawn` forks synchronously on the calling thread (design.md §2: 74 ms vs 14 ms
 * event-loop delay p99 under load), the fallback when there is no spawner. Never throws: the
 * outcome is a plain union.
 */
import { workerData } from 'node:worker_threads';
import { execNetnsIp, execPlugin, spawnHere } from '../cni/exec.js';
import { spawnerRunner } from '../cni/spawner-client.js';
import type { DelegateOutcome, DelegateTask, NetnsIpTask, PoolWorkerData } from './protocol.js';

// Through the daemon's spawner when it has one: a fork from this process costs far more.
const { spawnerSocket } = (workerData ?? {}) as PoolWorkerData;
const run = spawnerSocket === undefined ? spawnHere : spawnerRunner(spawnerSocket);

export default function runDelegate(task: DelegateTask): Promise<DelegateOutcome> {
  return execPlugin(task, run);
}

/** Called by name (piscina `name` option). */
export function runNetnsIp(task: NetnsIpTask): Promise<DelegateOutcome> {
  return execNetnsIp(task, run);
}
