import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim, type ShimOutcome } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * Bounded work: the pool caps how many plugins run at once, and past MULTUS_MAX_INFLIGHT a
 * request is refused at once with CNI error 11 instead of queueing (and growing memory).
 */
const host = new TestHost();
let daemon: TestDaemon;
let recordFile: string;
let started: string;
let hold: string;
let heldConf: string;

beforeAll(async () => {
  daemon = await startTestDaemon(host.dir, {}, { MULTUS_WORKER_THREADS: '1', MULTUS_TASKS_PER_WORKER: '2', MULTUS_MAX_INFLIGHT: '4' });
  recordFile = join(host.dir, 'calls.jsonl');
  started = join(host.dir, 'started');
  hold = join(host.dir, 'hold');
  // Plugin runs the test holds (while `hold` exists) and counts as they begin.
  heldConf = join(daemon.confDir, 'held.conf');
  writeFileSync(heldConf, JSON.stringify({ cniVersion: '1.0.0', name: 'held', type: 'cni-record', recordFile, startedFile: started, holdWhile: hold }));
});

afterAll(async () => {
  // A failed test may leave its plugin runs held, and the daemon drains them before it exits.
  rmSync(hold, { force: true });
  await daemon?.stop();
  host.cleanup();
});

function add(pod: string): Promise<ShimOutcome> {
  return runShim({ command: 'ADD', containerId: `${pod}cid`, netns: '/var/run/netns/none', args: podArgs('bp', pod), stdin: multusStdin(daemon.socketDir, heldConf) });
}

/** ADDs the plugin has begun since the test cleared `started`. */
function begun(): number {
  return existsSync(started) ? readFileSync(started, 'utf8').split('\n').filter((l) => l.startsWith('ADD ')).length : 0;
}

describe('backpressure', () => {
  it('runs different pods in parallel, up to the pool\'s capacity (threads x tasks per worker)', async () => {
    writeFileSync(recordFile, '');
    writeFileSync(started, '');
    writeFileSync(hold, '');
    const running = Promise.all(['a', 'b', 'c', 'd'].map(add));
    await until(async () => (await daemon.gauges()).multus_inflight_requests === 4 && begun() === 2, 'four requests accepted, two in the plugin');
    // The audit the other suites end with sees work while it is there, and none once it is done.
    expect(await daemon.stuckWork()).toEqual(expect.arrayContaining(['multus_actors: 4', 'multus_inflight_requests: 4']));
    rmSync(hold);
    const outcomes = await running;
    expect(outcomes.map((o) => o.code)).toEqual([0, 0, 0, 0]);
    expect(await daemon.stuckWork()).toEqual([]);
    const spans = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { start: number; end: number });
    const peak = Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
    expect(peak).toBe(2);
  });

  it('refuses requests past the in-flight bound at once with CNI error 11', async () => {
    writeFileSync(started, '');
    writeFileSync(hold, '');
    const answered: ShimOutcome[] = [];
    const all = Promise.all(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map(async (pod) => answered.push(await add(pod))));
    // At once: answered while every accepted ADD is still held in (or queued for) the plugin.
    await until(() => answered.length === 3, 'three refusals');
    for (const o of answered) expect(o.json).toMatchObject({ code: 11, msg: expect.stringContaining('limit of 4 requests in flight') });
    rmSync(hold);
    await all;
    expect(answered.filter((o) => o.code === 0)).toHaveLength(4);
    // Nothing was started for the refused pods.
    expect(begun()).toBe(4);
  });
});
