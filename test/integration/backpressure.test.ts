import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';

/**
 * Bounded work: the pool caps how many plugins run at once, and past MULTUS_MAX_INFLIGHT a
 * request is refused at once with CNI error 11 instead of queueing (and growing memory).
 */
const host = new TestHost();
let daemon: TestDaemon;
let recordFile: string;
let slowConf: string;

beforeAll(async () => {
  daemon = await startTestDaemon(host.dir, {}, { MULTUS_WORKER_THREADS: '1', MULTUS_TASKS_PER_WORKER: '2', MULTUS_MAX_INFLIGHT: '4' });
  recordFile = join(host.dir, 'calls.jsonl');
  slowConf = join(daemon.confDir, 'slow.conf');
  writeFileSync(slowConf, JSON.stringify({ cniVersion: '1.0.0', name: 'slow', type: 'cni-record', recordFile, sleepMs: 400 }));
});

afterAll(async () => {
  await daemon?.stop();
  host.cleanup();
});

function add(pod: string) {
  return runShim({ command: 'ADD', containerId: `${pod}cid`, netns: '/var/run/netns/none', args: podArgs('bp', pod), stdin: multusStdin(daemon.socketDir, slowConf) });
}

describe('backpressure', () => {
  it('runs different pods in parallel, up to the pool\'s capacity (threads x tasks per worker)', async () => {
    writeFileSync(recordFile, '');
    const running = Promise.all(['a', 'b', 'c', 'd'].map(add));
    await new Promise((r) => setTimeout(r, 200));
    // The audit the other suites end with sees work while it is there, and none once it is done.
    expect(await daemon.stuckWork()).toEqual(expect.arrayContaining([expect.stringMatching(/^multus_actors: multus_actors 4/), expect.stringMatching(/^multus_inflight_requests/)]));
    const outcomes = await running;
    expect(outcomes.map((o) => o.code)).toEqual([0, 0, 0, 0]);
    expect(await daemon.stuckWork()).toEqual([]);
    const spans = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { start: number; end: number });
    const peak = Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
    expect(peak).toBe(2);
  });

  it('refuses requests past the in-flight bound at once with CNI error 11', async () => {
    const outcomes = await Promise.all(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map(add));
    const refused = outcomes.filter((o) => o.code !== 0);
    expect(refused).toHaveLength(3);
    for (const o of refused) {
      expect(o.json).toMatchObject({ code: 11, msg: expect.stringContaining('limit of 4 requests in flight') });
      // Refused without waiting for any plugin: faster than one plugin run (400 ms).
      expect(o.wallMs).toBeLessThan(400);
    }
    // Nothing was started for the refused pods.
    expect(outcomes.filter((o) => o.code === 0)).toHaveLength(4);
  });
});
