import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  ListWatch,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer, writeKubeconfig } from './server.js';
import { until } from '../helpers/wait.js';

const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' } as const;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';

let api: FakeApiServer;
let dir: string;
let kc: KubeConfig;
let core: CoreV1Api;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  api = await FakeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
  writeKubeconfig(join(dir, 'kubeconfig'), api.url);
  kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  core = kc.makeApiClient(CoreV1Api);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The ApiException a call rejects with, its Status body decoded. */
async function apiError(call: Promise<unknown>): Promise<{ code: number; status: { reason?: string; message?: string; code?: number } }> {
  try {
    await call;
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    return { code: e.code, status: JSON.parse(e.body as string) as { reason?: string; message?: string; code?: number } };
  }
  throw new Error('expected the call to fail');
}

function pod(name: string, nodeName = 'node-a', labels?: Record<string, string>): V1Pod {
  return { metadata: { name, ...(labels === undefined ? {} : { labels }) }, spec: { nodeName, containers: [{ name: 'c', image: 'img' }] } };
}


/** A pod informer scoped to a node, exactly as the daemon builds it, recording what it emits. */
async function nodeInformer(nodeName: string): Promise<{ informer: ListWatch<V1Pod>; seen: string[]; errors: unknown[] }> {
  const fieldSelector = `spec.nodeName=${nodeName}`;
  const informer = new ListWatch<V1Pod>('/api/v1/pods', new Watch(kc), () => core.listPodForAllNamespaces({ fieldSelector }), false, undefined, fieldSelector);
  const seen: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (p) => seen.push(`add ${p.metadata?.name ?? ''}`));
  informer.on('update', (p) => seen.push(`update ${p.metadata?.name ?? ''}`));
  informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name ?? ''}`));
  informer.on('error', (e) => errors.push(e));
  cleanups.push(() => informer.stop());
  await informer.start();
  return { informer, seen, errors };
}

describe('pods through CoreV1Api', () => {
  it('creates and reads a pod with uid and resourceVersion; a missing pod is a 404 NotFound Status', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const read = await core.readNamespacedPod({ namespace: 'default', name: 'a' });
    expect(read.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    expect(read.metadata?.resourceVersion).toMatch(/^[0-9]+$/);
    expect(read.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(read.status?.phase).toBe('Pending');

    const missing = await apiError(core.readNamespacedPod({ namespace: 'default', name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', message: 'pods "nope" not found', code: 404 });
  });

  it('refuses a second create with 409 AlreadyExists', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const dup = await apiError(core.createNamespacedPod({ namespace: 'default', body: pod('a') }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({ reason: 'AlreadyExists', message: 'pods "a" already exists' });
  });

  it('merge-patches annotations through pods/status, without touching spec', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    api.resetRequests();
    const patched = await core.patchNamespacedPodStatus(
      { name: 'a', namespace: 'default', body: { metadata: { annotations: { k: 'v' } }, spec: { nodeName: 'elsewhere' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.metadata?.annotations).toEqual({ k: 'v' });
    expect(api.getPod('default', 'a')?.spec).toMatchObject({ nodeName: 'node-a' });
    expect(api.requests()).toEqual([
      expect.objectContaining({ verb: 'patch', resource: 'pods', subresource: 'status', contentType: 'application/merge-patch+json', status: 200, authorization: true }),
    ]);
  });

  it('sends json-patch by default, so an object body is refused', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const failed = await apiError(core.patchNamespacedPodStatus({ name: 'a', namespace: 'default', body: { metadata: { annotations: { k: 'v' } } } }));
    expect([400, 422]).toContain(failed.code);
    expect(api.requests().at(-1)).toMatchObject({ contentType: 'application/json-patch+json', status: failed.code });
    expect(api.getPod('default', 'a')?.metadata.annotations).toBeUndefined();
  });

  it('applies JSON patch add/replace with ~1 escaping, and answers a failed test with 422', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const path = `/metadata/annotations/${NETWORK_STATUS.replace('~', '~0').replace('/', '~1')}`;
    await core.patchNamespacedPod({ name: 'a', namespace: 'default', body: [{ op: 'add', path: '/metadata/annotations', value: { [NETWORK_STATUS]: '[]' } }] });
    const replaced = await core.patchNamespacedPod({ name: 'a', namespace: 'default', body: [{ op: 'replace', path, value: '[{"name":"net1"}]' }] });
    expect(replaced.metadata?.annotations).toEqual({ [NETWORK_STATUS]: '[{"name":"net1"}]' });

    const before = api.getPod('default', 'a')?.metadata.resourceVersion;
    const failed = await apiError(
      core.patchNamespacedPod({ name: 'a', namespace: 'default', body: [{ op: 'test', path, value: 'other' }, { op: 'remove', path }] }),
    );
    expect(failed.code).toBe(422);
    expect(failed.status.reason).toBe('Invalid');
    expect(api.getPod('default', 'a')?.metadata).toMatchObject({ resourceVersion: before, annotations: { [NETWORK_STATUS]: '[{"name":"net1"}]' } });
  });

  it('answers a replace with a stale resourceVersion with 409 Conflict, and a current one with a new resourceVersion', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const stale = created.metadata?.resourceVersion ?? '';
    await core.patchNamespacedPod({ name: 'a', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels', value: { x: '1' } }] });
    const conflict = await apiError(core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: created }));
    expect(conflict.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on pods "a": the object has been modified; please apply your changes to the latest version and try again',
    });

    const current = await core.readNamespacedPod({ name: 'a', namespace: 'default' });
    current.metadata = { ...current.metadata, labels: { x: '2' } };
    const replaced = await core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: current });
    expect(replaced.metadata?.labels).toEqual({ x: '2' });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(current.metadata.resourceVersion));
    expect(stale).not.toBe(current.metadata.resourceVersion);
  });

  it('refuses a spec change through the main resource with 422, like pod validation', async () => {
    const created = await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
    const changed: V1Pod = { ...created, spec: { ...created.spec, nodeName: 'node-b', containers: created.spec?.containers ?? [] } };
    const failed = await apiError(core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: changed }));
    expect(failed.code).toBe(422);
    expect(failed.status.message).toMatch(/^Pod "a" is invalid: spec: Forbidden: pod updates may not change fields/);
  });

  it('filters lists by field and label selectors', async () => {
    api.createPod(pod('a', 'node-a', { app: 'x' }));
    api.createPod(pod('b', 'node-b', { app: 'x' }));
    api.createPod({ ...pod('c', 'node-a'), metadata: { name: 'c', namespace: 'other' } });
    const names = (l: { items: V1Pod[] }): string[] => l.items.map((p) => p.metadata?.name ?? '');
    expect(names(await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' }))).toEqual(['a', 'c']);
    expect(names(await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName!=node-a,metadata.namespace==default' }))).toEqual(['b']);
    expect(names(await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=x,app!=y' }))).toEqual(['a', 'b']);
    expect(names(await core.listPodForAllNamespaces({ labelSelector: '!app' }))).toEqual(['c']);
    const bad = await apiError(core.listPodForAllNamespaces({ fieldSelector: 'spec.bogus=1' }));
    expect(bad.code).toBe(400);
  });

  it('deletes immediately, answering with the pod', async () => {
    api.createPod(pod('a'));
    const deleted = await core.deleteNamespacedPod({ name: 'a', namespace: 'default' });
    expect(deleted.metadata?.name).toBe('a');
    expect(api.getPod('default', 'a')).toBeUndefined();
    expect((await apiError(core.deleteNamespacedPod({ name: 'a', namespace: 'default' }))).code).toBe(404);
  });
});

describe('NetworkAttachmentDefinitions through CustomObjectsApi', () => {
  it('reads a NAD created in-process and refuses strategic merge patch with 415', async () => {
    const config = '{"cniVersion":"0.3.1","type":"macvlan"}';
    api.createNad('ns1', 'macvlan-conf', config);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const nad = (await custom.getNamespacedCustomObject({ ...NAD, namespace: 'ns1', name: 'macvlan-conf' })) as KubernetesObject & { spec: { config: string } };
    expect(nad).toMatchObject({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'macvlan-conf', namespace: 'ns1' } });
    expect(nad.spec.config).toBe(config);

    const smp = await apiError(
      custom.patchNamespacedCustomObject(
        { ...NAD, namespace: 'ns1', name: 'macvlan-conf', body: { metadata: { labels: { a: 'b' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(smp.code).toBe(415);
    expect(smp.status.reason).toBe('UnsupportedMediaType');

    const merged = (await custom.patchNamespacedCustomObject(
      { ...NAD, namespace: 'ns1', name: 'macvlan-conf', body: { metadata: { labels: { a: 'b' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as KubernetesObject;
    expect(merged.metadata?.labels).toEqual({ a: 'b' });
    const missing = await apiError(custom.getNamespacedCustomObject({ ...NAD, namespace: 'ns1', name: 'nope' }));
    expect(missing.status.message).toBe('network-attachment-definitions.k8s.cni.cncf.io "nope" not found');
  });
});

describe('watches through ListWatch and Watch', () => {
  it('a node-scoped ListWatch sees add/update/delete only for pods on its node, with the selector on list and watch', async () => {
    api.createPod(pod('before', 'node-a'));
    api.createPod(pod('other-before', 'node-b'));
    const { seen } = await nodeInformer('node-a');
    api.createPod(pod('x', 'node-a'));
    api.createPod(pod('y', 'node-b'));
    await core.patchNamespacedPodStatus(
      { name: 'x', namespace: 'default', body: { metadata: { annotations: { k: 'v' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.patchNamespacedPodStatus(
      { name: 'y', namespace: 'default', body: { metadata: { annotations: { k: 'v' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    api.deletePod('default', 'y');
    api.deletePod('default', 'x');
    // Events arrive in order: once a later pod's arrives, nothing else came before it.
    api.createPod(pod('sentinel'));
    await until(() => seen.includes('add sentinel'), 'the sentinel pod');
    expect(seen).toEqual(['add before', 'add x', 'update x', 'delete x', 'add sentinel']);

    const reads = api.requests().filter((r) => r.path === '/api/v1/pods');
    expect(reads.map((r) => r.verb)).toEqual(['list', 'watch']);
    for (const r of reads) expect(r.query.fieldSelector).toBe('spec.nodeName=node-a');
  });

  it('a status write that changes nothing is no write: no new resourceVersion, no update event', async () => {
    const { seen } = await nodeInformer('node-a');
    api.createPod(pod('x'));
    const patch = { name: 'x', namespace: 'default', body: { metadata: { annotations: { k: 'v' } } } };
    const first = await core.patchNamespacedPodStatus(patch, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const second = await core.patchNamespacedPodStatus(patch, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    api.createPod(pod('sentinel'));
    await until(() => seen.includes('add sentinel'), 'the sentinel pod');
    expect(seen).toEqual(['add x', 'update x', 'add sentinel']);
  });

  it('dropWatches() cuts the stream: ListWatch reports an error and does not restart by itself', async () => {
    const { seen, errors } = await nodeInformer('node-a');
    expect(api.openWatches()).toBe(1);
    api.dropWatches();
    await until(() => errors.length > 0, 'an informer error');
    expect(String(errors[0])).toMatch(/Premature close/);
    // A restart would have sent its list or watch when the error was reported: a round trip of
    // our own, sent after that, is answered after it would have arrived.
    await core.listNamespacedPod({ namespace: 'default' });
    expect(api.requests().map((r) => r.verb)).toEqual(['list', 'watch', 'list']);
    expect(api.openWatches()).toBe(0);
    // With no watch open, nothing can deliver a new pod.
    api.createPod(pod('x'));
    expect(seen).toEqual([]);
  });

  it('a graceful end makes ListWatch re-watch from its resourceVersion; after expired history it relists', async () => {
    const { seen } = await nodeInformer('node-a');
    api.dropWatches('graceful');
    await until(() => api.requests().filter((r) => r.verb === 'watch').length === 2 && api.openWatches() === 1, 'a re-watch');
    api.createPod(pod('x'));
    await until(() => seen.includes('add x'), 'add x');

    // A write the informer does not see leaves its resourceVersion behind; expiring history makes it too old.
    api.createPod(pod('elsewhere', 'node-b'));
    api.expireHistory();
    api.dropWatches('graceful');
    await until(() => api.requests().filter((r) => r.verb === 'list').length === 2 && api.openWatches() === 1, 'a relist and a new watch');
    api.createPod(pod('y'));
    await until(() => seen.includes('add y'), 'add y after relist');
    expect(api.requests().map((r) => r.verb)).toEqual(['list', 'watch', 'watch', 'watch', 'list', 'watch']);
    expect(seen).toEqual(['add x', 'add y']);
  });

  it('a watch resumed from a resourceVersion older than history gets ERROR 410 Expired, then the stream ends', async () => {
    const old = api.createPod(pod('a')).metadata.resourceVersion;
    api.createPod(pod('b'));
    api.expireHistory();
    const events: Array<{ type: string; object: { code?: number; reason?: string; message?: string } }> = [];
    const done = new Promise<unknown>((resolve) => {
      void new Watch(kc).watch('/api/v1/pods', { resourceVersion: old }, (type, object: { code?: number }) => events.push({ type, object }), resolve);
    });
    // client-node 1.4.0 reports the 410 as an ERROR event and then calls done with null. The
    // 3 s race only guards against a hang: the end comes within milliseconds.
    expect(await Promise.race([done, new Promise((r) => setTimeout(() => r('stream still open'), 3000))])).toBeNull();
    expect(events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    expect(events[0]?.object.message).toMatch(new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`));
  });

  it('replays history after a resourceVersion and then streams live events', async () => {
    const from = api.createPod(pod('a')).metadata.resourceVersion;
    api.createPod(pod('b'));
    api.deletePod('default', 'a');
    const events: string[] = [];
    const controller = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: from }, (type, obj: V1Pod) => events.push(`${type} ${obj.metadata?.name ?? ''}`), () => undefined);
    cleanups.push(() => controller.abort());
    api.createPod(pod('c'));
    api.createPod({ metadata: { name: 'elsewhere', namespace: 'other' } });
    api.createPod(pod('sentinel'));
    await until(() => events.includes('ADDED sentinel'), 'the sentinel pod');
    expect(events).toEqual(['ADDED b', 'DELETED a', 'ADDED c', 'ADDED sentinel']);
  });

  it('serves a shared keep-alive agent over one connection, and closes promptly with it idle', async () => {
    api.createPod(pod('a'));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    // client-node 1.4.0 builds a new Agent per request; a pre middleware is where a shared one goes in.
    const useAgent = {
      pre: (ctx: RequestContext) => {
        ctx.setAgent(agent);
        return new Observable(Promise.resolve(ctx));
      },
      post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
    };
    const shared = { middleware: [useAgent], middlewareMergeStrategy: 'append' as const };
    for (let i = 0; i < 3; i++) await core.readNamespacedPod({ name: 'a', namespace: 'default' }, shared);
    expect(api.connections()).toBe(1);
    await api.close(); // a keep-alive connection left open would hold this until the test's timeout
  });

  it('closes promptly with a watch open, ending the watch', async () => {
    const done = new Promise<unknown>((resolve) => {
      void new Watch(kc).watch('/api/v1/pods', {}, () => undefined, resolve);
    });
    await until(() => api.openWatches() === 1, 'the watch');
    await api.close(); // an open watch left open would hold this until the test's timeout
    await done;
  });
});

describe('faults', () => {
  it('failNext(1, 503) fails the next call with 503 ServiceUnavailable, and the one after succeeds', async () => {
    api.createPod(pod('a'));
    api.failNext(1, 503);
    const failed = await apiError(core.readNamespacedPod({ name: 'a', namespace: 'default' }));
    expect(failed.code).toBe(503);
    expect(failed.status).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    await expect(core.readNamespacedPod({ name: 'a', namespace: 'default' })).resolves.toMatchObject({ metadata: { name: 'a' } });
  });

  it('failNext with a matcher leaves other requests alone, and fails a watch with its HTTP status', async () => {
    api.createPod(pod('a'));
    api.failNext(1, 500, (r) => r.method === 'GET' && r.path === '/api/v1/pods');
    await expect(core.readNamespacedPod({ name: 'a', namespace: 'default' })).resolves.toBeDefined();
    const err = await new Promise<unknown>((resolve) => {
      void new Watch(kc).watch('/api/v1/pods', {}, () => undefined, resolve);
    });
    expect(err).toMatchObject({ statusCode: 500 });
  });

  it('faults.latencyMs delays a GET by at least that long', async () => {
    api.createPod(pod('a'));
    api.faults.latencyMs = 200;
    const started = performance.now();
    await core.readNamespacedPod({ name: 'a', namespace: 'default' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(199);
  });
});

describe('events', () => {
  it('stores a core/v1 Event created through the API', async () => {
    await core.createNamespacedEvent({
      namespace: 'ns1',
      body: {
        metadata: { generateName: 'pod-a.' },
        involvedObject: { kind: 'Pod', namespace: 'ns1', name: 'pod-a' },
        reason: 'AddedInterface',
        message: 'Add eth0 [10.0.0.2/24]',
        type: 'Normal',
      },
    });
    const events = api.events('ns1');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'Event', metadata: { namespace: 'ns1', name: expect.stringMatching(/^pod-a\.[a-z0-9]{5}$/) }, reason: 'AddedInterface' });
    expect(api.events('other')).toEqual([]);
  });

  it('stores an events.k8s.io/v1 Event as a core Event', async () => {
    await kc.makeApiClient(EventsV1Api).createNamespacedEvent({
      namespace: 'ns1',
      body: { metadata: { name: 'e1' }, eventTime: new Date(), regarding: { kind: 'Pod', name: 'p' }, note: 'hello', reason: 'R', action: 'A', reportingController: 'multus', reportingInstance: 'node-a', type: 'Normal' },
    });
    expect(api.events('ns1')).toEqual([expect.objectContaining({ apiVersion: 'v1', message: 'hello', involvedObject: { kind: 'Pod', name: 'p' }, reportingComponent: 'multus' })]);
  });
});

describe('wire format (raw fetch)', () => {
  it('lists with kind, apiVersion and the current resourceVersion; items carry kind and apiVersion', async () => {
    api.createPod(pod('a'));
    const res = await fetch(`${api.url}/api/v1/namespaces/default/pods`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as { kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: Array<{ kind: string; apiVersion: string }> };
    expect(list).toMatchObject({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion() } });
    expect(list.items).toEqual([expect.objectContaining({ kind: 'Pod', apiVersion: 'v1' })]);
    expect(api.requests().at(-1)).toMatchObject({ verb: 'list', authorization: false });
  });

  it('streams chunked newline-delimited JSON with bookmarks, and ends after timeoutSeconds', async () => {
    api.createPod(pod('a'));
    const started = Date.now();
    const res = await fetch(`${api.url}/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const lines = (await res.text()).trim().split('\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    const events = lines.map((l) => JSON.parse(l) as { type: string; object: { kind: string; metadata: { resourceVersion: string } } });
    expect(events[0]).toMatchObject({ type: 'ADDED', object: { kind: 'Pod' } });
    expect(events.slice(1).length).toBeGreaterThanOrEqual(1);
    for (const e of events.slice(1)) expect(e).toEqual({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion() } } });
  });

  it('answers unknown media types, methods and paths like the real server', async () => {
    api.createPod(pod('a'));
    const patch = await fetch(`${api.url}/api/v1/namespaces/default/pods/a`, { method: 'PATCH', headers: { 'Content-Type': 'application/yaml' }, body: 'x: 1' });
    expect(patch.status).toBe(415);
    const post = await fetch(`${api.url}/api/v1/namespaces/default/pods/a`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { reason: string }).reason).toBe('MethodNotAllowed');
    expect((await fetch(`${api.url}/api/v1/namespaces/default/widgets`)).status).toBe(404);
    const garbage = await fetch(`${api.url}/api/v1/namespaces/default/pods`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
    expect(garbage.status).toBe(400);
    const wrongToken = await fetch(`${api.url}/api/v1/pods`, { headers: { Authorization: 'Bearer wrong' } });
    expect(wrongToken.status).toBe(401);
  });
});
