/**
 * Piscina worker entry: runs one delegate plugin per task. Spawning happens here, off the main
 * thread, because `child_process.spawn` forks synchronously on the calling thread (design.md §2:
 * 74 ms vs 14 ms event-loop delay p99 under load). Never throws: the outcome is a plain union.
 */
import { execPlugin } from '../cni/exec.js';
import type { DelegateOutcome, DelegateTask } from './protocol.js';

export default function runDelegate(task: DelegateTask): Promise<DelegateOutcome> {
  return execPlugin(task);
}
