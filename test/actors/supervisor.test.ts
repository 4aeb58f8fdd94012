import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { OperationContext } from '../../src/actors/pod-operations.js';
import type { Runner } from '../../src/cni/runner.js';
import { readMultusConf } from '../../src/config/multus-conf.js';
import { CniError } from '../../src/errors.js';
import type { KubeAccess, PodEvent, PodInfo, StatusPatchOutcome } from '../../src/k8s/protocol.js';
import { patchAndRecord } from '../../src/k8s/api-objects.js';
import type { CniRequest } from '../../src/server/request.js';
import { createSupervisor, type SupervisorOptions } from '../../src/supervisor/supervisor.js';
import { until } from '../helpers/wait.js';

/** A gate a fake plugin run waits on until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** A runner whose ADD never finishes until released: enough to fill the supervisor. */
function blockingRunner(): { runner: Runner; release: () => void } {
  const g = gate();
  const runner = { add: async () => { await g.wait; return { cniVersion: '1.0.0' }; } } as unknown as Runner;
  return { runner, release: g.open };
}

/** Cache dir for the requests; removed even when a test fails. */
const dir = mkdtempSync('/tmp/supervisor-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

let sandboxes = 0;

/** An ADD of pod `ns/<pod>` in a new sandbox; `networks` delegates (loopback, never run for real). */
function addRequest(pod: string, networks = 1): CniRequest {
  const delegates = Array.from({ length: networks }, (_, i) => ({ cniVersion: '1.0.0', name: `n${i}`, type: 'loopback' }));
  return {
    command: 'ADD',
    containerId: `${pod}cid${sandboxes++}`,
    netns: '/var/run/netns/x',
    ifname: 'eth0',
    pod: { namespace: 'ns', name: pod, uid: `${pod}-uid`, infraContainerId: '' },
    conf: readMultusConf({ cniVersion: '1.0.0', cniDir: dir, delegates }),
  };
}

/** A client that stays until the answer. */
const STAYS = new AbortController().signal;

/** A supervisor whose operations use `runner` and `kube`; options may override the bounds. */
function supervisorWith(runner: Runner, kube: KubeAccess | undefined, options: Partial<SupervisorOptions> = {}, log: Logger = pino({ level: 'silent' })) {
  const context = (_req: CniRequest, scope: Parameters<SupervisorOptions['context']>[1]): OperationContext => ({
    ...scope,
    runner,
    log,
    kube,
    netnsIp: () => Promise.resolve(),
    readinessTimeoutMs: 0,
    devices: { podResourcesSocket: '/nonexistent/kubelet.sock', checkpointFile: '/nonexistent/checkpoint' },
    deviceInfoDir: '/nonexistent/devinfo',
    deleteAbandoned: () => undefined,
  });
  return createSupervisor({ maxInflight: 10, maxFollowUps: 10, deadlineMs: 60_000, log, context, ...options });
}

/**
 * An API whose status patches are recorded (which sandbox's value, in order) and answered by
 * `answer`, the first patch of each sandbox first; the pod is found under any name.
 */
function recordingKube(answer: (nth: number) => Promise<StatusPatchOutcome>): { kube: KubeAccess; patches: string[] } {
  const patches: string[] = [];
  const kube = {
    getPod: (namespace: string, name: string, uid: string) => Promise.resolve({ kind: 'found', pod: { namespace, name, uid, annotations: {}, resourceClaims: [] } }),
    getNad: () => Promise.resolve({ kind: 'missing' }),
    draDevices: () => Promise.resolve({ kind: 'found', devices: [] }),
    recordEvent: () => Promise.resolve(),
    patchNetworkStatus: (_pod: PodInfo, value: string) => {
      patches.push(value);
      return answer(patches.length);
    },
    publishNetworkStatus: (pod: PodInfo, value: string, event: PodEvent) => patchAndRecord(kube, pod, value, event),
  } as unknown as KubeAccess;
  return { kube, patches };
}

/** The IP `namingRunner` gives a sandbox: the network-status of each sandbox differs. */
function addressOf(req: CniRequest): string {
  return `10.0.${req.containerId.split('cid')[1] ?? ''}.1`;
}

/** A runner whose ADD answers an IP derived from the sandbox (see addressOf). */
const namingRunner = {
  add: (_net: unknown, a: { containerId: string }) => Promise.resolve({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: `10.0.${a.containerId.split('cid')[1] ?? ''}.1/24`, interface: 0 }] }),
  del: () => Promise.resolve([]),
} as unknown as Runner;

describe('supervisor', () => {
  it('refuses work past its in-flight bound with CNI error 11, at once', async () => {
    const { runner, release } = blockingRunner();
    const supervisor = supervisorWith(runner, undefined, { maxInflight: 2 });
    const first = [supervisor.handle(addRequest('a'), STAYS), supervisor.handle(addRequest('b'), STAYS)];
    const refused = supervisor.handle(addRequest('c'), STAYS);
    await expect(refused).rejects.toMatchObject({ code: 11 });
    await expect(refused).rejects.toBeInstanceOf(CniError);
    expect(supervisor.stats()).toEqual({ actors: 2, inflight: 2, queued: 2, followUps: 0 });
    release();
    await Promise.all(first);
    await until(() => supervisor.stats().actors === 0, 'the actors reaped');
    expect(supervisor.stats()).toEqual({ actors: 0, inflight: 0, queued: 0, followUps: 0 });
  });

  it('a crash inside one actor fails only that request, with a CNI error; other pods go on', async () => {
    const runner = {
      add: (_net: unknown, a: { cniArgs: Array<[string, string]> }) => {
        if (a.cniArgs.some(([k, v]) => k === 'K8S_POD_NAME' && v === 'crashes')) throw new TypeError('cannot read properties of undefined');
        return Promise.resolve({ cniVersion: '1.0.0' });
      },
      del: () => Promise.resolve([]), // no plugin skipped
    } as unknown as Runner;
    const logged: unknown[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const supervisor = supervisorWith(runner, undefined, {}, log);
    const [crashed, fine] = await Promise.allSettled([supervisor.handle(addRequest('crashes'), STAYS), supervisor.handle(addRequest('fine'), STAYS)]);
    expect(crashed.status).toBe('rejected');
    expect((crashed as PromiseRejectedResult).reason).toMatchObject({ code: 999, message: expect.stringContaining('cannot read properties of undefined') });
    expect(fine.status).toBe('fulfilled');
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'unexpected failure inside a pod actor' }));
    // The daemon goes on: the same pod is served again.
    await expect(supervisor.handle(addRequest('fine'), STAYS)).resolves.toBeDefined();
    await until(() => supervisor.stats().inflight === 0, 'nothing in flight');
  });

  it('counts a request in flight until its answer only: a slow network-status write is a follow-up, with its own gauge', async () => {
    const patch = gate();
    const { kube } = recordingKube(async () => {
      await patch.wait;
      return { ok: true };
    });
    const supervisor = supervisorWith(namingRunner, kube, { maxInflight: 1 });
    await supervisor.handle(addRequest('answered'), STAYS);
    await until(() => supervisor.stats().followUps === 1, 'the follow-up running');
    expect(supervisor.stats()).toMatchObject({ inflight: 0, followUps: 1 });
    // At maxInflight 1, another pod is still accepted: its predecessor was answered.
    await expect(supervisor.handle(addRequest('next'), STAYS)).resolves.toBeDefined();
    patch.open();
    await until(() => supervisor.stats().followUps === 0 && supervisor.stats().actors === 0, 'the follow-ups done');
  });

  // Real timers: the first retry comes after 1 s (pod-status.ts), and until() polls with timers.
  it('a failed status write is retried in the pod\'s mailbox, and dropped once a newer sandbox of the pod was added', async () => {
    // The first write fails (API away); every later one succeeds.
    const { kube, patches } = recordingKube((nth) => Promise.resolve(nth === 1 ? { ok: false, gone: false, message: 'API server away' } : { ok: true }));
    const supervisor = supervisorWith(namingRunner, kube);
    const old = addRequest('recreated');
    await supervisor.handle(old, STAYS);
    await until(() => supervisor.stats().followUps === 1 && patches.length === 1, 'the retry of the old sandbox scheduled');
    const newer = addRequest('recreated');
    await supervisor.handle(newer, STAYS);
    await until(() => patches.length === 2, 'the newer sandbox\'s status written');
    // The scheduled retry leaves the gauge when its timer fires, run or dropped.
    await until(() => supervisor.stats().followUps === 0 && supervisor.stats().actors === 0, 'the old sandbox\'s retry due and gone');
    // The old sandbox's value was never written over the newer one's.
    expect(patches.map((v) => (v.includes(addressOf(old)) ? 'old' : v.includes(addressOf(newer)) ? 'newer' : v))).toEqual(['old', 'newer']);
  });

  it('a failed status write is retried after its delay when nothing newer came', async () => {
    const { kube, patches } = recordingKube((nth) => Promise.resolve(nth === 1 ? { ok: false, gone: false, message: 'API server away' } : { ok: true }));
    const supervisor = supervisorWith(namingRunner, kube);
    await supervisor.handle(addRequest('retried'), STAYS);
    await until(() => supervisor.stats().followUps === 1, 'the retry scheduled');
    await until(() => patches.length === 2 && supervisor.stats().followUps === 0, 'the retry written');
    expect(patches[1]).toBe(patches[0]);
  });

  it('a request whose client leaves stops at the next step and rolls back; one queued behind it that was given up never runs', async () => {
    const firstRun = gate();
    const runs: string[] = [];
    const runner = {
      add: async (net: { name: string }, a: { containerId: string }) => {
        runs.push(`ADD ${a.containerId} ${net.name}`);
        if (net.name === 'n0') await firstRun.wait;
        return { cniVersion: '1.0.0' };
      },
      del: (net: { name: string }, a: { containerId: string }) => {
        runs.push(`DEL ${a.containerId} ${net.name}`);
        return Promise.resolve([]);
      },
    } as unknown as Runner;
    const supervisor = supervisorWith(runner, undefined);
    const leaving = new AbortController();
    const add = addRequest('leaves', 2);
    const answer = supervisor.handle(add, leaving.signal);
    await until(() => runs.length === 1, 'the first delegate running');
    const queuedClient = new AbortController();
    const queued = addRequest('leaves');
    const queuedAnswer = supervisor.handle(queued, queuedClient.signal);
    leaving.abort();
    queuedClient.abort();
    firstRun.open();
    await expect(answer).rejects.toMatchObject({ code: 11, message: expect.stringContaining('disconnected before the answer') });
    await expect(queuedAnswer).rejects.toMatchObject({ code: 11 });
    expect(runs).toEqual([`ADD ${add.containerId} n0`, `DEL ${add.containerId} n0`]);
    expect(existsSync(join(dir, add.containerId))).toBe(false);
  });

  it('a request past its deadline stops at the next step with CNI error 11', async () => {
    const firstRun = gate();
    const runner = {
      add: async (net: { name: string }) => {
        if (net.name === 'n0') await firstRun.wait;
        return { cniVersion: '1.0.0' };
      },
      del: () => Promise.resolve([]),
    } as unknown as Runner;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const supervisor = supervisorWith(runner, undefined, { deadlineMs: 5000 });
    const answer = supervisor.handle(addRequest('late', 2), STAYS);
    const settled = answer.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(5000);
    firstRun.open();
    expect(await settled).toMatchObject({ code: 11, message: expect.stringContaining('deadline of 5000 ms passed') });
  });
});
