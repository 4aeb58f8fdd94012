import { spawn } from 'node:child_process';
import type { TestDaemon } from '../test/helpers/daemon.js';
import { multusStdin } from '../test/helpers/networks.js';
import { podArgs, runShim } from '../test/helpers/shim.js';
import { summarize, type Summary } from './stats.js';

function timeSpawn(path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

/**
 * Shim cost per call: VERSION (answered locally) and DEL of an unknown container (one readiness
 * probe + one POST, no plugin runs), against the floor of starting a trivial process the same way.
 */
export async function benchShim(daemon: TestDaemon, iterations: number): Promise<Record<string, Summary | number>> {
  const floor: number[] = [];
  const version: number[] = [];
  const del: number[] = [];
  const stdin = multusStdin(daemon.socketDir, '/nonexistent');
  for (let i = 0; i < iterations; i++) {
    floor.push(await timeSpawn('/bin/true'));
    version.push((await runShim({ command: 'VERSION', stdin: { cniVersion: '1.0.0' } })).wallMs);
    const out = await runShim({ command: 'DEL', containerId: `bench${i}`, args: podArgs('bench', 'shim'), stdin });
    if (out.code !== 0) throw new Error(`DEL failed: ${out.stdout}`);
    del.push(out.wallMs);
  }
  const f = summarize(floor);
  const d = summarize(del);
  return { floor: f, version: summarize(version), del: d, delOverFloorP50Ms: d.p50 - f.p50 };
}
