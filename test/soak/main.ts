/**
 * `npm run soak`: the long soak (SOAK_PODS, default 2000; SOAK_CONCURRENCY 8; SOAK_FAULT_RATE
 * 0.3; SOAK_KILL_EVERY 500; SOAK_SEED). Prints the report as JSON; exits 1 on any leak. Root.
 */
import { TestHost } from '../helpers/host.js';
import { runSoak } from './soak.js';

const num = (name: string, fallback: number): number => (process.env[name] === undefined ? fallback : Number(process.env[name]));

const host = new TestHost();
try {
  const report = await runSoak(host, {
    pods: num('SOAK_PODS', 2000),
    concurrency: num('SOAK_CONCURRENCY', 8),
    faultRate: num('SOAK_FAULT_RATE', 0.3),
    killEvery: num('SOAK_KILL_EVERY', 500),
    seed: num('SOAK_SEED', Date.now() % 100_000),
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.leaks.length === 0 ? 0 : 1;
} finally {
  host.cleanup();
}
