import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { TestHost } from '../helpers/host.js';
import { multusStdin } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { sleep, until } from '../helpers/wait.js';

/**
 * The API server misbehaving during ADD and DEL. Pod networks must come up whenever the cache
 * can answer, the status must land once the API is back, and DEL must never depend on the API.
 */
const host = new TestHost();
let cluster: TestCluster;
let clusterConf: string;
let slowConf: string;
let n = 0;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

beforeAll(async () => {
  cluster = await startTestCluster(host, {}, { MULTUS_API_TIMEOUT_MS: '1500' });
  clusterConf = join(cluster.daemon.confDir, 'cluster.conf');
  writeFileSync(clusterConf, JSON.stringify({ cniVersion: '1.0.0', name: 'cluster', type: 'cni-record', address: '198.18.90.2/24' }));
  slowConf = join(cluster.daemon.confDir, 'slow.conf');
  writeFileSync(slowConf, JSON.stringify({ cniVersion: '1.0.0', name: 'slow', type: 'cni-record', sleepMs: 800, address: '198.18.90.3/24' }));
  cluster.api.createNad('default', 'fault-net', JSON.stringify({ cniVersion: '1.0.0', type: 'cni-record' }));
});

afterAll(async () => {
  await cluster?.stop();
  host.cleanup();
});

async function podReady(annotations: Record<string, string> = { 'k8s.v1.cni.cncf.io/networks': 'fault-net' }): Promise<{ name: string; uid: string }> {
  const name = `fault-${n++}`;
  const uid = cluster.pod('default', name, annotations);
  await sleep(200); // in the informer cache, as it is long before kubelet asks
  return { name, uid };
}

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

  it('dropped watches and expired history (410): the caches recover, ADD keeps working', async () => {
    cluster.api.dropWatches();
    cluster.api.expireHistory();
    const pod = await podReady();
    await sleep(2500); // one informer restart with backoff
    const add = await cni('ADD', pod);
    expect(add.code, add.stdout).toBe(0);
    await until(() => status(pod.name) !== undefined, 'the network-status annotation');
  });

  it('the pod deleted while its ADD runs: the ADD completes and the status write is skipped, not retried', async () => {
    const pod = await podReady({});
    const add = cni('ADD', pod, slowConf);
    await sleep(300);
    cluster.api.deletePod('default', pod.name);
    expect((await add).code).toBe(0);
    // One attempt (answered 404), right after the ADD's answer; then no retry.
    const attempts = (): number => cluster.api.requests().filter((r) => r.subresource === 'status' && r.name === pod.name).length;
    await until(() => attempts() === 1, 'the status write attempt');
    await sleep(1500);
    expect(attempts()).toBe(1);
    expect((await cni('DEL', pod, slowConf)).code).toBe(0);
  });

  it('the pod re-created with a new uid while its ADD runs: the new pod is never annotated with the old sandbox', async () => {
    const pod = await podReady({});
    const add = cni('ADD', pod, slowConf);
    await sleep(300);
    cluster.api.deletePod('default', pod.name);
    cluster.pod('default', pod.name, {});
    expect((await add).code).toBe(0);
    await sleep(1500);
    expect(status(pod.name)).toBeUndefined();
  });
});
