import { mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { Runner } from '../../src/cni/runner.js';
import { readMultusConf } from '../../src/config/multus-conf.js';
import { CniError } from '../../src/errors.js';
import type { CniRequest } from '../../src/server/request.js';
import { createSupervisor } from '../../src/supervisor/supervisor.js';

/** A runner whose ADD never finishes until released: enough to fill the supervisor. */
function blockingRunner(): { runner: Runner; release: () => void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const runner = { add: async () => { await gate; return { cniVersion: '1.0.0' }; } } as unknown as Runner;
  return { runner, release };
}

function addRequest(pod: string, cniDir: string): CniRequest {
  return {
    command: 'ADD',
    containerId: `${pod}cid`,
    netns: '/var/run/netns/x',
    ifname: 'eth0',
    pod: { namespace: 'ns', name: pod, uid: '', infraContainerId: '' },
    conf: readMultusConf({ cniVersion: '1.0.0', cniDir, delegates: [{ cniVersion: '1.0.0', name: 'n', type: 'loopback' }] }),
  };
}

/** Device paths that do not exist: these pods use no devices. */
const NO_DEVICES = { devices: { podResourcesSocket: '/nonexistent/kubelet.sock', checkpointFile: '/nonexistent/checkpoint' }, deviceInfoDir: '/nonexistent/devinfo' };

/** Cache dir for the requests; removed even when a test fails. */
const dir = mkdtempSync('/tmp/supervisor-test-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('supervisor', () => {
  it('refuses work past its in-flight bound with CNI error 11, at once', async () => {
    const { runner, release } = blockingRunner();
    const supervisor = createSupervisor({ maxInflight: 2, log: pino({ level: 'silent' }), context: () => ({ runner, log: pino({ level: 'silent' }), kube: undefined, netnsIp: () => Promise.resolve(), readinessTimeoutMs: 0, statusRetries: true, deleteAbandoned: () => undefined, ...NO_DEVICES }) });
    const first = [supervisor.handle(addRequest('a', dir)), supervisor.handle(addRequest('b', dir))];
    const refused = supervisor.handle(addRequest('c', dir));
    await expect(refused).rejects.toMatchObject({ code: 11 });
    await expect(refused).rejects.toBeInstanceOf(CniError);
    expect(supervisor.stats()).toEqual({ actors: 2, inflight: 2, queued: 2 });
    release();
    await Promise.all(first);
    // The answer comes first; the job's bookkeeping (and any follow-up) completes right after.
    await new Promise((r) => setImmediate(r));
    expect(supervisor.stats()).toEqual({ actors: 0, inflight: 0, queued: 0 });
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
    const supervisor = createSupervisor({ maxInflight: 10, log, context: () => ({ runner, log, kube: undefined, netnsIp: () => Promise.resolve(), readinessTimeoutMs: 0, statusRetries: true, deleteAbandoned: () => undefined, ...NO_DEVICES }) });
    const [crashed, fine] = await Promise.allSettled([supervisor.handle(addRequest('crashes', dir)), supervisor.handle(addRequest('fine', dir))]);
    expect(crashed.status).toBe('rejected');
    expect((crashed as PromiseRejectedResult).reason).toMatchObject({ code: 999, message: expect.stringContaining('cannot read properties of undefined') });
    expect(fine.status).toBe('fulfilled');
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'unexpected failure inside a pod actor' }));
    // The daemon goes on: the same pod is served again.
    await expect(supervisor.handle(addRequest('fine', dir))).resolves.toBeDefined();
    await new Promise((r) => setImmediate(r));
    expect(supervisor.stats().inflight).toBe(0);
  });
});
