import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/util/poll.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { exitWorkerThread } from '../helpers/inspector.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { childProcesses } from '../helpers/proc.js';
import { DEBIAN_PLUGINS, FIXTURE_PLUGINS } from '../helpers/paths.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { sleep } from '../helpers/wait.js';

/**
 * Threads of the daemon that die for real (ended through the inspector, as an uncaught error or
 * an isolate out of memory ends them): nothing waits forever, the pods after them start.
 */
const host = new TestHost();
let cluster: TestCluster;
let inspectPort: number;
let clusterConf: string;

beforeAll(async () => {
  inspectPort = await freePort();
  cluster = await startTestCluster(host, { binDir: FIXTURE_PLUGINS, logLevel: 'debug' }, { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`, MULTUS_DELEGATE_TIMEOUT_MS: '60000' });
  clusterConf = join(cluster.daemon.confDir, 'death-net.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'death-net', ...bridgePlugin(host, 26).plugin }));
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
}, 60_000);

function readyz(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(cluster.daemon.socketDir, 'multus.sock'), path: '/readyz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function addCall(name: string, uid: string, stdinExtra: Record<string, unknown> = {}) {
  return { command: 'ADD', containerId: host.name(name), netns: host.netns().path, args: podArgs('default', name, uid), stdin: multusStdin(cluster.daemon.socketDir, clusterConf, { binDir: `${FIXTURE_PLUGINS}:${DEBIAN_PLUGINS}`, ...stdinExtra }), env: { CNI_PATH: DEBIAN_PLUGINS } };
}

describe('a daemon thread that dies', () => {
  it('the kube worker: its call in flight fails at once with code 11, /readyz says 500 until a new worker has re-listed, the restart is counted, pods start again', async () => {
    cluster.pod('default', 'kube-death');
    await cluster.cached();
    // The runtime's uid differs from the cached pod's: the ADD asks the API server, which holds the answer.
    cluster.api.faults.slow = { match: (r) => r.verb === 'get' && r.resource === 'pods', ms: 30_000 };
    const inFlight = runShim(addCall('kube-death', 'uid-of-a-newer-pod'));
    await pollUntil(() => cluster.api.requests().some((r) => r.verb === 'get' && r.name === 'kube-death'), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the ADD never asked for its pod') });
    const readyzSeen: number[] = [];
    const watching = pollUntil(async () => (readyzSeen.push(await readyz()), readyzSeen.includes(500) && readyzSeen.at(-1) === 200), { timeoutMs: 20_000, everyMs: 10, timedOut: () => new Error(`readyz answered ${[...new Set(readyzSeen)].join(', ')}`) });
    // A NAD created while no worker watches: the new worker must list it.
    cluster.api.createNad('default', 'after-death', JSON.stringify({ cniVersion: '1.0.0', name: 'after-death', ...bridgePlugin(host, 27).plugin }));
    await exitWorkerThread(inspectPort, cluster.daemon.process.pid ?? 0, (w) => w.title.includes('multus-kube'));
    const add = await inFlight;
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining('the kube worker died') });
    cluster.api.faults.slow = undefined;
    await watching;
    expect((await cluster.daemon.gauges()).multus_kube_worker_restarts_total).toBe(1);
    const uid2 = cluster.pod('default', 'after-restart', { 'k8s.v1.cni.cncf.io/networks': 'after-death' });
    await cluster.cached();
    const call = addCall('after-restart', uid2);
    const again = await runShim(call);
    expect(again.code, again.stdout).toBe(0);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
    expect(cluster.daemon.logs().some((l) => l.msg === 'kube worker restarted')).toBe(true);
  });

  it('a delegate pool thread: its plugin is not killed half-way, the ADD answers code 11 once its rollback DEL ran after that plugin ended, the next ADD works', async () => {
    // Killed half-way a plugin can leave broken state (host-local: a reservation file created
    // but not yet written); a rollback DEL that ran beside it could release the IP before the
    // ADD reserved it. The spawner lets the plugin finish (under its timeout) and runs the DEL
    // after it: this plugin's ADD is held until the test lets it go.
    const hold = join(host.dir, 'pool-death.hold');
    const started = join(host.dir, 'pool-death.started');
    const record = join(host.dir, 'pool-death.record');
    writeFileSync(hold, '');
    const uid = cluster.pod('default', 'pool-death');
    const held = join(cluster.daemon.confDir, 'held-net.conflist');
    writeFileSync(held, JSON.stringify({ cniVersion: '1.0.0', name: 'held-net', plugins: [{ type: 'cni-record', holdWhile: hold, startedFile: started, recordFile: record }] }));
    await cluster.cached();
    const inFlight = runShim({ ...addCall('pool-death', uid), stdin: multusStdin(cluster.daemon.socketDir, held) });
    await pollUntil(() => existsSync(started), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the plugin never started') });
    await exitWorkerThread(inspectPort, cluster.daemon.process.pid ?? 0, (w) => !w.title.includes('multus-kube'));
    // The rollback's DEL reaches the spawner while the ADD is held: its handler (the spawner's
    // second) waits for the container's lock and starts nothing. Without the lock, cni-record's
    // DEL would write its "started" line within the half second watched here.
    const spawner = childProcesses(cluster.daemon.process.pid ?? 0).find((p) => p.comm === 'multus-spawner');
    await pollUntil(() => childProcesses(spawner?.pid ?? 0).length >= 2, { timeoutMs: 10_000, everyMs: 10, timedOut: () => new Error('the rollback DEL never reached the spawner') });
    await sleep(500);
    expect(readFileSync(started, 'utf8')).not.toContain('DEL');
    rmSync(hold);
    const add = await inFlight;
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining('delegate pool cannot run plugin cni-record') });
    const runs = readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { env: { CNI_COMMAND: string }; start: number; end: number });
    expect(runs.map((r) => r.env.CNI_COMMAND)).toEqual(['ADD', 'DEL']);
    const [addRun, delRun] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(delRun.start).toBeGreaterThanOrEqual(addRun.end);
    const uid2 = cluster.pod('default', 'after-pool-death');
    const call = addCall('after-pool-death', uid2);
    const again = await runShim(call);
    expect(again.code, again.stdout).toBe(0);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
  });
});
