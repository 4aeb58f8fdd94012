import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonLines, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { TestHost } from '../helpers/host.js';
import { bridgePlugin, multusStdin, reservations } from '../helpers/networks.js';
import { pidsByEnv } from '../helpers/proc.js';
import { podArgs, runShim } from '../helpers/shim.js';
import { until } from '../helpers/wait.js';

/**
 * The daemon killed with SIGKILL in the middle of an ADD, then restarted: the delegate cache,
 * written before any delegate ran and marking each as started before its plugin runs, lets the
 * runtime's follow-up DEL remove everything the ADD started, and nothing else.
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

  it('a DEL after SIGKILL while a later delegate\'s ADD is in flight DELs that delegate too, and never runs the one after it', async () => {
    await daemon?.stop();
    daemon = await startTestDaemon(host.dir, {});
    const ns = host.netns();
    const br = bridgePlugin(host, 81);
    const inFlight = join(host.dir, 'in-flight.jsonl');
    const never = join(host.dir, 'never-started.jsonl');
    // Static delegates (no Kubernetes): eth0 on a real bridge, net1 slow enough to kill the daemon during, net2.
    const delegates = [
      { cniVersion: '1.0.0', name: 'crash-cluster', ...br.plugin },
      { cniVersion: '1.0.0', name: 'crash-slow', type: 'cni-record', recordFile: inFlight, sleepMs: 3000 },
      { cniVersion: '1.0.0', name: 'crash-never', type: 'cni-record', recordFile: never },
    ];
    const containerId = 'crash2';
    const call = { containerId, netns: ns.path, args: podArgs('default', 'crashing-2'), stdin: multusStdin(daemon.socketDir, '', { delegates }) };
    const add = runShim({ ...call, command: 'ADD', env: { MULTUS_SHIM_TIMEOUT_MS: '20000' } });
    const slowAdd = (): number[] => pidsByEnv((env) => env.get('CNI_CONTAINERID') === containerId && env.get('CNI_IFNAME') === 'net1' && env.get('CNI_COMMAND') === 'ADD');
    await until(() => slowAdd().length > 0, 'net1\'s plugin running its ADD', 10_000);
    const cache = JSON.parse(readFileSync(join(daemon.cniDir, containerId), 'utf8')) as Array<{ Name: string; started: boolean }>;
    expect(cache.map((e) => [e.Name, e.started])).toEqual([['crash-cluster', true], ['crash-slow', true], ['crash-never', false]]);
    daemon.process.kill('SIGKILL');
    // The plugin outlives the daemon (it leads its own process group); end it before it records its ADD.
    for (const pid of slowAdd()) process.kill(-pid, 'SIGKILL');
    expect((await add).json).toMatchObject({ code: 11 });
    expect(host.inNetns(ns.name, 'link')).toContain('eth0');

    daemon = await startTestDaemon(host.dir, {});
    const del = await runShim({ ...call, command: 'DEL' });
    expect(del.code, del.stdout).toBe(0);
    expect(readJsonLines<{ env: Record<string, string> }>(inFlight).map((c) => c.env.CNI_COMMAND)).toEqual(['DEL']);
    expect(existsSync(never)).toBe(false);
    expect(host.inNetns(ns.name, 'link')).not.toContain('eth0');
    expect(reservations(br.ipamDir)).toEqual([]);
    expect(existsSync(join(daemon.cniDir, containerId))).toBe(false);
  });
});
