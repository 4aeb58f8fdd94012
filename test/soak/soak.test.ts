import { afterAll, describe, expect, it } from 'vitest';
import { TestHost } from '../helpers/host.js';
import { runSoak } from './soak.js';

const host = new TestHost();
afterAll(() => host.cleanup());

describe('soak (short; `npm run soak` for thousands of pods)', () => {
  it('churns pods with random faults, a daemon SIGKILL included, and leaks nothing', async () => {
    const report = await runSoak(host, { pods: 120, concurrency: 6, faultRate: 0.4, killEvery: 60, seed: 1234 });
    expect(report.leaks).toEqual([]);
    expect(report.delFailures).toEqual([]);
    expect(report.delsFailed).toBe(0);
    expect(Object.values(report.faultsInjected).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(report.faultsInjected['daemon-sigkill']).toBe(1);
    // Every pod that had a fault (the SIGKILL is not a pod's) was still torn down completely.
    const podFaults = Object.entries(report.faultsInjected).filter(([k]) => k !== 'daemon-sigkill').reduce((a, [, v]) => a + v, 0);
    expect(report.faultsSurvived).toBe(podFaults);
  }, 180_000);
});
