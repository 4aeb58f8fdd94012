import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/registry.js';
import { ROOT } from '../helpers/paths.js';

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

describe('Grafana dashboard', () => {
  it('queries only metrics the daemon exports', async () => {
    const dashboard = JSON.parse(readFileSync(`${ROOT}deployments/grafana-dashboard.json`, 'utf8')) as Dashboard;
    const metrics = createMetrics({
      supervisor: () => ({ actors: 0, inflight: 0, queued: 0, followUps: 0 }),
      pool: () => ({ threads: 1, queueSize: 0, utilization: 0 }),
      kube: () => Promise.resolve({ connected: true, restarts: 0, podsCached: 0, nadsCached: 0, eventLoopLagP99Seconds: 0, certificateExpirySeconds: 0, observations: [] }),
      nodeCertificate: true,
    });
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(?:multus|nodejs|process)_[a-z0-9_]+/g) ?? []));
    expect(queried.length).toBeGreaterThan(10);
    for (const name of queried) expect(exported, name).toContain(name.replace(/_(bucket|count|sum)$/, ''));
  });
});
