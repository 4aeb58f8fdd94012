import { spawn } from 'node:child_process';
import { startTestDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import type { TestHost } from '../test/helpers/host.js';
import { multusStdin } from '../test/helpers/networks.js';
import { DEBIAN_PLUGINS } from '../test/helpers/paths.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { track } from './children.js';
import { envCount } from './env.js';
import type { ScopeOutput } from './scope.js';
import { fixed, summarize, type Summary } from './stats.js';
import type { Table } from './table.js';

function timeSpawn(path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

/** Shim figures, ms. */
export interface ShimFigures {
  /** Starting /bin/true the same way: what any exec'd plugin costs. */
  floor: Summary;
  /** VERSION: answered by the shim alone. */
  version: Summary;
  /** DEL of an unknown container: a readiness probe and one POST to the daemon, no plugin runs. */
  del: Summary;
  /** DEL p50 minus the floor's p50. */
  delOverFloorP50Ms: number;
}

function table(f: ShimFigures): Table {
  const row = (name: string, s: Summary): string[] => [name, fixed(s.p50), fixed(s.p90), fixed(s.p99), fixed(s.max), String(s.n)];
  return {
    title: `shim per call, ms (DEL over the floor at p50: +${fixed(f.delOverFloorP50Ms)} ms)`,
    columns: ['call', 'p50', 'p90', 'p99', 'max', 'n'],
    rows: [row('floor: spawn /bin/true', f.floor), row('shim VERSION', f.version), row('shim DEL, unknown container', f.del)],
  };
}

/**
 * Shim cost per call (BENCH_ITERATIONS, default 100): VERSION (answered locally) and DEL of an
 * unknown container (one readiness probe + one POST, no plugin runs), against the floor of
 * starting a trivial process the same way.
 */
export async function benchShim(host: TestHost): Promise<ScopeOutput> {
  const iterations = envCount('BENCH_ITERATIONS', 100, 10_000);
  let daemon: TestDaemon | undefined;
  const floor: number[] = [];
  const version: number[] = [];
  const del: number[] = [];
  try {
    daemon = await startTestDaemon(host.dir, { binDir: DEBIAN_PLUGINS, logLevel: 'error' });
    track(daemon.process);
    const stdin = multusStdin(daemon.socketDir, '/nonexistent');
    for (let i = 0; i < iterations; i++) {
      floor.push(await timeSpawn('/bin/true'));
      version.push((await runShim({ command: 'VERSION', stdin: { cniVersion: '1.0.0' } })).wallMs);
      const out = await runShim({ command: 'DEL', containerId: `bench${i}`, args: podArgs('bench', 'shim'), stdin });
      if (out.code !== 0) throw new Error(`DEL failed: ${out.stdout}`);
      del.push(out.wallMs);
    }
  } finally {
    await daemon?.stop();
  }
  const f = summarize(floor);
  const d = summarize(del);
  const figures: ShimFigures = { floor: f, version: summarize(version), del: d, delOverFloorP50Ms: d.p50 - f.p50 };
  return { figures: { iterations, ...figures }, tables: [table(figures)] };
}
