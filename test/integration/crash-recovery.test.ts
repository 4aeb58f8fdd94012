import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin, reservations } from '../helpers/networks.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * The daemon killed with SIGKILL in the middle of an ADD, then restarted: the delegate cache,
 * written before any delegate ran, lets the runtime's follow-up DEL remove everything.
 */
const host = new TestHost();
let daemon: TestDaemon | undefined;

afterAll(async () => {
  await daemon?.stop();
  host.cleanup();
});

describe('crash recovery', () => {
  it('a DEL after SIGKILL mid-ADD and a restart removes the interface, the IP and the caches', async () => {
    daemon = await startTestDaemon(host.dir, {});
    const ns = host.netns();
    const br = bridgePlugin(host, 80);
    const conf = join(daemon.confDir, 'crash.conflist');
    // bridge (real, leaves an interface and an IP) then a plugin slow enough to kill the daemon during.
    writeFileSync(conf, JSON.stringify({ cniVersion: '1.0.0', name: 'crash', plugins: [br.plugin, { type: 'cni-record', sleepMs: 3000 }] }));
    const call = { containerId: 'crash1', netns: ns.path, args: podArgs('default', 'crashing'), stdin: multusStdin(daemon.socketDir, conf) };
    const add = runShim({ ...call, command: 'ADD', env: { MULTUS_SHIM_TIMEOUT_MS: '20000' } });
    // host-local reserves the IP only after bridge made eth0: wait for both, or the kill may come between.
    await until(() => host.inNetns(ns.name, 'link').includes('eth0') && reservations(br.ipamDir).length === 1, 'eth0 and its IP reservation');
    expect(statSync(join(daemon.cniDir, 'crash1')).size).toBeGreaterThan(0);
    daemon.process.kill('SIGKILL');
    const failed = await add;
    expect(failed.code).toBe(1);
    expect(failed.json).toMatchObject({ code: 11 });
    expect(reservations(br.ipamDir)).toHaveLength(1);

    // A cache write the kill interrupted leaves its temp file; the next daemon removes it.
    mkdirSync(join(daemon.cniDir, 'results'), { recursive: true });
    const interrupted = join(daemon.cniDir, 'results', 'crash-crash1-eth0.tmp-0123456789ab');
    writeFileSync(interrupted, '{"kind":"cniCacheV1","conta');
    daemon = await startTestDaemon(host.dir, {});
    expect(existsSync(interrupted)).toBe(false);
    const del = await runShim({ ...call, command: 'DEL' });
    expect(del.code, del.stdout).toBe(0);
    expect(host.inNetns(ns.name, 'link')).not.toContain('eth0');
    expect(reservations(br.ipamDir)).toEqual([]);
    expect(existsSync(join(daemon.cniDir, 'crash1'))).toBe(false);
  });
});
