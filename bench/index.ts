/**
 * Benchmark runner: `npm run bench [-- --scope shim|pod-add|first-pods|churn|runtime|thin|pool|startup|all]` (all =
 * shim, pod-add, churn, runtime, thin; first-pods a quick look at a fresh daemon's first pods,
 * pool an experiment and startup a comparison of Node.js lines, each run on its own). Sizes from the environment (see
 * README "Benchmarks"), loops bounded by count and by time, traffic only on this machine (unix
 * sockets, loopback, network namespaces the bench makes). Prints tables and writes
 * bench/results/<scope>.json (and churn.svg). Needs root. Each scope gets its own TestHost,
 * cleaned up after the scope, also on failure or Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { TestHost } from '../test/helpers/host.js';
import { terminateTracked } from './children.js';
import { benchChurn } from './churn.bench.js';
import { benchFirstPods } from './first-pods.bench.js';
import { benchPodAdd } from './pod-add.bench.js';
import { benchPool } from './pool.bench.js';
import { benchRuntime } from './runtime.bench.js';
import type { Scope } from './scope.js';
import { benchShim } from './shim.bench.js';
import { benchStartup } from './startup.bench.js';
import { benchThin } from './thin.bench.js';
import { formatTable } from './table.js';

const SCOPES: Record<string, Scope> = {
  shim: benchShim,
  'pod-add': benchPodAdd,
  'first-pods': benchFirstPods,
  churn: benchChurn,
  pool: benchPool,
  runtime: benchRuntime,
  thin: benchThin,
  startup: benchStartup,
};
/** What `--scope all` runs. */
const ALL = ['shim', 'pod-add', 'churn', 'runtime', 'thin'];

let active: TestHost | undefined;

function onSignal(signal: NodeJS.Signals): void {
  terminateTracked();
  active?.cleanup();
  process.stderr.write(`bench interrupted by ${signal}; cleaned up\n`);
  process.exit(130);
}

/** The BENCH_* knobs set for this run, recorded with the figures. */
function knobs(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('BENCH_') && e[1] !== undefined));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scope: { type: 'string', default: 'all' } } });
  const scopes = values.scope === 'all' ? ALL : (values.scope ?? '').split(',');
  for (const s of scopes) if (!(s in SCOPES)) throw new Error(`unknown scope ${s}; use ${Object.keys(SCOPES).join('|')}|all (or a comma list)`);
  if (process.getuid?.() !== 0) throw new Error('the benches create network namespaces: run them as root');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  for (const scope of scopes) {
    const started = performance.now();
    const loadBefore = loadavg()[0] ?? 0;
    // Other work on the machine skews every figure; the floor shares it, the ratios less so.
    if (loadBefore > availableParallelism()) process.stderr.write(`warning: load average ${loadBefore.toFixed(2)} on ${availableParallelism()} cores before ${scope}: figures will be noisy\n`);
    active = new TestHost();
    try {
      const output = await (SCOPES[scope] as Scope)(active);
      const wallSeconds = (performance.now() - started) / 1000;
      const load = { before: loadBefore, after: loadavg()[0] ?? 0 };
      process.stdout.write(`\n## ${scope} (${wallSeconds.toFixed(1)} s; 1-min load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after, ${availableParallelism()} cores)\n`);
      for (const table of output.tables) process.stdout.write(`\n${formatTable(table)}\n`);
      const json = { scope, date: new Date().toISOString(), wallSeconds, loadAverage: load, knobs: knobs(), figures: output.figures };
      // Missing daemon figures (undefined) and empty samples (NaN) are written as null.
      writeFileSync(new URL(`./results/${scope}.json`, import.meta.url), `${JSON.stringify(json, (_k, v: unknown) => (v === undefined ? null : v), 2)}\n`);
    } finally {
      active.cleanup();
      active = undefined;
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
