import { afterAll, describe, expect, it } from 'vitest';
import { TestHost } from '../helpers/host.js';
import { runInflight } from './inflight.js';
import { runSoak } from './soak.js';

const host = new TestHost();
afterAll(() => host.cleanup());

describe('soak (short; `npm run soak` for thousands of pods)', () => {
  it('churns pods with random faults, a daemon SIGKILL included, and leaks nothing', async () => {
    const report = await runSoak(host, { pods: 120, concurrency: 6, faultRate: 0.4, killEvery: 60, seed: 1234 });
    // One assertion, so that a failure shows all of it (and what the daemon said about a leak).
    // Every failed ADD was followed by a DEL that succeeded at once (a runtime then drops the sandbox).
    const { leaks, leakLog, delFailures, delsFailed, delsAfterFailedAdd } = report;
    expect({ leaks, leakLog, delFailures, delsFailed, delsAfterFailedAdd }).toEqual({ leaks: [], leakLog: [], delFailures: [], delsFailed: 0, delsAfterFailedAdd: [] });
    expect(report.faultsInjected['refused-plugin']).toBeGreaterThan(0);
    expect(report.faultsInjected['plugin-deleted']).toBeGreaterThan(0);
    expect(report.faultsInjected['pool-thread-killed']).toBeGreaterThan(0);
    expect(report.faultsInjected['kube-worker-killed']).toBeGreaterThan(0);
    expect(Object.values(report.faultsInjected).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(report.faultsInjected['daemon-sigkill']).toBe(1);
    // Every pod that had a fault (the SIGKILL is not a pod's) was still torn down completely.
    const podFaults = Object.entries(report.faultsInjected).filter(([k]) => k !== 'daemon-sigkill').reduce((a, [, v]) => a + v, 0);
    expect(report.faultsSurvived).toBe(podFaults);
  }, 180_000);

  it('answers 200 ADDs sent at once against a slow delegate, and their DELs, with nothing left in the daemon', async () => {
    const report = await runInflight(host, { pods: 200, sleepSeconds: 1 });
    expect(report.failures).toEqual([]);
    expect([report.addsFailed, report.delsFailed]).toEqual([0, 0]);
    expect(report.stuckWork).toEqual([]);
  }, 120_000);
});
