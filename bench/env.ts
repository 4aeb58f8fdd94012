/** Size knobs from the environment, bounded so a bench always ends. */
export function envCount(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer between 1 and ${max}`);
  return value;
}

/** A comma list of counts (e.g. BENCH_CONCURRENCY=1,8,32,128), each between 1 and `max`. */
export function envCounts(name: string, fallback: readonly number[], max: number): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1 || v > max)) throw new RangeError(`${name} must be a comma list of integers between 1 and ${max}`);
  return values;
}

/** A comma list of names, each one of `allowed` (e.g. BENCH_CHURN_VARIANTS=noop). */
export function envList(name: string, fallback: readonly string[], allowed: readonly string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const values = raw.split(',').map((s) => s.trim());
  if (values.some((v) => !allowed.includes(v))) throw new RangeError(`${name} must be a comma list of ${allowed.join(', ')}`);
  return values;
}

/**
 * Daemon tunables the bench passes on from its own environment to every daemon it starts:
 * MULTUS_SPAWNER=0 measures the daemon without its spawner; BENCH_DAEMON_NODE_OPTIONS becomes
 * the daemon's NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`: every thread writes
 * its profile when the daemon exits; `node --import tsx bench/profile-summary.ts` sums them).
 */
export function forwardedDaemonEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.MULTUS_SPAWNER !== undefined) env.MULTUS_SPAWNER = process.env.MULTUS_SPAWNER;
  if (process.env.BENCH_DAEMON_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = process.env.BENCH_DAEMON_NODE_OPTIONS;
  return env;
}

/**
 * BENCH_DAEMON_NODE_ARGS, split on spaces: flags for node's command line before the daemon, for
 * the daemons the bench starts on the host (pod-add, first-pods). For the V8 flags NODE_OPTIONS
 * refuses (`--no-sparkplug`), and those setFlagsFromString cannot apply once the heap exists
 * (`--single-threaded-gc`).
 */
export function daemonNodeArgs(): string[] {
  return (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}
