/**
 * Benchmark runner: `npm run bench [-- --scope shim|pod-add|all]`. Sizes from the environment
 * (BENCH_ITERATIONS), loops bounded by count, traffic only on this machine (unix sockets and
 * network namespaces). Prints a table and writes bench/results/<scope>.json. Needs root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { TestHost } from '../test/helpers/host.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { benchPodAdd } from './pod-add.bench.js';
import { benchShim } from './shim.bench.js';
import { envCount, ms, type Summary } from './stats.js';

type Scope = (host: TestHost, daemon: TestDaemon, iterations: number) => Promise<Record<string, Summary | number>>;
const SCOPES: Record<string, Scope> = {
  shim: (_host, daemon, n) => benchShim(daemon, n),
  'pod-add': benchPodAdd,
};

function print(scope: string, figures: Record<string, Summary | number>): void {
  process.stdout.write(`\n## ${scope}\n`);
  for (const [name, v] of Object.entries(figures)) {
    if (typeof v === 'number') process.stdout.write(`${name.padEnd(22)} ${name.includes('Ratio') ? v.toFixed(2) : ms(v)}\n`);
    else process.stdout.write(`${name.padEnd(22)} p50 ${ms(v.p50)}  p90 ${ms(v.p90)}  p99 ${ms(v.p99)}  max ${ms(v.max)}  (n=${v.n})\n`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scope: { type: 'string', default: 'all' } } });
  const scopes = values.scope === 'all' ? Object.keys(SCOPES) : [values.scope ?? ''];
  for (const s of scopes) if (!(s in SCOPES)) throw new Error(`unknown scope ${s}; use ${Object.keys(SCOPES).join('|')}|all`);
  const iterations = envCount('BENCH_ITERATIONS', 100, 10_000);
  const host = new TestHost();
  const daemon = await startTestDaemon(host.dir, { binDir: DEBIAN_PLUGINS, logLevel: 'error' });
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  try {
    for (const scope of scopes) {
      const figures = await (SCOPES[scope] as Scope)(host, daemon, iterations);
      print(scope, figures);
      writeFileSync(new URL(`./results/${scope}.json`, import.meta.url), JSON.stringify({ scope, iterations, date: new Date().toISOString(), figures }, null, 2));
    }
  } finally {
    await daemon.stop();
    host.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
