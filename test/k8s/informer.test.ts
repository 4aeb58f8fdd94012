import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ResilientInformer } from '../../src/k8s/informer.js';
import { FakeApiServer, writeKubeconfig } from '../apiserver/server.js';
import { until } from '../helpers/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(watchdogMs = 60_000) {
  const api = await FakeApiServer.start();
  const dir = mkdtempSync('/tmp/informer-test-');
  writeKubeconfig(join(dir, 'kubeconfig'), api.url);
  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  const core = kc.makeApiClient(CoreV1Api);
  const restarts: string[] = [];
  const fieldSelector = 'spec.nodeName=node-a';
  const informer = new ResilientInformer<V1Pod>({
    path: '/api/v1/pods',
    watch: new Watch(kc),
    list: () => core.listPodForAllNamespaces({ fieldSelector }),
    fieldSelector,
    watchdogMs,
    onRestart: (reason) => restarts.push(reason),
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => api.close(), () => informer.stop());
  return { api, informer, restarts };
}

function pod(api: FakeApiServer, name: string, node: string): void {
  api.createPod({ metadata: { namespace: 'default', name }, spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] } });
}


describe('resilient informer', () => {
  it('caches only this node\'s pods, on both the list and the watch', async () => {
    const { api, informer } = await setup();
    pod(api, 'before', 'node-a');
    await informer.start();
    pod(api, 'mine', 'node-a');
    pod(api, 'theirs', 'node-b');
    await until(() => informer.get('mine', 'default') !== undefined, 'pod mine in the cache');
    expect(informer.get('theirs', 'default')).toBeUndefined();
    expect(informer.size).toBe(2);
    const reads = api.requests().filter((r) => r.resource === 'pods');
    expect(reads.every((r) => String(r.query.fieldSelector ?? '') === 'spec.nodeName=node-a')).toBe(true);
  });

  it('restarts after a dropped watch, once, and catches up on what it missed', async () => {
    const { api, informer, restarts } = await setup();
    await informer.start();
    api.dropWatches();
    await until(() => restarts.length === 1, 'the dropped watch noticed');
    pod(api, 'during-outage', 'node-a');
    await until(() => informer.get('during-outage', 'default') !== undefined, 'the pod created during the outage', 10_000);
    // Whatever the dropped watch reported has been handled by now: the restarted one delivers.
    pod(api, 'after-outage', 'node-a');
    await until(() => informer.get('after-outage', 'default') !== undefined, 'a pod created after the restart');
    expect(api.openWatches()).toBe(1);
    expect(restarts).toHaveLength(1);
    expect(informer.restarts).toBe(1);
  });

  it('relists after the history it would resume from expired (410)', async () => {
    const { api, informer } = await setup();
    await informer.start();
    api.dropWatches();
    api.expireHistory();
    pod(api, 'after-expiry', 'node-a');
    await until(() => informer.get('after-expiry', 'default') !== undefined, 'the pod created after expiry', 10_000);
  });

  it('the watchdog replaces a silent watch; retiring the old one is no error and the new one watches', async () => {
    const { api, informer, restarts } = await setup(1000);
    pod(api, 'known', 'node-a');
    await informer.start();
    // Swapped: the replacement's watch is open and the server saw the retired one close (the
    // client's abort of it, and any error that reports, came before that).
    const watches = (): number => api.requests().filter((r) => r.verb === 'watch').length;
    await until(() => watches() === 2 && api.openWatches() === 1, 'the retired watch replaced and closed');
    expect(restarts).toEqual([]);
    expect(informer.get('known', 'default')).toBeDefined();
    pod(api, 'after-watchdog', 'node-a');
    await until(() => informer.get('after-watchdog', 'default') !== undefined, 'the pod created after the watchdog restart');
    // Delivered by the replacement itself, not by a later watchdog round.
    expect(informer.restarts).toBe(1);
  });
});
