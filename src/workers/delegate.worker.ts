/**
 * Piscina worker entry: runs one delegate plugin per task. Spawning happens here, off the main
 * thread, because `child_process.spawn` forks synchronously on the calling thread (design.md §2:
 * 74 ms vs 14 ms event-loop delay p99 under load). Never throws: the outcome is a plain union.
 */
import { execNetnsIp, execPlugin } from '../cni/exec.js';
import type { DelegateOutcome, DelegateTask, NetnsIpTask } from './protocol.js';

export default function runDelegate(task: DelegateTask): Promise<DelegateOutcome> {
  return execPlugin(task);
}

/** Called by name (piscina `name` option). */
export function runNetnsIp(task: NetnsIpTask): Promise<DelegateOutcome> {
  return execNetnsIp(task);
}
