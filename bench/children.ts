import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Remember a long-lived child (a daemon) until it exits, so a signal handler can end it. */
export function track(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** SIGTERM every tracked child that is still running (for the runner's signal handler). */
export function terminateTracked(): void {
  for (const child of live) child.kill('SIGTERM');
}
