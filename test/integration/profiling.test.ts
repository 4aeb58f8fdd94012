import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';

/**
 * Upstream v4.3.0's `enablePprof`, the Node way: a CPU profile and a heap snapshot of the built
 * daemon on its metrics port, bounded, and nothing there unless enabled.
 */
const host = new TestHost();
let profiled: TestDaemon;
let plain: TestDaemon;

beforeAll(async () => {
  profiled = await startTestDaemon(join(host.dir, 'profiled'), { enablePprof: true });
  plain = await startTestDaemon(join(host.dir, 'plain'), {});
}, 60_000);

afterAll(async () => {
  await profiled?.stop();
  await plain?.stop();
  host.cleanup();
});

const url = (d: TestDaemon, path: string): string => `http://127.0.0.1:${d.metricsPort}${path}`;

describe('enablePprof (upstream v4.3.0, #1509)', () => {
  it('serves a CPU profile DevTools loads, one at a time, for a bounded number of seconds', async () => {
    // Two at once: whichever the daemon reads second is refused while the first runs.
    const both = await Promise.all([fetch(url(profiled, '/debug/pprof/profile?seconds=1')), fetch(url(profiled, '/debug/pprof/profile?seconds=1'))]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const res = both.find((r) => r.status === 200) as Response;
    expect(res.headers.get('content-disposition')).toMatch(/filename="multus-.*\.cpuprofile"/);
    const profile = (await res.json()) as { nodes: unknown[]; startTime: number; endTime: number; samples: unknown[] };
    expect(profile.nodes.length).toBeGreaterThan(0);
    expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(900_000); // µs
    for (const bad of ['0', '61', '1.5', 'x']) expect((await fetch(url(profiled, `/debug/pprof/profile?seconds=${bad}`))).status).toBe(400);
  });

  it('serves a heap snapshot', async () => {
    const res = await fetch(url(profiled, '/debug/pprof/heap'));
    expect(res.status).toBe(200);
    const snapshot = (await res.json()) as { snapshot: { node_count: number } };
    expect(snapshot.snapshot.node_count).toBeGreaterThan(0);
  });

  it('serves nothing of it unless enabled', async () => {
    expect((await fetch(url(plain, '/debug/pprof/profile?seconds=1'))).status).toBe(404);
    expect((await fetch(url(plain, '/debug/pprof/heap'))).status).toBe(404);
    expect((await fetch(url(plain, '/metrics'))).status).toBe(200);
  });
});
