/**
 * `npm run soak`: the long soak (SOAK_PODS, default 10000; SOAK_CONCURRENCY 8; SOAK_FAULT_RATE
 * 0.3; SOAK_KILL_EVERY 0, a daemon SIGKILL every n pods; SOAK_SEED), then memory under load
 * (SOAK_INFLIGHT ADDs at once against a slow delegate, default 1000; SOAK_INFLIGHT_SLEEP_S 1).
 * SOAK_DEBUG=1 prints the answer of every failed ADD, with its fault, on stderr.
 * Either phase is skipped when its count is 0. Prints both reports as JSON; exits 1 on any leak
 * or failed request. Root.
 */
import { TestHost } from '../helpers/host.js';
import { runInflight } from './inflight.js';
import { runSoak } from './soak.js';

const num = (name: string, fallback: number): number => (process.env[name] === undefined ? fallback : Number(process.env[name]));

const host = new TestHost();
try {
  let ok = true;
  const pods = num('SOAK_PODS', 10_000);
  if (pods > 0) {
    const report = await runSoak(host, {
      pods,
      concurrency: num('SOAK_CONCURRENCY', 8),
      faultRate: num('SOAK_FAULT_RATE', 0.3),
      killEvery: num('SOAK_KILL_EVERY', 0),
      seed: num('SOAK_SEED', Date.now() % 100_000),
    });
    process.stdout.write(`${JSON.stringify({ soak: report }, null, 2)}\n`);
    ok &&= report.leaks.length === 0 && report.delsFailed === 0;
  }
  const inflight = num('SOAK_INFLIGHT', 1000);
  if (inflight > 0) {
    const report = await runInflight(host, { pods: inflight, sleepSeconds: num('SOAK_INFLIGHT_SLEEP_S', 1) });
    process.stdout.write(`${JSON.stringify({ inflight: report }, null, 2)}\n`);
    ok &&= report.addsFailed === 0 && report.delsFailed === 0 && report.stuckWork.length === 0;
  }
  process.exitCode = ok ? 0 : 1;
} finally {
  host.cleanup();
}
