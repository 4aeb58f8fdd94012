import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeWorker, type KubeHandle } from '../../src/k8s/kube-worker-client.js';
import type { ApiObservations, KubeLog } from '../../src/k8s/protocol.js';
import { FakeApiServer, writeKubeconfig } from '../apiserver/server.js';
import { createNodePod } from '../helpers/cluster.js';
import { ROOT } from '../helpers/paths.js';

/** The kube worker thread as the daemon runs it (the built bundle), against the in-repo API server. */
const dir = mkdtempSync('/tmp/multus-kube-worker-test-');
const WORKER = new URL(`file://${ROOT}dist/kube-bundle/kube.worker.mjs`);
let api: FakeApiServer;
let kube: KubeHandle | undefined;
const logged: KubeLog[] = [];
const observed: ApiObservations[] = [];

beforeAll(async () => {
  api = await FakeApiServer.start();
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, api.url);
  // No node name: the worker says it will read pods live, a log line for the test below.
  const opts = { kubeconfig, nodeName: '', requestTimeoutMs: 5000, watchdogMs: 60_000, syncTimeoutMs: 5000, informers: true };
  kube = await startKubeWorker(opts, (line) => logged.push(line), (batch) => observed.push(batch), { onRestart: () => undefined }, WORKER);
});
afterAll(async () => {
  await kube?.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the kube worker thread', () => {
  it('sends its log lines one way to the main thread', () => {
    expect(logged.map((l) => l.msg)).toContain('MULTUS_NODE_NAME is not set: no pod informer, every ADD reads its pod from the API server');
  });

  it("answers the ADD's writes with their observations, before its answer reaches the caller (no batch timer, no message of its own)", async () => {
    if (kube === undefined) throw new Error('no kube worker');
    const uid = createNodePod(api, 'default', 'observed');
    const pod = { namespace: 'default', name: 'observed', uid, annotations: {}, resourceClaims: [] };
    const seenBefore = observed.flat().length;
    const outcome = await kube.api.publishNetworkStatus(pod, '[]', { pod, type: 'Normal', reason: 'AddedInterface', message: 'm' });
    expect(outcome.ok).toBe(true);
    // Without the observations in the answer they came about a second later, in a batch. (The
    // informer's first list, if not sent yet, comes along.)
    const writes = observed.flat().slice(seenBefore).filter(([verb]) => verb !== 'list');
    expect(writes.map(([verb, code]) => `${verb} ${code}`).sort()).toEqual(['create 2xx', 'patch 2xx']);
  });
});
