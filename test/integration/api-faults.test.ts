import { join } from 'node:path';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * The API server misbehaving during ADD and DEL. Pod networks must come up whenever the cache
 * can answer, the status must land once the API is back, and DEL must never depend on the API.
 */
const host = new TestHost();
let cluster: TestCluster;
let clusterConf: string;
let heldConf: string;
let started: string;
let hold: string;
let n = 0;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

beforeAll(async () => {
  cluster = await startTestCluster(host, {}, { MULTUS_API_TIMEOUT_MS: '1500' });
  clusterConf = join(cluster.daemon.confDir, 'cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', address: '198.18.90.2/24' }));
  // A plugin the test holds inside its call: the API changes while the ADD runs.
  started = join(host.dir, 'held-started');
  hold = join(host.dir, 'hold');
  heldConf = join(cluster.daemon.confDir, 'held.conf');
  writeFileSync(heldConf, JSON.stringify({ cniVersion: '1.0.0', name: 'held', type: 'cni-record', startedFile: started, holdWhile: hold, address: '198.18.90.3/24' }));
  cluster.api.createNad('default', 'fault-net', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record' }));
});

afterAll(async () => {
  // A failed test may leave its ADD held, and the daemon drains it before it exits.
  rmSync(hold, { force: true });
  await cluster?.stop();
  host.cleanup();
});

async function podReady(annotations: Record<string, string> = { 'k8s.v1.cni.cncf.io/networks': 'fault-net' }): Promise<{ name: string; uid: string }> {
  const name = `fault-${n++}`;
  const uid = cluster.pod('default', name, annotations);
  await cluster.cached();
  return { name, uid };
}

/** Start an ADD through the held plugin; resolves, once the call is inside it, with the ADD's promise (wrapped: an async function would await it). */
async function heldAdd(pod: { name: string; uid: string }): Promise<{ add: ReturnType<typeof cni> }> {
  writeFileSync(hold, '');
  const add = cni('ADD', pod, heldConf);
  await until(() => existsSync(started) && readFileSync(started, 'utf8').includes(`ADD ${pod.name}cid`), `the ADD of ${pod.name} in the plugin`);
  return { add };
}

/** The daemon's log lines about `pod` with message `msg`. */
function logged(pod: { name: string }, msg: string): Array<Record<string, unknown>> {
  return cluster.daemon.logs().filter((l) => l.pod === `default/${pod.name}` && l.msg === msg);
}
const GONE = 'network-status not written: the pod is gone or was re-created';
const RETRYING = 'network-status not written; retrying in the background';

function cni(command: string, pod: { name: string; uid: string }, conf = clusterConf) {
  return runShim({ command, containerId: `${pod.name}cid`, netns: '/var/run/netns/none', args: podArgs('default', pod.name, pod.uid), stdin: multusStdin(cluster.daemon.socketDir, conf) });
}

function status(name: string): string | undefined {
  return (cluster.api.getPod('default', name) as { metadata: { annotations?: Record<string, string> } } | undefined)?.metadata.annotations?.[NETWORK_STATUS];
}


describe('API server faults', () => {
  it('slow API: ADD still succeeds and writes the status', async () => {
    const pod = await podReady();
    cluster.api.faults.latencyMs = 400;
    try {
      const add = await cni('ADD', pod);
      expect(add.code, add.stdout).toBe(0);
      await until(() => status(pod.name) !== undefined, 'the network-status annotation');
    } finally {
      cluster.api.faults.latencyMs = 0;
    }
    expect((await cni('DEL', pod)).code).toBe(0);
  });

  it('5xx on the status write: ADD succeeds and the status lands on a background retry', async () => {
    const pod = await podReady();
    cluster.api.failNext(1, 503, (r) => r.subresource === 'status');
    const add = await cni('ADD', pod);
    expect(add.code, add.stdout).toBe(0);
    await until(() => status(pod.name) !== undefined, 'the network-status annotation');
    expect(JSON.parse(status(pod.name) ?? '[]')).toHaveLength(2);
  });

  it('5xx everywhere during DEL: DEL makes no API call and succeeds', async () => {
    const pod = await podReady();
    expect((await cni('ADD', pod)).code).toBe(0);
    cluster.api.failNext(1000, 500);
    try {
      const del = await cni('DEL', pod);
      expect(del.code, del.stdout).toBe(0);
    } finally {
      cluster.api.clearFailures();
    }
  });

  it('dropped watches and expired history (410): the caches recover and serve ADD again without live reads', async () => {
    cluster.api.dropWatches();
    cluster.api.expireHistory();
    // Created while no watch is open: only a relist brings them into the caches.
    cluster.api.createNad('default', 'after-outage', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record' }));
    const pod = await podReady({ 'k8s.v1.cni.cncf.io/networks': 'after-outage' });
    cluster.api.resetRequests();
    const add = await cni('ADD', pod);
    expect(add.code, add.stdout).toBe(0);
    await until(() => status(pod.name) !== undefined, 'the network-status annotation');
    // The pod and the NAD came from the recovered caches: no live GET at all.
    expect(cluster.api.requests().filter((r) => r.verb === 'get').map((r) => r.path)).toEqual([]);
  });

  it('the pod deleted while its ADD runs: the ADD completes and the status write is skipped, not retried', async () => {
    const pod = await podReady({});
    const { add } = await heldAdd(pod);
    cluster.api.deletePod('default', pod.name);
    rmSync(hold);
    expect((await add).code).toBe(0);
    // One attempt (answered 404), then the daemon gives the write up instead of retrying it.
    await until(() => logged(pod, GONE).length === 1, 'the daemon giving the status write up');
    expect(logged(pod, RETRYING)).toEqual([]);
    expect(cluster.api.requests().filter((r) => r.subresource === 'status' && r.name === pod.name)).toHaveLength(1);
    expect((await cni('DEL', pod, heldConf)).code).toBe(0);
  });

  it('the pod re-created with a new uid while its ADD runs: the new pod is never annotated with the old sandbox', async () => {
    const pod = await podReady({});
    const { add } = await heldAdd(pod);
    cluster.api.deletePod('default', pod.name);
    cluster.pod('default', pod.name, {});
    rmSync(hold);
    expect((await add).code).toBe(0);
    await until(() => logged(pod, GONE).length === 1, 'the daemon giving the status write up');
    expect(logged(pod, RETRYING)).toEqual([]);
    expect(status(pod.name)).toBeUndefined();
  });
});
