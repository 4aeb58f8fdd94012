import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/util/poll.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { exitWorkerThread } from '../helpers/inspector.js';
import { bridgePlugin, multusStdin } from '../helpers/networks.js';
import { DEBIAN_PLUGINS, FIXTURE_PLUGINS } from '../helpers/paths.js';
import { podArgs, runShim } from '../helpers/shim.js';

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

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');

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
    await exitWorkerThread(inspectPort, (w) => w.title.includes('multus-kube'));
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

  it('a delegate pool thread: the plugin it was running is killed with its group, the ADD answers code 11, the next ADD works', async () => {
    const pidFile = join(host.dir, 'pool-death.pid');
    const uid = cluster.pod('default', 'pool-death');
    const hang = join(cluster.daemon.confDir, 'hang-net.conflist');
    writeFileSync(hang, JSON.stringify({ cniVersion: '1.0.0', name: 'hang-net', plugins: [{ type: 'cni-hang', pidFile }] }));
    await cluster.cached();
    const inFlight = runShim({ ...addCall('pool-death', uid), stdin: multusStdin(cluster.daemon.socketDir, hang) });
    // Both pids, once the plugin has written them (the file exists, empty, a moment before).
    const written = (): number[] | undefined => {
      const pids = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : [];
      return pids.length === 2 && pids.every((p) => p > 0) ? pids : undefined;
    };
    const pids = await pollUntil(written, { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error('the plugin never started') });
    expect(pids.every(alive)).toBe(true);
    await exitWorkerThread(inspectPort, (w) => !w.title.includes('multus-kube'));
    const add = await inFlight;
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining('delegate pool cannot run plugin cni-hang') });
    await pollUntil(() => !pids.some(alive), { timeoutMs: 5000, everyMs: 10, timedOut: () => new Error(`plugin processes ${pids.filter(alive).join(' ')} outlived their thread`) });
    const uid2 = cluster.pod('default', 'after-pool-death');
    const call = addCall('after-pool-death', uid2);
    const again = await runShim(call);
    expect(again.code, again.stdout).toBe(0);
    expect((await runShim({ ...call, command: 'DEL' })).code).toBe(0);
  });
});
